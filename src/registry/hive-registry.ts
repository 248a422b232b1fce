import { randomBytes } from 'node:crypto';
import type { HiveCapabilities, HiveStatus } from '../domain/fleet';
import { isLive, LivenessRule, liveStatus } from '../domain/liveness';
import { CapacityIndex, CapacitySlot } from './capacity-index';
import { ReservationBook } from './reservations';
import type {
  AvailableResources,
  HeartbeatInput,
  HeartbeatOutcome,
  HeartbeatStamp,
  HiveView,
  LocatedWorker,
  Reservation,
  ReservationRequest,
  TrackedHive,
  WorkerReport,
} from './registry.types';
import { claimSameCapacity, computeResources, isOlderHeartbeat } from './usage';

const NONE: readonly WorkerReport[] = Object.freeze([]);
const NOT_APPLIED: HeartbeatOutcome = Object.freeze({ applied: false, cameOnline: false, addedWorkers: NONE, removedWorkers: NONE });
/** The common case: applied, the same workers as before. */
const APPLIED_QUIETLY: HeartbeatOutcome = Object.freeze({ applied: true, cameOnline: false, addedWorkers: NONE, removedWorkers: NONE });

/** Whether two reports name the same workers in the same order. */
function sameWorkers(previous: readonly WorkerReport[], next: readonly WorkerReport[]): boolean {
  if (previous.length !== next.length) return false;
  for (let i = 0; i < next.length; i++) if (previous[i].workerId !== next[i].workerId) return false;
  return true;
}

/**
 * Brings a kept report up to date with a new one of the same worker. The kept
 * object stays (it is long-lived; the new one is garbage at once), and so do
 * its strings where the text has not changed.
 */
function updateReport(kept: WorkerReport, next: WorkerReport): void {
  for (const key of REPORT_FIELDS) {
    if (kept[key] !== next[key]) (kept as unknown as Record<string, unknown>)[key] = next[key];
  }
}

/** The workers of one beat usually share one `last_heartbeat` text: keep one string for all of them, not one each. */
function shareLastHeartbeat(workers: readonly WorkerReport[]): void {
  for (let i = 1; i < workers.length; i++) {
    const previous = workers[i - 1].lastHeartbeat;
    if (workers[i].lastHeartbeat === previous) workers[i].lastHeartbeat = previous;
  }
}

/** Every field of a report: a Record, so that the compiler asks for a field added to WorkerReport here too. */
const EVERY_REPORT_FIELD: Record<keyof WorkerReport, true> = {
  workerId: true, modelId: true, state: true, backend: true, deviceId: true, device: true, vramBytes: true,
  ramBytes: true, url: true, healthStatus: true, lastHeartbeat: true, cpuPercent: true, gpuPercent: true,
};
const REPORT_FIELDS = Object.keys(EVERY_REPORT_FIELD) as (keyof WorkerReport)[];

class HiveEntry implements HiveView {
  lastHeartbeatAt: number | null = null;
  /** The last applied heartbeat's stamp; one object for the entry's life, updated in place. */
  lastStamp: HeartbeatStamp | null = null;
  workers: WorkerReport[] = [];
  workerIds = new Set<string>();
  readonly reservations = new Map<string, Reservation>();
  resources: AvailableResources;
  largestFreeCudaBytes = 0;
  largestFreeMetalBytes = 0;
  ramFreeBytes = 0;
  /** The status last announced (event and catalog write); starts as the catalog's. */
  announced: HiveStatus;
  /** This hive's slots in the capacity index, by position in `resources.devices`, and its host RAM slot. */
  deviceSlots: (CapacitySlot | null)[] = [];
  ramSlot: CapacitySlot | null = null;
  /** Neighbours in the registry's list of heard hives, least recently heard first. */
  heardBefore: HiveEntry | null = null;
  heardAfter: HiveEntry | null = null;
  inHeardList = false;

  constructor(
    readonly hiveId: string,
    public cordoned: boolean,
    public labels: Readonly<Record<string, string>>,
    public capabilities: HiveCapabilities | null,
    readonly statusAtStart: HiveStatus,
  ) {
    this.announced = statusAtStart;
    this.resources = computeResources(capabilities, [], []);
    this.summarise();
  }

  /** Copies the figures placement's checks read from `resources` onto the entry. */
  summarise(): void {
    let cuda = 0;
    let metal = 0;
    for (const device of this.resources.devices) {
      if (device.backend === 'cuda') cuda = Math.max(cuda, device.freeBytes);
      else metal = Math.max(metal, device.freeBytes);
    }
    this.largestFreeCudaBytes = cuda;
    this.largestFreeMetalBytes = metal;
    this.ramFreeBytes = this.resources.ram.freeBytes;
  }
}

/**
 * The live state of the fleet, one entry per registered hive: what placement
 * admits (cordon, labels, capabilities, as the catalog says), what heartbeats
 * report (workers, liveness), and what reservations hold. Usage is computed
 * when any of those change, and the capacity index is kept in step in one
 * place ({@link reindex}), so every reader sees the same figures.
 *
 * Rebuilt from the catalog and the next heartbeats after a restart. No I/O
 * and no clock: time-dependent methods take `now` (epoch ms, queen clock) and
 * first end the reservations expired by then. Methods are synchronous, so a
 * placement followed by `reserve` in the same tick cannot interleave with a
 * heartbeat. Objects handed in are kept as they are: do not change them afterwards.
 */
export class HiveRegistry {
  readonly liveness: LivenessRule;
  private readonly entries = new Map<string, HiveEntry>();
  private readonly reservationBook = new ReservationBook();
  private readonly index = new CapacityIndex();
  /** Which hive reported a worker, so a worker lookup does not scan the fleet. */
  private readonly hiveIdByWorkerId = new Map<string, string>();
  /**
   * Hives heard from since the start, least recently heard first, linked
   * through the entries themselves: a beat moves its hive to the end without
   * allocating, and a sweep reads only the stale ones at the head.
   */
  private leastRecentlyHeard: HiveEntry | null = null;
  private mostRecentlyHeard: HiveEntry | null = null;
  /** Hives the catalog held as online at the start that have not beaten since. */
  private readonly awaitingFirstBeat = new Set<HiveEntry>();

  constructor(heartbeatTimeoutMs: number, startedAt: number) {
    this.liveness = { heartbeatTimeoutMs, startedAt };
  }

  /** When the queen started listening: the start-up grace counts from here. */
  markStarted(now: number): void {
    this.liveness.startedAt = now;
  }

  // -- what the catalog says ---------------------------------------------------

  /** Starts tracking a registered hive, or refreshes what the catalog says of one already tracked. */
  track(hive: TrackedHive): void {
    const entry = this.entries.get(hive.id);
    if (entry === undefined) {
      const created = new HiveEntry(hive.id, hive.cordoned, hive.labels, hive.capabilities, hive.status);
      this.entries.set(hive.id, created);
      if (hive.status === 'online') this.awaitingFirstBeat.add(created);
      return;
    }
    this.setAdmission(hive.id, hive);
  }

  /** Cordon and labels as the catalog now holds them. */
  setAdmission(hiveId: string, admission: { cordoned: boolean; labels: Readonly<Record<string, string>> }): void {
    const entry = this.entry(hiveId);
    entry.labels = admission.labels;
    if (entry.cordoned === admission.cordoned) return;
    entry.cordoned = admission.cordoned;
    this.reindex(entry);
  }

  /** What the hive offers, as last reported or detected. */
  setCapabilities(hiveId: string, capabilities: HiveCapabilities): void {
    const entry = this.entry(hiveId);
    entry.capabilities = capabilities;
    this.refresh(entry);
  }

  /** Forgets a hive deleted from the catalog, with its workers and reservations. */
  forget(hiveId: string): boolean {
    const entry = this.entries.get(hiveId);
    if (entry === undefined) return false;
    for (const workerId of entry.workerIds) {
      if (this.hiveIdByWorkerId.get(workerId) === hiveId) this.hiveIdByWorkerId.delete(workerId);
    }
    for (const reservation of entry.reservations.values()) this.reservationBook.remove(reservation);
    entry.reservations.clear();
    this.entries.delete(hiveId);
    this.unlinkHeard(entry);
    this.awaitingFirstBeat.delete(entry);
    this.unindex(entry);
    return true;
  }

  // -- heartbeats and liveness -------------------------------------------------

  /**
   * Applies a heartbeat unless it is older than the last applied one (see
   * `isOlderHeartbeat`). If the last applied one was received more than a
   * timeout earlier, ordering starts again whatever the stamps say.
   */
  applyHeartbeat(hiveId: string, heartbeat: HeartbeatInput): HeartbeatOutcome {
    const entry = this.entry(hiveId);
    const now = heartbeat.receivedAt;
    this.advance(now);
    const timeoutMs = this.liveness.heartbeatTimeoutMs;
    const lastAt = entry.lastHeartbeatAt;
    const orderingReset = lastAt !== null && now - lastAt > timeoutMs;
    if (!orderingReset && lastAt !== null && isOlderHeartbeat(entry.lastStamp, lastAt, heartbeat.stamp, timeoutMs)) return NOT_APPLIED;

    const previousWorkers = entry.workers;
    const nextWorkers = heartbeat.workers;
    let changed = !claimSameCapacity(previousWorkers, nextWorkers);
    let addedWorkers = NONE;
    let removedWorkers = NONE;
    if (sameWorkers(previousWorkers, nextWorkers)) {
      // What real agents send nearly every time: the same workers, with new times and loads.
      for (let i = 0; i < nextWorkers.length; i++) updateReport(previousWorkers[i], nextWorkers[i]);
      shareLastHeartbeat(previousWorkers);
    } else {
      const previousIds = entry.workerIds;
      const nextIds = new Set(nextWorkers.map((worker) => worker.workerId));
      addedWorkers = nextWorkers.filter((worker) => !previousIds.has(worker.workerId));
      removedWorkers = previousWorkers.filter((worker) => !nextIds.has(worker.workerId));
      for (const worker of removedWorkers) {
        if (this.hiveIdByWorkerId.get(worker.workerId) === hiveId) this.hiveIdByWorkerId.delete(worker.workerId);
      }
      for (const worker of addedWorkers) this.hiveIdByWorkerId.set(worker.workerId, hiveId);
      entry.workers = nextWorkers;
      entry.workerIds = nextIds;
    }

    // The report now counts these workers' usage: their reservations must stop counting it too.
    if (entry.reservations.size > 0) {
      // Deleting the entry being visited is safe while iterating a Map; the hive is refreshed once, below.
      for (const reservation of entry.reservations.values()) {
        if (entry.workerIds.has(reservation.workerId)) {
          this.forgetReservation(entry, reservation);
          changed = true;
        }
      }
    }

    // Silent past the timeout counts as offline even before a sweep said so (a queen that does not lead
    // never sweeps for itself; any queen's sweep may run late).
    const cameOnline = entry.lastHeartbeatAt === null || entry.announced !== 'online' || orderingReset;
    entry.lastHeartbeatAt = now;
    if (entry.lastStamp === null) entry.lastStamp = { ...heartbeat.stamp };
    else {
      entry.lastStamp.sequence = heartbeat.stamp.sequence;
      entry.lastStamp.timestamp = heartbeat.stamp.timestamp;
    }
    entry.announced = 'online';
    if (cameOnline) this.awaitingFirstBeat.delete(entry);
    this.unlinkHeard(entry);
    this.appendHeard(entry);
    if (changed) this.refresh(entry);
    else if (cameOnline) this.reindex(entry);
    if (!cameOnline && addedWorkers === NONE && removedWorkers === NONE) return APPLIED_QUIETLY;
    return { applied: true, cameOnline, addedWorkers, removedWorkers };
  }

  /**
   * Announces offline every hive that the liveness rule now calls offline and
   * that was last announced online; returns their ids, each once per
   * transition. Costs what went stale, not the size of the fleet. They keep
   * their last worker list; their next applied heartbeat brings them back.
   */
  sweep(now: number): string[] {
    this.advance(now);
    const wentOffline: string[] = [];
    for (let entry = this.leastRecentlyHeard; entry !== null && !isLive(entry, this.liveness, now); entry = this.leastRecentlyHeard) {
      this.unlinkHeard(entry);
      if (this.announceOffline(entry)) wentOffline.push(entry.hiveId);
    }
    for (const entry of this.awaitingFirstBeat) {
      if (liveStatus(entry, this.liveness, now) !== 'offline') break;
      this.awaitingFirstBeat.delete(entry);
      if (this.announceOffline(entry)) wentOffline.push(entry.hiveId);
    }
    return wentOffline;
  }

  /** The hive's status by the liveness rule; undefined for a hive not tracked. */
  status(hiveId: string, now: number): HiveStatus | undefined {
    const entry = this.entries.get(hiveId);
    return entry && liveStatus(entry, this.liveness, now);
  }

  // -- reads -------------------------------------------------------------------

  /** One hive's live view at `now`. */
  view(hiveId: string, now: number): HiveView | undefined {
    this.advance(now);
    return this.entries.get(hiveId);
  }

  /** Every tracked hive's live view at `now`, in no particular order. */
  hives(now: number): IterableIterator<HiveView> {
    this.advance(now);
    return this.entries.values();
  }

  /** The capacity of schedulable hives at `now`, sorted for placement. */
  capacityIndex(now: number): CapacityIndex {
    this.advance(now);
    return this.index;
  }

  /** Ids of hives online at `now`, most recently heard first: it reads only those. */
  activeHiveIds(now: number): string[] {
    const active: string[] = [];
    for (let entry = this.mostRecentlyHeard; entry !== null && isLive(entry, this.liveness, now); entry = entry.heardBefore) {
      active.push(entry.hiveId);
    }
    return active;
  }

  /**
   * The hive that reported a worker, with its last report. Worker ids are expected to be unique
   * across the fleet; should two hives report the same id, the one that reported it last wins.
   */
  findWorker(workerId: string): LocatedWorker | undefined {
    const hiveId = this.hiveIdByWorkerId.get(workerId);
    if (hiveId === undefined) return undefined;
    const worker = this.entries.get(hiveId)?.workers.find((candidate) => candidate.workerId === workerId);
    return worker === undefined ? undefined : { hiveId, worker };
  }

  /** Reported workers (any state), optionally of one hive and/or one model. */
  listWorkers(filter: { hiveId?: string; modelId?: string } = {}): LocatedWorker[] {
    const located: LocatedWorker[] = [];
    const collect = (entry: HiveEntry): void => {
      for (const worker of entry.workers) {
        if (filter.modelId === undefined || worker.modelId === filter.modelId) located.push({ hiveId: entry.hiveId, worker });
      }
    };
    if (filter.hiveId !== undefined) {
      const entry = this.entries.get(filter.hiveId);
      if (entry !== undefined) collect(entry);
    } else {
      for (const entry of this.entries.values()) collect(entry);
    }
    return located;
  }

  // -- reservations ------------------------------------------------------------

  /**
   * Holds capacity for a worker being started, for `ttlMs`. Throws when the
   * hive is not tracked: placement only picks tracked hives, so that is a bug.
   */
  reserve(request: ReservationRequest, now: number, ttlMs: number): Reservation {
    const entry = this.entry(request.hiveId);
    this.advance(now);
    const reservation: Reservation = {
      ...request,
      id: `r-${randomBytes(6).toString('hex')}`,
      createdAt: now,
      expiresAt: now + ttlMs,
    };
    entry.reservations.set(reservation.id, reservation);
    this.reservationBook.add(reservation);
    this.refresh(entry);
    return reservation;
  }

  /**
   * Holds capacity another queen reserved (same id and expiry), unless it has expired, is held
   * already, its hive is not tracked, or the hive already reports the worker (its usage counts then).
   */
  adopt(reservation: Reservation, now: number): boolean {
    this.advance(now);
    const entry = this.entries.get(reservation.hiveId);
    if (entry === undefined || reservation.expiresAt <= now || this.reservationBook.get(reservation.id) !== undefined) return false;
    if (entry.workerIds.has(reservation.workerId)) return false;
    entry.reservations.set(reservation.id, reservation);
    this.reservationBook.add(reservation);
    this.refresh(entry);
    return true;
  }

  /** Ends a reservation (spawn refused, worker stopped); returns it, or undefined if it had already ended. */
  release(reservationId: string): Reservation | undefined {
    const reservation = this.reservationBook.get(reservationId);
    if (reservation === undefined) return undefined;
    const entry = this.entries.get(reservation.hiveId);
    if (entry) this.dropReservation(entry, reservation);
    else this.reservationBook.remove(reservation);
    return reservation;
  }

  /** Reservations still held at `now`. */
  reservations(now: number): IterableIterator<Reservation> {
    this.advance(now);
    return this.reservationBook.values();
  }

  reservationCount(now: number): number {
    this.advance(now);
    return this.reservationBook.size;
  }

  /** The reservation held for a worker at `now`, if any. */
  reservationOfWorker(workerId: string, now: number): Reservation | undefined {
    this.advance(now);
    return this.reservationBook.ofWorker(workerId);
  }

  // -- internals ---------------------------------------------------------------

  private entry(hiveId: string): HiveEntry {
    const entry = this.entries.get(hiveId);
    if (entry === undefined) throw new Error(`hive ${hiveId} is not tracked by the registry`);
    return entry;
  }

  /** Ends the reservations whose TTL has passed by `now` (a reservation stops counting at `expiresAt` itself). */
  private advance(now: number): void {
    for (let first = this.reservationBook.firstToExpire(); first !== undefined && first.expiresAt <= now; first = this.reservationBook.firstToExpire()) {
      const entry = this.entries.get(first.hiveId);
      if (entry) this.dropReservation(entry, first);
      else this.reservationBook.remove(first);
    }
  }

  private appendHeard(entry: HiveEntry): void {
    entry.heardBefore = this.mostRecentlyHeard;
    entry.heardAfter = null;
    if (this.mostRecentlyHeard) this.mostRecentlyHeard.heardAfter = entry;
    else this.leastRecentlyHeard = entry;
    this.mostRecentlyHeard = entry;
    entry.inHeardList = true;
  }

  private unlinkHeard(entry: HiveEntry): void {
    if (!entry.inHeardList) return;
    if (entry.heardBefore) entry.heardBefore.heardAfter = entry.heardAfter;
    else this.leastRecentlyHeard = entry.heardAfter;
    if (entry.heardAfter) entry.heardAfter.heardBefore = entry.heardBefore;
    else this.mostRecentlyHeard = entry.heardBefore;
    entry.heardBefore = entry.heardAfter = null;
    entry.inHeardList = false;
  }

  private dropReservation(entry: HiveEntry, reservation: Reservation): void {
    this.forgetReservation(entry, reservation);
    this.refresh(entry);
  }

  /** Ends a reservation without refreshing its hive, for a caller that refreshes it once after several. */
  private forgetReservation(entry: HiveEntry, reservation: Reservation): void {
    this.reservationBook.remove(reservation);
    entry.reservations.delete(reservation.id);
  }

  private announceOffline(entry: HiveEntry): boolean {
    if (entry.announced !== 'online') return false;
    entry.announced = 'offline';
    this.reindex(entry);
    return true;
  }

  /** Recomputes a hive's usage from its capabilities, workers and reservations, and reindexes it. */
  private refresh(entry: HiveEntry): void {
    entry.resources = computeResources(entry.capabilities, entry.workers, entry.reservations.values());
    entry.summarise();
    this.reindex(entry);
  }

  /**
   * Puts the hive's current free capacity in the index when it is
   * schedulable (heard from, announced online, not cordoned, capabilities
   * known), and takes it out otherwise. The only writer of the index.
   */
  private reindex(entry: HiveEntry): void {
    const schedulable =
      entry.lastHeartbeatAt !== null && entry.announced === 'online' && !entry.cordoned && entry.capabilities !== null;
    if (!schedulable) {
      this.unindex(entry);
      return;
    }
    const devices = entry.resources.devices;
    for (let i = 0; i < Math.max(devices.length, entry.deviceSlots.length); i++) {
      const device = devices[i];
      const slot = entry.deviceSlots[i] ?? null;
      if (slot !== null && device !== undefined && slot.free === device.freeBytes && slot.kind === device.backend) continue;
      if (slot !== null) this.index.remove(slot);
      entry.deviceSlots[i] = null;
      if (device === undefined) continue;
      const next: CapacitySlot = { free: device.freeBytes, hive: entry, device: i, kind: device.backend };
      this.index.insert(next);
      entry.deviceSlots[i] = next;
    }
    entry.deviceSlots.length = devices.length;
    const ramFree = entry.resources.ram.freeBytes;
    if (entry.ramSlot?.free !== ramFree) {
      if (entry.ramSlot) this.index.remove(entry.ramSlot);
      entry.ramSlot = { free: ramFree, hive: entry, device: -1, kind: 'ram' };
      this.index.insert(entry.ramSlot);
    }
  }

  private unindex(entry: HiveEntry): void {
    for (const slot of entry.deviceSlots) if (slot !== null) this.index.remove(slot);
    entry.deviceSlots = [];
    if (entry.ramSlot) this.index.remove(entry.ramSlot);
    entry.ramSlot = null;
  }
}
