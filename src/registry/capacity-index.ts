import BTree from 'sorted-btree';
import type { GpuBackend } from '../domain/fleet';
import type { HiveView } from './registry.types';

/** One GPU, or one hive's host RAM, as the index orders it. */
export interface CapacitySlot {
  /** Free bytes on the device (or of host RAM). */
  readonly free: number;
  readonly hive: HiveView;
  /** Position of the device in `hive.resources.devices`; -1 for host RAM. */
  readonly device: number;
  readonly kind: CapacityKind;
}

/** Which ordering to walk: the GPUs of one backend, or hosts by free RAM. */
export type CapacityKind = GpuBackend | 'ram';

/** Free bytes, then hive id, then device: the order placement ranks in, so the first fit found is the best. */
function compareSlots(a: CapacitySlot, b: CapacitySlot): number {
  if (a.free !== b.free) return a.free - b.free;
  const ha = a.hive.hiveId;
  const hb = b.hive.hiveId;
  if (ha !== hb) return ha < hb ? -1 : 1;
  return a.device - b.device;
}

const LOWEST_HIVE = { hiveId: '' } as HiveView;


/**
 * The free capacity of every schedulable hive (heard from, online, not
 * cordoned, capabilities known), kept sorted: free VRAM per GPU for each
 * backend, and free host RAM per hive. A placement walks from the size it
 * needs and stops at the first hive it admits, instead of scanning the fleet.
 * The registry is its only writer.
 */
export class CapacityIndex {
  private readonly trees: Record<CapacityKind, BTree<CapacitySlot, undefined>> = {
    cuda: new BTree(undefined, compareSlots),
    metal: new BTree(undefined, compareSlots),
    ram: new BTree(undefined, compareSlots),
  };

  insert(slot: CapacitySlot): void {
    this.trees[slot.kind].set(slot, undefined);
  }

  remove(slot: CapacitySlot): void {
    this.trees[slot.kind].delete(slot);
  }

  /**
   * Slots with at least `minFree` free, fewest free first (ties: lower hive id,
   * then lower device), until `visit` returns true; returns that slot, or null.
   */
  ascending(kind: CapacityKind, minFree: number, visit: (slot: CapacitySlot) => boolean): CapacitySlot | null {
    for (const slot of this.trees[kind].keys({ free: minFree, hive: LOWEST_HIVE, device: -1, kind })) {
      if (visit(slot)) return slot;
    }
    return null;
  }

  /** Slots with at least `minFree` free, most free first, until `visit` returns true; returns that slot, or null. */
  descending(kind: CapacityKind, minFree: number, visit: (slot: CapacitySlot) => boolean): CapacitySlot | null {
    const pair: (CapacitySlot | undefined)[] = [];
    for (const [slot] of this.trees[kind].entriesReversed(undefined, pair) as IterableIterator<[CapacitySlot, undefined]>) {
      if (slot.free < minFree) return null;
      if (visit(slot)) return slot;
    }
    return null;
  }
}
