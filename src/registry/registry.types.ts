/**
 * Runtime view of the fleet, as the registry holds it. Plain data: no Nest, no I/O.
 * Sizes are integer bytes; times are epoch milliseconds on the queen's clock
 * unless a name says otherwise.
 */
import type { GpuBackend, HiveCapabilities, WorkerBackend, WorkerState } from '../domain/fleet';
import type { LivenessFacts } from '../domain/liveness';

/** A worker as its hive last reported it, normalised. */
export interface WorkerReport {
  workerId: string;
  modelId: string | null;
  state: WorkerState;
  backend: WorkerBackend;
  /** GPU index for cuda/metal; null for cpu. */
  deviceId: number | null;
  /** Device key: `cuda:0`, `metal:1`, or `cpu`. */
  device: string;
  vramBytes: number;
  ramBytes: number;
  url: string | null;
  healthStatus: string | null;
  /** The worker's own last heartbeat, on the hive's clock (ISO string as sent). */
  lastHeartbeat: string | null;
  cpuPercent: number | null;
  gpuPercent: number | null;
}

/** Where a worker goes, as placement chose it. */
export interface DeviceChoice {
  backend: WorkerBackend;
  /** GPU index; null for a CPU worker. */
  deviceId: number | null;
  /** `cuda:1`, `metal:0`, or `cpu`. */
  device: string;
}

/** Capacity held for a worker between its placement and the heartbeat that shows it. */
export interface Reservation extends DeviceChoice {
  id: string;
  hiveId: string;
  workerId: string;
  modelId: string;
  vramBytes: number;
  ramBytes: number;
  createdAt: number;
  expiresAt: number;
}

/** What a reservation is asked for; the registry gives it its id and expiry. */
export type ReservationRequest = Omit<Reservation, 'id' | 'createdAt' | 'expiresAt'>;

/** What orders heartbeats: the hive's sequence when it sends one, else its timestamp. */
export interface HeartbeatStamp {
  sequence: number | null;
  /** The hive's own timestamp, epoch ms on the hive's clock. */
  timestamp: number;
}

export interface CapacityUsage {
  totalBytes: number;
  usedBytes: number;
  reservedBytes: number;
  /** total − used − reserved, never below 0. */
  freeBytes: number;
}

export interface DeviceUsage extends CapacityUsage {
  device: string;
  backend: GpuBackend;
  deviceId: number;
}

export interface AvailableResources {
  /** Sorted by backend, then index. */
  devices: DeviceUsage[];
  ram: CapacityUsage;
}

/** One heartbeat as the registry applies it (already authenticated, validated and normalised). */
export interface HeartbeatInput {
  stamp: HeartbeatStamp;
  workers: WorkerReport[];
  /** Queen receive time: liveness is measured on it, never on the hive's clock. */
  receivedAt: number;
}

/** What applying a heartbeat changed, for events, metrics and the catalog's coalesced update. */
export interface HeartbeatOutcome {
  /** False when the heartbeat was older than the last applied one: nothing changed at all. */
  applied: boolean;
  /** First applied heartbeat since the queen started, or the first since the hive was swept offline. */
  cameOnline: boolean;
  /** Workers (by workerId) in this report and not in the previous one. */
  addedWorkers: readonly WorkerReport[];
  /** Workers (by workerId) in the previous report and not in this one, as last reported. */
  removedWorkers: readonly WorkerReport[];
}

/** What the catalog says of a hive that the registry needs: what placement admits, and where liveness starts. */
export interface TrackedHive {
  id: string;
  cordoned: boolean;
  labels: Readonly<Record<string, string>>;
  capabilities: HiveCapabilities | null;
  /** The status stored when this queen started. */
  status: LivenessFacts['statusAtStart'];
}

/**
 * One hive as the registry holds it: catalog facts placement needs, and live
 * state from heartbeats and reservations. A live view, not a copy: read it
 * before the registry next changes and do not keep it.
 */
export interface HiveView extends LivenessFacts {
  readonly hiveId: string;
  readonly cordoned: boolean;
  readonly labels: Readonly<Record<string, string>>;
  readonly capabilities: HiveCapabilities | null;
  readonly lastStamp: HeartbeatStamp | null;
  readonly workers: readonly WorkerReport[];
  readonly reservations: ReadonlyMap<string, Reservation>;
  /** Usage at the time given to the registry call that returned this view. */
  readonly resources: AvailableResources;
  /**
   * The most free bytes on any one GPU of each backend (0 without one), and free host RAM, from
   * `resources`: on the view itself, so that naming ten thousand hives' reasons reads one object each.
   */
  readonly largestFreeCudaBytes: number;
  readonly largestFreeMetalBytes: number;
  readonly ramFreeBytes: number;
}

/** A reported worker together with the hive that reported it. */
export interface LocatedWorker {
  hiveId: string;
  worker: WorkerReport;
}
