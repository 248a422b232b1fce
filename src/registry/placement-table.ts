import type { AvailableResources, GpuBackend } from './registry.types';

/** GPUs per hive the table holds inline; a hive with more is read from its entry instead. */
export const TABLE_DEVICES = 8;
/** `deviceCount` of a hive whose GPUs do not fit in the table. */
export const DEVICES_OVERFLOW = 255;

const BACKEND_CODES: Record<GpuBackend, number> = { cuda: 1, metal: 2 };

export function backendCode(backend: GpuBackend): number {
  return BACKEND_CODES[backend];
}

/**
 * What placement reads of every hive, in flat typed arrays, one slot per hive.
 * A placement scans the whole fleet on every request; reading sequential
 * memory instead of following several objects per hive makes that scan cheap.
 * The registry keeps it in step with its entries.
 */
export class PlacementTable {
  size = 0;
  readonly hiveIds: string[] = [];
  online = new Uint8Array(0);
  /** Queen receive time of the last applied heartbeat; NaN when none. */
  lastHeartbeatAt = new Float64Array(0);
  hasCapabilities = new Uint8Array(0);
  /** The window of `now` in which the slot's figures hold (see HiveRegistry's usage cache). */
  validFrom = new Float64Array(0);
  validUntil = new Float64Array(0);
  ramFree = new Float64Array(0);
  deviceCount = new Uint8Array(0);
  /** TABLE_DEVICES entries per slot, in the order of the hive's sorted device list. */
  deviceFree = new Float64Array(0);
  deviceBackend = new Uint8Array(0);

  constructor(private capacity = 256) {
    this.allocate(capacity);
  }

  /** A new slot for a hive: offline, no heartbeat, no capabilities, figures to compute. */
  add(hiveId: string): number {
    if (this.size === this.capacity) this.allocate(this.capacity * 2);
    const slot = this.size++;
    this.hiveIds[slot] = hiveId;
    this.online[slot] = 0;
    this.lastHeartbeatAt[slot] = NaN;
    this.hasCapabilities[slot] = 0;
    this.ramFree[slot] = 0;
    this.deviceCount[slot] = 0;
    this.invalidate(slot);
    return slot;
  }

  /** Frees a slot by moving the last one into it; returns true when a hive moved there. */
  remove(slot: number): boolean {
    const last = --this.size;
    if (slot !== last) {
      this.hiveIds[slot] = this.hiveIds[last];
      for (const column of [this.online, this.lastHeartbeatAt, this.hasCapabilities, this.validFrom, this.validUntil, this.ramFree, this.deviceCount]) {
        column[slot] = column[last];
      }
      this.deviceFree.copyWithin(slot * TABLE_DEVICES, last * TABLE_DEVICES, (last + 1) * TABLE_DEVICES);
      this.deviceBackend.copyWithin(slot * TABLE_DEVICES, last * TABLE_DEVICES, (last + 1) * TABLE_DEVICES);
    }
    this.hiveIds.length = this.size;
    return slot !== last;
  }

  invalidate(slot: number): void {
    this.validFrom[slot] = Infinity;
    this.validUntil[slot] = -Infinity;
  }

  isValid(slot: number, now: number): boolean {
    return now >= this.validFrom[slot] && now < this.validUntil[slot];
  }

  writeResources(slot: number, resources: AvailableResources, validFrom: number, validUntil: number): void {
    this.validFrom[slot] = validFrom;
    this.validUntil[slot] = validUntil;
    this.ramFree[slot] = resources.ram.freeBytes;
    const devices = resources.devices;
    if (devices.length > TABLE_DEVICES) {
      this.deviceCount[slot] = DEVICES_OVERFLOW;
      return;
    }
    this.deviceCount[slot] = devices.length;
    const base = slot * TABLE_DEVICES;
    for (let i = 0; i < devices.length; i++) {
      this.deviceFree[base + i] = resources.deviceFreeBytes[i];
      this.deviceBackend[base + i] = backendCode(devices[i].backend);
    }
  }

  private allocate(capacity: number): void {
    const grow = <T extends Float64Array | Uint8Array>(old: T, make: (n: number) => T, per = 1): T => {
      const next = make(capacity * per);
      next.set(old);
      return next;
    };
    this.online = grow(this.online, (n) => new Uint8Array(n));
    this.lastHeartbeatAt = grow(this.lastHeartbeatAt, (n) => new Float64Array(n));
    this.hasCapabilities = grow(this.hasCapabilities, (n) => new Uint8Array(n));
    this.validFrom = grow(this.validFrom, (n) => new Float64Array(n));
    this.validUntil = grow(this.validUntil, (n) => new Float64Array(n));
    this.ramFree = grow(this.ramFree, (n) => new Float64Array(n));
    this.deviceCount = grow(this.deviceCount, (n) => new Uint8Array(n));
    this.deviceFree = grow(this.deviceFree, (n) => new Float64Array(n), TABLE_DEVICES);
    this.deviceBackend = grow(this.deviceBackend, (n) => new Uint8Array(n), TABLE_DEVICES);
    this.capacity = capacity;
  }
}
