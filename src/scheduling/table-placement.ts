import { backendCode, DEVICES_OVERFLOW, PlacementTable, TABLE_DEVICES } from '../registry/placement-table';
import type { HiveLiveView } from '../registry/registry.types';
import type { PlacementRequest } from './placement';

/** One hive that fits, as the table scan found it. */
export interface TableFit {
  slot: number;
  /** Index into the hive's sorted device list; -1 for a CPU worker (host RAM). */
  device: number;
  freeAfterBytes: number;
}

/**
 * The best `depth` hives for the request by capacity alone, best first, ranked
 * exactly as `rankPlacements` ranks them (bytes left free on the chosen device,
 * fewest for binpack, most for spread; then the lower hive id, then the lower
 * device). Online (heard within `timeoutMs`), known capabilities and fit are
 * checked here; the catalog's admission (cordon, labels, deletion) is the
 * caller's, on these few. Pins are not handled: use `rankPlacements` for them.
 */
export function bestFitsInTable(
  request: PlacementRequest,
  table: PlacementTable,
  entries: readonly HiveLiveView[],
  now: number,
  timeoutMs: number,
  depth: number,
): TableFit[] {
  const spread = request.strategy === 'spread';
  const needsGpu = request.vramBytes > 0 && request.backend !== 'cpu';
  const wanted = request.backend === undefined || request.backend === 'cpu' ? 0 : backendCode(request.backend);
  const { vramBytes, ramBytes } = request;
  const { online, lastHeartbeatAt, hasCapabilities, ramFree, deviceCount, deviceFree, deviceBackend, hiveIds } = table;
  const best: TableFit[] = [];

  const ranksBefore = (freeAfter: number, slot: number, other: TableFit): boolean =>
    freeAfter !== other.freeAfterBytes
      ? spread
        ? freeAfter > other.freeAfterBytes
        : freeAfter < other.freeAfterBytes
      : hiveIds[slot] < hiveIds[other.slot];

  for (let slot = 0; slot < table.size; slot++) {
    // `!(x <= t)` also refuses NaN: never heard from.
    if (online[slot] === 0 || !(now - lastHeartbeatAt[slot] <= timeoutMs) || hasCapabilities[slot] === 0) continue;
    if (ramFree[slot] < ramBytes) continue;
    let device = -1;
    let freeAfter: number;
    if (needsGpu) {
      const count = deviceCount[slot];
      let bestFree = NaN;
      if (count === DEVICES_OVERFLOW) {
        const { devices, deviceFreeBytes } = entries[slot].resources;
        for (let i = 0; i < devices.length; i++) {
          const free = deviceFreeBytes[i];
          if (free < vramBytes || (wanted !== 0 && backendCode(devices[i].backend) !== wanted)) continue;
          if (device === -1 || (spread ? free > bestFree : free < bestFree)) {
            device = i;
            bestFree = free;
          }
        }
      } else {
        const base = slot * TABLE_DEVICES;
        for (let i = 0; i < count; i++) {
          const free = deviceFree[base + i];
          if (free < vramBytes || (wanted !== 0 && deviceBackend[base + i] !== wanted)) continue;
          // Devices are sorted: on a tie the earlier (lower) one stays.
          if (device === -1 || (spread ? free > bestFree : free < bestFree)) {
            device = i;
            bestFree = free;
          }
        }
      }
      if (device === -1) continue;
      freeAfter = bestFree - vramBytes;
    } else {
      freeAfter = ramFree[slot] - ramBytes;
    }
    if (best.length === depth && !ranksBefore(freeAfter, slot, best[depth - 1])) continue;
    let position = best.length;
    while (position > 0 && ranksBefore(freeAfter, slot, best[position - 1])) position--;
    best.splice(position, 0, { slot, device, freeAfterBytes: freeAfter });
    if (best.length > depth) best.pop();
  }
  return best;
}
