/**
 * The model of one simulated hive: its GPUs and host memory, the workers it
 * runs (Loading, then Idle), and the heartbeat body it would send. No I/O:
 * hive-server.ts serves it over HTTP, queen-client.ts sends its heartbeats.
 */
import type { DevicesAnswer, HeartbeatAnswer, HeartbeatCapabilities, HeartbeatPayload, HeartbeatWorker, HiveWorkerBackend, HiveWorkerState, SpawnRequest } from './wire';

export const GIB = 2 ** 30;

export interface GpuSpec {
  name: string;
  vramBytes: number;
}

export interface SimulatedGpu extends GpuSpec {
  index: number;
  backend: 'cuda';
}

export interface SimulatedWorker {
  workerId: string;
  modelRef: string;
  backend: HiveWorkerBackend;
  /** GPU index for `cuda`, null for `cpu`. */
  deviceId: number | null;
  vramBytes: number;
  ramBytes: number;
  state: HiveWorkerState;
}

export interface ModelFootprint {
  vramBytes: number;
  ramBytes: number;
}

/**
 * When the heartbeat carries `capabilities`:
 * - `on-request`: on the first beat, and whenever the queen's last answer said
 *   `capabilities_required: true` (or the beat that carried them failed);
 * - `always`: on every beat;
 * - `never`: never, so the queen has to pull `GET /v1/devices`.
 */
export type CapabilitiesPolicy = 'on-request' | 'always' | 'never';

export interface HiveModelOptions {
  id: string;
  gpus: readonly GpuSpec[];
  cpuCores?: number;
  ramBytes?: number;
  /**
   * How long a spawned worker stays Loading before it turns Idle. `manual`: it stays
   * Loading until `finishLoading()` is called, so tests control time exactly.
   */
  loadDelayMs?: number | 'manual';
  capabilities?: CapabilitiesPolicy;
  /** The hive's own clock, for heartbeat timestamps (a hive's clock may be off). */
  now?: () => number;
  /** Footprint of a model when the spawn body does not say; defaults to `estimateModelFootprint`. */
  modelFootprint?: (modelRef: string) => ModelFootprint;
}

const DEFAULT_CPU_CORES = 16;
const DEFAULT_RAM_BYTES = 64 * GIB;
const DEFAULT_LOAD_DELAY_MS = 2000;

/** Weights in fp16 plus ~10% for KV cache and activations. */
const BYTES_PER_PARAMETER = 2;
const RUNTIME_OVERHEAD = 1.1;
/** When the model name carries no parameter count (e.g. `my-model`). */
const UNKNOWN_MODEL_VRAM_BYTES = 4 * GIB;
/** Host memory a GPU worker process needs besides the weights on the GPU. */
const GPU_WORKER_RAM_BYTES = 2 * GIB;

/**
 * Guesses a model's memory from the parameter count in its name (`llama-3-8b`,
 * `Qwen2.5-0.5B-Instruct`): the spawn body carries no size, and a hive that claimed
 * nothing would never fill up.
 */
export function estimateModelFootprint(modelRef: string): ModelFootprint {
  const billions = /(\d+(?:\.\d+)?)b(?![a-z])/i.exec(modelRef);
  const weightsBytes = billions
    ? Math.round(Number(billions[1]) * 1e9 * BYTES_PER_PARAMETER * RUNTIME_OVERHEAD)
    : UNKNOWN_MODEL_VRAM_BYTES;
  return { vramBytes: weightsBytes, ramBytes: GPU_WORKER_RAM_BYTES };
}

/** A refused hive API request: answered with `status` and `{ error, detail }`. */
export class HiveApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
  ) {
    super(detail);
  }
}

interface WorkerRecord extends SimulatedWorker {
  loadTimer: NodeJS.Timeout | null;
}

export class HiveModel {
  readonly id: string;
  readonly gpus: readonly SimulatedGpu[];
  readonly cpuCores: number;
  readonly ramBytes: number;

  private readonly loadDelayMs: number | 'manual';
  private readonly capabilitiesPolicy: CapabilitiesPolicy;
  protected readonly now: () => number;
  private readonly modelFootprint: (modelRef: string) => ModelFootprint;

  private readonly workers = new Map<string, WorkerRecord>();
  private sequence = 0;
  private capabilitiesWanted: boolean;
  private lastBodyCarriedCapabilities = false;

  constructor(options: HiveModelOptions) {
    this.id = options.id;
    this.gpus = options.gpus.map((gpu, index) => ({ ...gpu, index, backend: 'cuda' }));
    this.cpuCores = options.cpuCores ?? DEFAULT_CPU_CORES;
    this.ramBytes = options.ramBytes ?? DEFAULT_RAM_BYTES;
    this.loadDelayMs = options.loadDelayMs ?? DEFAULT_LOAD_DELAY_MS;
    this.capabilitiesPolicy = options.capabilities ?? 'on-request';
    this.now = options.now ?? Date.now;
    this.modelFootprint = options.modelFootprint ?? estimateModelFootprint;
    this.capabilitiesWanted = this.capabilitiesPolicy !== 'never';
  }

  /** Where the hive's API is reached; the HTTP server knows, the bare model does not. */
  get url(): string {
    return `http://hive.invalid/${this.id}`;
  }

  // -- workers -------------------------------------------------------------

  listWorkers(): SimulatedWorker[] {
    return [...this.workers.values()].map(({ loadTimer: _timer, ...worker }) => worker);
  }

  /** Turns Loading workers Idle now (one, or all when no id is given). */
  finishLoading(workerId?: string): void {
    for (const worker of this.workers.values()) {
      if (workerId === undefined || worker.workerId === workerId) this.markIdle(worker);
    }
  }

  /** Marks a worker Failed, as a hive reports a model process that crashed. */
  failWorker(workerId: string): void {
    const worker = this.findWorker(workerId);
    this.cancelLoading(worker);
    worker.state = 'Failed';
  }

  /** Starts a worker as `POST /v1/workers/spawn` asks, or refuses it with an HiveApiError. */
  spawn(body: unknown): Record<string, unknown> {
    const request = validateSpawnRequest(body);
    const worker = this.admit(request);
    this.workers.set(worker.workerId, worker);
    this.scheduleLoading(worker);
    return {
      worker_id: worker.workerId,
      state: worker.state,
      url: this.workerUrl(worker.workerId),
      backend: worker.backend,
      device: worker.deviceId,
      vram_bytes: worker.vramBytes,
      ram_bytes: worker.ramBytes,
    };
  }

  /** Stops and forgets a worker (`DELETE /v1/workers/{id}`). */
  stopWorker(workerId: string): Record<string, unknown> {
    const worker = this.findWorker(workerId);
    this.cancelLoading(worker);
    this.workers.delete(workerId);
    return { worker_id: workerId, state: 'Stopped' };
  }

  /** One worker as the hive API shows it. */
  wireWorker(workerId: string): HeartbeatWorker {
    return this.toWireWorker(this.findWorker(workerId), new Date(this.now()).toISOString());
  }

  wireWorkers(): HeartbeatWorker[] {
    const nowIso = new Date(this.now()).toISOString();
    return [...this.workers.values()].map((worker) => this.toWireWorker(worker, nowIso));
  }

  /** Cancels loading timers, so no timer outlives a closed hive. */
  protected cancelAllLoading(): void {
    for (const worker of this.workers.values()) this.cancelLoading(worker);
  }

  // -- what the hive reports ---------------------------------------------------

  capabilities(): HeartbeatCapabilities {
    return {
      cpu_cores: this.cpuCores,
      ram_bytes: this.ramBytes,
      gpus: this.gpus.map((gpu) => ({ index: gpu.index, name: gpu.name, vram_bytes: gpu.vramBytes, backend: gpu.backend })),
    };
  }

  /** `GET /v1/devices`, rbee's format (sizes in GiB). */
  devices(): DevicesAnswer {
    return {
      cpu: { cores: this.cpuCores, ram_gb: this.ramBytes / GIB },
      gpus: this.gpus.map((gpu) => ({ id: `gpu${gpu.index}`, name: gpu.name, vram_gb: gpu.vramBytes / GIB })),
    };
  }

  /** Builds the next heartbeat body; every call takes the next sequence number. */
  heartbeatBody(): HeartbeatPayload {
    this.sequence += 1;
    const nowIso = new Date(this.now()).toISOString();
    const includeCapabilities =
      this.capabilitiesPolicy === 'always' || (this.capabilitiesPolicy === 'on-request' && this.capabilitiesWanted);
    this.lastBodyCarriedCapabilities = includeCapabilities;
    if (this.capabilitiesPolicy === 'on-request') this.capabilitiesWanted = false;
    return {
      hive_id: this.id,
      timestamp: nowIso,
      sequence: this.sequence,
      ...(includeCapabilities ? { capabilities: this.capabilities() } : {}),
      workers: [...this.workers.values()].map((worker) => this.toWireWorker(worker, nowIso)),
    };
  }

  /** Feeds the queen's answer back, so the next body carries capabilities if asked. */
  recordHeartbeatAnswer(answer: Pick<HeartbeatAnswer, 'capabilities_required'>): void {
    if (answer.capabilities_required && this.capabilitiesPolicy === 'on-request') this.capabilitiesWanted = true;
  }

  /** The last beat did not arrive: if it carried capabilities, send them again. */
  recordHeartbeatFailure(): void {
    if (this.lastBodyCarriedCapabilities && this.capabilitiesPolicy === 'on-request') this.capabilitiesWanted = true;
  }

  // -- internals -------------------------------------------------------------

  /** Checks the spawn fits, as a real hive would fail to load a model that does not. */
  private admit(request: SpawnRequest): WorkerRecord {
    if (this.workers.has(request.worker_id)) {
      throw new HiveApiError(409, 'worker_exists', `worker ${request.worker_id} already exists`);
    }
    const footprint = this.modelFootprint(request.model_ref);
    let deviceId: number | null = null;
    let vramBytes = 0;
    let ramBytes = request.ram_bytes ?? footprint.ramBytes;
    if (request.backend === 'cuda') {
      deviceId = request.device ?? 0;
      const gpu = this.gpus[deviceId];
      if (!gpu) throw new HiveApiError(400, 'unknown_device', `no GPU with index ${deviceId}`);
      vramBytes = request.vram_bytes ?? footprint.vramBytes;
      const vramInUse = this.sumWorkers((worker) => (worker.deviceId === deviceId ? worker.vramBytes : 0));
      if (vramInUse + vramBytes > gpu.vramBytes) {
        throw new HiveApiError(409, 'insufficient_vram', `gpu${deviceId} has ${gpu.vramBytes - vramInUse} bytes free, ${vramBytes} asked`);
      }
    } else {
      // A CPU worker keeps its weights in host memory.
      ramBytes = request.ram_bytes ?? footprint.vramBytes + footprint.ramBytes;
    }
    const ramInUse = this.sumWorkers((worker) => worker.ramBytes);
    if (ramInUse + ramBytes > this.ramBytes) {
      throw new HiveApiError(409, 'insufficient_ram', `${this.ramBytes - ramInUse} bytes of RAM free, ${ramBytes} asked`);
    }
    return {
      workerId: request.worker_id,
      modelRef: request.model_ref,
      backend: request.backend,
      deviceId,
      vramBytes,
      ramBytes,
      state: 'Loading',
      loadTimer: null,
    };
  }

  private scheduleLoading(worker: WorkerRecord): void {
    if (this.loadDelayMs === 'manual') return;
    worker.loadTimer = setTimeout(() => this.markIdle(worker), this.loadDelayMs);
    // A loading model must not keep a finished test run or a stopping CLI alive.
    worker.loadTimer.unref();
  }

  private markIdle(worker: WorkerRecord): void {
    this.cancelLoading(worker);
    worker.state = 'Idle';
  }

  private cancelLoading(worker: WorkerRecord): void {
    if (worker.loadTimer) clearTimeout(worker.loadTimer);
    worker.loadTimer = null;
  }

  private findWorker(workerId: string): WorkerRecord {
    const worker = this.workers.get(workerId);
    if (!worker) throw new HiveApiError(404, 'worker_not_found', `no worker ${workerId}`);
    return worker;
  }

  private sumWorkers(bytesOf: (worker: WorkerRecord) => number): number {
    let total = 0;
    for (const worker of this.workers.values()) total += bytesOf(worker);
    return total;
  }

  private toWireWorker(worker: WorkerRecord, lastHeartbeat: string): HeartbeatWorker {
    const loading = worker.state === 'Loading';
    return {
      worker_id: worker.workerId,
      state: worker.state,
      last_heartbeat: lastHeartbeat,
      health_status: 'healthy',
      url: this.workerUrl(worker.workerId),
      model_id: worker.modelRef,
      backend: worker.backend,
      ...(worker.deviceId === null ? {} : { device_id: worker.deviceId }),
      vram_bytes: worker.vramBytes,
      ram_bytes: worker.ramBytes,
      // Loading reads weights from disk (CPU-bound); an idle worker does next to nothing.
      cpu_percent: loading ? 85 : 0.5,
      gpu_percent: loading && worker.backend === 'cuda' ? 12 : 0,
    };
  }

  private workerUrl(workerId: string): string {
    return `${this.url}/v1/workers/${encodeURIComponent(workerId)}`;
  }
}

function validateSpawnRequest(body: unknown): SpawnRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HiveApiError(400, 'invalid_body', 'body must be a JSON object');
  }
  const fields = body as Record<string, unknown>;
  const workerId = fields.worker_id;
  const modelRef = fields.model_ref;
  const backend = fields.backend;
  if (typeof workerId !== 'string' || workerId === '') {
    throw new HiveApiError(400, 'invalid_body', 'worker_id must be a non-empty string');
  }
  if (typeof modelRef !== 'string' || modelRef === '') {
    throw new HiveApiError(400, 'invalid_body', 'model_ref must be a non-empty string');
  }
  if (backend !== 'cuda' && backend !== 'cpu') {
    throw new HiveApiError(400, 'unsupported_backend', 'backend must be "cuda" or "cpu" on this hive');
  }
  return {
    worker_id: workerId,
    model_ref: modelRef,
    backend,
    device: optionalCount(fields, 'device'),
    vram_bytes: optionalCount(fields, 'vram_bytes'),
    ram_bytes: optionalCount(fields, 'ram_bytes'),
  };
}

/** An optional non-negative integer field. */
function optionalCount(fields: Record<string, unknown>, name: string): number | undefined {
  const value = fields[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new HiveApiError(400, 'invalid_body', `${name} must be a non-negative integer`);
  }
  return value;
}
