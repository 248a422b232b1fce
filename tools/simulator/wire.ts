/**
 * What a simulated hive and the queen say to each other, as on the wire
 * (snake_case): the hive API the queen calls, and the heartbeat the hive sends.
 */

export type HiveWorkerState = 'Loading' | 'Idle' | 'Failed';
export type HiveWorkerBackend = 'cuda' | 'cpu';

/** `POST /v1/workers/spawn` body. `vram_bytes`/`ram_bytes` are simulator extensions. */
export interface SpawnRequest {
  worker_id: string;
  model_ref: string;
  backend: HiveWorkerBackend;
  /** GPU index, as rbee's hive takes it. Ignored for `cpu`. */
  device?: number;
  vram_bytes?: number;
  ram_bytes?: number;
}

export interface HeartbeatGpu {
  index: number;
  name: string;
  vram_bytes: number;
  backend: 'cuda';
}

export interface HeartbeatCapabilities {
  cpu_cores: number;
  ram_bytes: number;
  gpus: HeartbeatGpu[];
}

export interface HeartbeatWorker {
  worker_id: string;
  state: HiveWorkerState;
  last_heartbeat: string;
  health_status: 'healthy';
  url: string;
  model_id: string;
  backend: HiveWorkerBackend;
  /** Present for GPU workers only: a CPU worker has no device index. */
  device_id?: number;
  vram_bytes: number;
  ram_bytes: number;
  cpu_percent: number;
  gpu_percent: number;
}

/** `POST /v1/heartbeat` body (API.md, compatible with rbee's HiveHeartbeatPayload). */
export interface HeartbeatPayload {
  hive_id: string;
  timestamp: string;
  sequence: number;
  capabilities?: HeartbeatCapabilities;
  workers: HeartbeatWorker[];
}

/** The queen's 200 answer to a heartbeat. */
export interface HeartbeatAnswer {
  acknowledged: boolean;
  applied: boolean;
  next_heartbeat_ms: number;
  capabilities_required: boolean;
}

/** `GET /v1/devices` answer, rbee's hive format (sizes in GiB). */
export interface DevicesAnswer {
  cpu: { cores: number; ram_gb: number };
  gpus: Array<{ id: string; name: string; vram_gb: number }>;
}

