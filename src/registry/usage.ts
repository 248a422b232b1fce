/**
 * Usage math and heartbeat ordering: pure functions over registry data, no state, no clock.
 */
import { compareGpus, GpuBackend, gpuDeviceKey, HiveCapabilities, WorkerBackend, WorkerState } from '../domain/fleet';
import type { AvailableResources, CapacityUsage, DeviceUsage, HeartbeatStamp, Reservation, WorkerReport } from './registry.types';

/** Whether a worker in this state still holds its VRAM and RAM (a stopped or failed one has released them). */
export function holdsCapacity(state: WorkerState): boolean {
  return state !== 'stopped' && state !== 'failed';
}

/** Capacity claimed on one hive by a worker or a reservation: both count the same way. */
interface CapacityClaim {
  backend: WorkerBackend;
  deviceId: number | null;
  vramBytes: number;
  ramBytes: number;
}

/**
 * Per-GPU and host-RAM usage of one hive.
 *
 * `reservations` must be the live ones. A claim on a GPU the capabilities do
 * not list still produces a device (total 0) so the over-use shows; a GPU
 * claim without a device index cannot be attributed and only counts its RAM.
 * Unknown capabilities give totals of 0.
 */
export function computeResources(
  capabilities: HiveCapabilities | null,
  workers: readonly WorkerReport[],
  reservations: Iterable<Reservation>,
): AvailableResources {
  const devicesByKey = new Map<string, DeviceUsage>();
  const deviceFor = (backend: GpuBackend, index: number): DeviceUsage => {
    const key = gpuDeviceKey(backend, index);
    let usage = devicesByKey.get(key);
    if (usage === undefined) {
      usage = { device: key, backend, deviceId: index, totalBytes: 0, usedBytes: 0, reservedBytes: 0, freeBytes: 0 };
      devicesByKey.set(key, usage);
    }
    return usage;
  };

  const ram: CapacityUsage = { totalBytes: capabilities?.ramBytes ?? 0, usedBytes: 0, reservedBytes: 0, freeBytes: 0 };
  for (const gpu of capabilities?.gpus ?? []) {
    deviceFor(gpu.backend, gpu.index).totalBytes += gpu.vramBytes;
  }

  const addClaim = (claim: CapacityClaim, field: 'usedBytes' | 'reservedBytes'): void => {
    ram[field] += claim.ramBytes;
    if (claim.backend !== 'cpu' && claim.deviceId !== null) {
      deviceFor(claim.backend, claim.deviceId)[field] += claim.vramBytes;
    }
  };
  for (const worker of workers) {
    if (holdsCapacity(worker.state)) addClaim(worker, 'usedBytes');
  }
  for (const reservation of reservations) addClaim(reservation, 'reservedBytes');

  const devices = [...devicesByKey.values()];
  for (const usage of devices) settleFree(usage);
  settleFree(ram);
  devices.sort((a, b) => compareGpus({ backend: a.backend, index: a.deviceId }, { backend: b.backend, index: b.deviceId }));
  for (const usage of devices) Object.freeze(usage);
  return Object.freeze({ devices, ram: Object.freeze(ram) });
}

function settleFree(usage: CapacityUsage): void {
  usage.freeBytes = Math.max(0, usage.totalBytes - usage.usedBytes - usage.reservedBytes);
}

/**
 * Whether `next` is older than the last applied heartbeat (received by the
 * queen at `lastReceivedAt`), and so must not be applied: a late or replayed beat is refused, but a hive that keeps beating
 * is never wedged.
 *
 * - Both carry a sequence: a lower one is older, unless the hive's timestamp
 *   moved forward all the same (the agent restarted and counts from the start
 *   again; a late beat has an earlier timestamp too). A clock that is off by
 *   a constant amount does not matter: only the hive's own times are compared.
 * - Otherwise the hive's timestamps are compared, except that a timestamp more
 *   than `skewToleranceMs` ahead of the queen's clock when it arrived does not
 *   hold back the next one: one beat from a clock far ahead costs nothing.
 * - Equal is not older (a resend is harmless).
 */
export function isOlderHeartbeat(
  last: HeartbeatStamp | null,
  lastReceivedAt: number,
  next: HeartbeatStamp,
  skewToleranceMs: number,
): boolean {
  if (last === null) return false;
  if (last.sequence !== null && next.sequence !== null) {
    if (next.sequence >= last.sequence) return false;
    return next.timestamp <= last.timestamp;
  }
  if (last.timestamp - lastReceivedAt > skewToleranceMs) return false;
  return next.timestamp < last.timestamp;
}

/**
 * Whether two worker reports claim exactly the same capacity, so usage need not be recomputed.
 * Order-sensitive on purpose: hives report in a stable order, and a reorder only costs a recompute.
 */
export function claimSameCapacity(previous: readonly WorkerReport[], next: readonly WorkerReport[]): boolean {
  if (previous.length !== next.length) return false;
  for (let i = 0; i < next.length; i++) {
    const a = previous[i];
    const b = next[i];
    if (
      a.backend !== b.backend ||
      a.deviceId !== b.deviceId ||
      a.vramBytes !== b.vramBytes ||
      a.ramBytes !== b.ramBytes ||
      holdsCapacity(a.state) !== holdsCapacity(b.state)
    ) {
      return false;
    }
  }
  return true;
}
