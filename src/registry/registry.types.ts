/**
 * Runtime view of the fleet, as the registry holds it. Plain data: no Nest, no I/O.
 * Sizes are integer bytes; times are epoch milliseconds on the queen's clock
 * unless a name says otherwise.
 */

export const GPU_BACKENDS = ['cuda', 'metal'] as const;
export type GpuBackend = (typeof GPU_BACKENDS)[number];
export type WorkerBackend = GpuBackend | 'cpu';

export const WORKER_STATES = [
  'starting',
  'loading',
  'idle',
  'ready',
  'busy',
  'stopping',
  'stopped',
  'failed',
] as const;
export type WorkerState = (typeof WORKER_STATES)[number];

export interface GpuCapability {
  index: number;
  name: string;
  vramBytes: number;
  backend: GpuBackend;
}

export interface HiveCapabilities {
  cpuCores: number;
  ramBytes: number;
  gpus: GpuCapability[];
}

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

/** Capacity held for a worker between its placement and the heartbeat that shows it. */
export interface Reservation {
  id: string;
  hiveId: string;
  workerId: string;
  modelId: string;
  backend: WorkerBackend;
  deviceId: number | null;
  device: string;
  vramBytes: number;
  ramBytes: number;
  createdAt: number;
  expiresAt: number;
}

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
  /**
   * `freeBytes` of each entry of `devices`, in the same order, packed: placement reads every
   * device of the fleet per decision, and one heap object per device made that scan 2–3× slower.
   */
  deviceFreeBytes: Float64Array;
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
  /** First applied heartbeat ever, or the first since the hive was swept offline. */
  cameOnline: boolean;
  /** Workers (by workerId) in this report and not in the previous one. */
  addedWorkers: WorkerReport[];
  /** Workers (by workerId) in the previous report and not in this one, as last reported. */
  removedWorkers: WorkerReport[];
  /** Reservations ended because their worker now appears in the report. */
  fulfilledReservations: Reservation[];
}

/** Runtime state of one hive, as `GET /v1/hives/{id}/state` needs it (usage comes separately, it depends on `now`). */
export interface HiveRuntimeView {
  hiveId: string;
  online: boolean;
  /** Queen receive time of the last applied heartbeat; null when none since the queen started. */
  lastHeartbeatAt: number | null;
  lastStamp: HeartbeatStamp | null;
  capabilities: HiveCapabilities | null;
  workers: readonly WorkerReport[];
  /** Every reservation still held, including expired ones the sweep has not removed yet. */
  reservations: Reservation[];
}

/**
 * What the scheduler reads per hive during a placement scan. A live view into the registry,
 * not a copy: read it during the iteration that produced it and do not keep it.
 */
export interface HiveLiveView {
  readonly hiveId: string;
  readonly online: boolean;
  /** Queen receive time of the last applied heartbeat; null when none since the queen started. */
  readonly lastHeartbeatAt: number | null;
  readonly capabilities: HiveCapabilities | null;
  /** Usage as of the `now` given to the call that produced this view. Shared with the cache: read only. */
  readonly resources: AvailableResources;
}

/** A reported worker together with the hive that reported it. */
export interface LocatedWorker {
  hiveId: string;
  worker: WorkerReport;
}
