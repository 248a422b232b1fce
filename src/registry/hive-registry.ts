import { Injectable } from '@nestjs/common';
import {
  AvailableResources,
  HeartbeatInput,
  HeartbeatOutcome,
  HeartbeatStamp,
  HiveCapabilities,
  HiveLiveView,
  HiveRuntimeView,
  LocatedWorker,
  Reservation,
  WorkerReport,
} from './registry.types';
import { PlacementTable } from './placement-table';
import { claimSameCapacity, computeResources, isOlderHeartbeat, offerSameCapacity } from './usage';

/** Placeholder until the first computation; its empty validity window forces that computation. */
const NOT_COMPUTED = freezeResources(computeResources(null, [], []));

class HiveEntry implements HiveLiveView {
  online = false;
  lastHeartbeatAt: number | null = null;
  lastStamp: HeartbeatStamp | null = null;
  capabilities: HiveCapabilities | null = null;
  workers: WorkerReport[] = [];
  workerIds = new Set<string>();
  readonly reservations = new Map<string, Reservation>();
  /**
   * Usage cache, valid while `now` is in [resourcesValidFrom, resourcesValidUntil): the window
   * in which the same reservations are live (after the latest expired one's expiry, before the
   * earliest live one's). Any change to workers, capacity or reservations empties the window.
   */
  resources = NOT_COMPUTED;
  resourcesValidFrom = Infinity;
  resourcesValidUntil = -Infinity;

  constructor(
    readonly hiveId: string,
    /** Its row in the registry's PlacementTable; moves when another hive is removed. */
    public slot: number,
  ) {}
}

/** A reservation stops counting at `expiresAt` itself: its TTL has passed by then. */
function isExpired(reservation: Reservation, now: number): boolean {
  return reservation.expiresAt <= now;
}

/**
 * In-memory runtime state of the fleet: one entry per hive, keyed by hive id. Rebuilt from
 * heartbeats after a restart. No I/O and no clock: time-dependent methods take `now`
 * (epoch ms, queen clock). Methods are synchronous, so a placement followed by `reserve`
 * in the same tick cannot interleave with a heartbeat.
 *
 * Objects handed in (worker lists, capabilities) are kept as they are: do not mutate them
 * afterwards. Usage returned is shared with the cache: read it, never change it.
 */
@Injectable()
export class HiveRegistry {
  private readonly hives = new Map<string, HiveEntry>();
  /** Entries by PlacementTable slot. */
  private readonly entriesBySlot: HiveEntry[] = [];
  private readonly table = new PlacementTable();
  private readonly reservationsById = new Map<string, Reservation>();
  /** Which hive reported a worker, so a worker lookup does not scan the fleet. */
  private readonly hiveIdByWorkerId = new Map<string, string>();

  /**
   * Applies a heartbeat unless it is older than the last applied one (see `isOlderHeartbeat`).
   * If the last applied heartbeat was received more than `staleAfterMs` before this one, the
   * ordering is reset and it is applied anyway: a restarted hive agent starts its sequence again.
   * Creates the entry for a hive never seen.
   */
  applyHeartbeat(hiveId: string, heartbeat: HeartbeatInput, staleAfterMs: number): HeartbeatOutcome {
    const entry = this.entryFor(hiveId);
    const orderingReset =
      entry.lastHeartbeatAt !== null && heartbeat.receivedAt - entry.lastHeartbeatAt > staleAfterMs;
    if (!orderingReset && isOlderHeartbeat(entry.lastStamp, heartbeat.stamp)) {
      return { applied: false, cameOnline: false, addedWorkers: [], removedWorkers: [], fulfilledReservations: [] };
    }

    const previousWorkers = entry.workers;
    const previousIds = entry.workerIds;
    const nextWorkers = heartbeat.workers;
    const nextIds = new Set(nextWorkers.map((worker) => worker.workerId));
    const addedWorkers = nextWorkers.filter((worker) => !previousIds.has(worker.workerId));
    const removedWorkers = previousWorkers.filter((worker) => !nextIds.has(worker.workerId));
    for (const worker of removedWorkers) {
      if (this.hiveIdByWorkerId.get(worker.workerId) === hiveId) this.hiveIdByWorkerId.delete(worker.workerId);
    }
    for (const worker of addedWorkers) this.hiveIdByWorkerId.set(worker.workerId, hiveId);

    // The report now counts these workers' usage; their reservations must stop counting it too.
    const fulfilledReservations: Reservation[] = [];
    for (const reservation of entry.reservations.values()) {
      if (nextIds.has(reservation.workerId)) fulfilledReservations.push(reservation);
    }
    for (const reservation of fulfilledReservations) this.dropReservation(reservation);

    if (!claimSameCapacity(previousWorkers, nextWorkers)) this.invalidateResources(entry);
    entry.workers = nextWorkers;
    entry.workerIds = nextIds;
    entry.lastHeartbeatAt = heartbeat.receivedAt;
    entry.lastStamp = heartbeat.stamp;
    const cameOnline = !entry.online;
    entry.online = true;
    this.table.online[entry.slot] = 1;
    this.table.lastHeartbeatAt[entry.slot] = heartbeat.receivedAt;
    return { applied: true, cameOnline, addedWorkers, removedWorkers, fulfilledReservations };
  }

  /** Records what the hive offers (null: unknown). Creates the entry if absent, without making it online. */
  setCapabilities(hiveId: string, capabilities: HiveCapabilities | null): void {
    const entry = this.entryFor(hiveId);
    // Hives may resend identical capabilities on every beat; keep the usage cache then.
    if (!offerSameCapacity(entry.capabilities, capabilities)) this.invalidateResources(entry);
    entry.capabilities = capabilities;
    this.table.hasCapabilities[entry.slot] = capabilities === null ? 0 : 1;
  }

  /** Known capabilities; null when unknown or when the hive is not in the registry. */
  getCapabilities(hiveId: string): HiveCapabilities | null {
    return this.hives.get(hiveId)?.capabilities ?? null;
  }

  getHiveState(hiveId: string): HiveRuntimeView | undefined {
    const entry = this.hives.get(hiveId);
    if (entry === undefined) return undefined;
    return {
      hiveId,
      online: entry.online,
      lastHeartbeatAt: entry.lastHeartbeatAt,
      lastStamp: entry.lastStamp,
      capabilities: entry.capabilities,
      workers: entry.workers,
      reservations: [...entry.reservations.values()],
    };
  }

  /** Per-GPU and RAM usage at `now` (expired reservations do not count); undefined for an unknown hive. */
  getAvailableResources(hiveId: string, now: number): AvailableResources | undefined {
    const entry = this.hives.get(hiveId);
    return entry === undefined ? undefined : this.refreshResources(entry, now);
  }

  /** The scheduler's per-hive read, without copying: see `HiveLiveView`. */
  liveView(hiveId: string, now: number): HiveLiveView | undefined {
    const entry = this.hives.get(hiveId);
    if (entry === undefined) return undefined;
    this.refreshResources(entry, now);
    return entry;
  }

  /** Every hive's live view, in insertion order, without copying the fleet. */
  *entries(now: number): IterableIterator<HiveLiveView> {
    for (const entry of this.hives.values()) {
      this.refreshResources(entry, now);
      yield entry;
    }
  }

  hiveIds(): IterableIterator<string> {
    return this.hives.keys();
  }

  /** Hives whose last applied heartbeat was received at most `maxAgeMs` before `now`. */
  listActiveHives(maxAgeMs: number, now: number): string[] {
    const active: string[] = [];
    for (const entry of this.hives.values()) {
      if (entry.lastHeartbeatAt !== null && now - entry.lastHeartbeatAt <= maxAgeMs) active.push(entry.hiveId);
    }
    return active;
  }

  isOnline(hiveId: string): boolean {
    return this.hives.get(hiveId)?.online ?? false;
  }

  /**
   * Marks offline every online hive silent for more than `timeoutMs` and returns their ids,
   * each once per transition. They keep their last worker list; their next applied heartbeat
   * reports `cameOnline` again.
   */
  sweepOffline(now: number, timeoutMs: number): string[] {
    const wentOffline: string[] = [];
    for (const entry of this.hives.values()) {
      if (entry.online && entry.lastHeartbeatAt !== null && now - entry.lastHeartbeatAt > timeoutMs) {
        entry.online = false;
        this.table.online[entry.slot] = 0;
        wentOffline.push(entry.hiveId);
      }
    }
    return wentOffline;
  }

  /**
   * Holds capacity for a worker being started. The registry keeps a copy. Throws when the hive
   * is not in the registry or the id is taken: both are scheduler bugs, not conditions to absorb.
   */
  reserve(reservation: Reservation): void {
    const entry = this.hives.get(reservation.hiveId);
    if (entry === undefined) throw new Error(`cannot reserve on hive ${reservation.hiveId}: not in the registry`);
    if (this.reservationsById.has(reservation.id)) throw new Error(`reservation ${reservation.id} already exists`);
    const held = { ...reservation };
    entry.reservations.set(held.id, held);
    this.reservationsById.set(held.id, held);
    this.invalidateResources(entry);
  }

  /** Ends a reservation (spawn refused, cancelled); returns it, or undefined if it had already ended. */
  releaseReservation(reservationId: string): Reservation | undefined {
    const reservation = this.reservationsById.get(reservationId);
    if (reservation !== undefined) this.dropReservation(reservation);
    return reservation;
  }

  /** A held reservation, expired or not (until `expireReservations` removes it). */
  findReservation(reservationId: string): Reservation | undefined {
    return this.reservationsById.get(reservationId);
  }

  /** Reservations still counting at `now`. */
  listReservations(now: number): Reservation[] {
    const live: Reservation[] = [];
    for (const reservation of this.reservationsById.values()) {
      if (!isExpired(reservation, now)) live.push(reservation);
    }
    return live;
  }

  /** Removes and returns the reservations whose TTL has passed at `now`. */
  expireReservations(now: number): Reservation[] {
    const expired: Reservation[] = [];
    for (const reservation of this.reservationsById.values()) {
      if (isExpired(reservation, now)) expired.push(reservation);
    }
    for (const reservation of expired) this.releaseReservation(reservation.id);
    return expired;
  }

  /**
   * The hive that reported a worker, with its last report. Worker ids are expected to be unique
   * across the fleet; should two hives report the same id, the one that reported it last wins.
   */
  findWorker(workerId: string): LocatedWorker | undefined {
    const hiveId = this.hiveIdByWorkerId.get(workerId);
    if (hiveId === undefined) return undefined;
    const worker = this.hives.get(hiveId)?.workers.find((candidate) => candidate.workerId === workerId);
    return worker === undefined ? undefined : { hiveId, worker };
  }

  /** Reported workers (any state), optionally of one hive and/or one model. */
  listWorkers(filter: { hiveId?: string; modelId?: string } = {}): LocatedWorker[] {
    const located: LocatedWorker[] = [];
    const collect = (entry: HiveEntry): void => {
      for (const worker of entry.workers) {
        if (filter.modelId === undefined || worker.modelId === filter.modelId) {
          located.push({ hiveId: entry.hiveId, worker });
        }
      }
    };
    if (filter.hiveId !== undefined) {
      const entry = this.hives.get(filter.hiveId);
      if (entry !== undefined) collect(entry);
    } else {
      for (const entry of this.hives.values()) collect(entry);
    }
    return located;
  }

  /** Forgets a hive with its workers and reservations (hive deleted from the catalog). */
  removeHive(hiveId: string): boolean {
    const entry = this.hives.get(hiveId);
    if (entry === undefined) return false;
    for (const workerId of entry.workerIds) {
      if (this.hiveIdByWorkerId.get(workerId) === hiveId) this.hiveIdByWorkerId.delete(workerId);
    }
    for (const reservationId of entry.reservations.keys()) this.reservationsById.delete(reservationId);
    this.hives.delete(hiveId);
    const last = this.entriesBySlot.pop()!;
    if (this.table.remove(entry.slot)) {
      last.slot = entry.slot;
      this.entriesBySlot[entry.slot] = last;
    }
    return true;
  }

  /**
   * The placement table with every hive's figures current at `now`, and the entries by slot
   * (for what the table does not hold: device names, hives with many GPUs). Read both before
   * the registry next changes.
   */
  placementTable(now: number): { table: PlacementTable; entries: readonly HiveLiveView[] } {
    const table = this.table;
    for (let slot = 0; slot < table.size; slot++) {
      if (!table.isValid(slot, now)) this.refreshResources(this.entriesBySlot[slot], now);
    }
    return { table, entries: this.entriesBySlot };
  }

  private entryFor(hiveId: string): HiveEntry {
    let entry = this.hives.get(hiveId);
    if (entry === undefined) {
      entry = new HiveEntry(hiveId, this.table.add(hiveId));
      this.entriesBySlot[entry.slot] = entry;
      this.hives.set(hiveId, entry);
    }
    return entry;
  }

  private invalidateResources(entry: HiveEntry): void {
    entry.resourcesValidFrom = Infinity;
    entry.resourcesValidUntil = -Infinity;
    this.table.invalidate(entry.slot);
  }

  private dropReservation(reservation: Reservation): void {
    this.reservationsById.delete(reservation.id);
    const entry = this.hives.get(reservation.hiveId);
    if (entry === undefined) return;
    entry.reservations.delete(reservation.id);
    this.invalidateResources(entry);
  }

  private refreshResources(entry: HiveEntry, now: number): AvailableResources {
    if (now >= entry.resourcesValidFrom && now < entry.resourcesValidUntil) return entry.resources;
    const live: Reservation[] = [];
    let validFrom = -Infinity;
    let validUntil = Infinity;
    for (const reservation of entry.reservations.values()) {
      if (isExpired(reservation, now)) {
        validFrom = Math.max(validFrom, reservation.expiresAt);
      } else {
        live.push(reservation);
        validUntil = Math.min(validUntil, reservation.expiresAt);
      }
    }
    entry.resources = freezeResources(computeResources(entry.capabilities, entry.workers, live));
    entry.resourcesValidFrom = validFrom;
    entry.resourcesValidUntil = validUntil;
    this.table.writeResources(entry.slot, entry.resources, validFrom, validUntil);
    return entry.resources;
  }
}

/**
 * Freezes the usage figures shared through the cache. The device list stays unfrozen (V8
 * iterates frozen arrays several times slower) and typed arrays cannot be frozen.
 */
function freezeResources(resources: AvailableResources): AvailableResources {
  for (const device of resources.devices) Object.freeze(device);
  Object.freeze(resources.ram);
  return resources;
}
