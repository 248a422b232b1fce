/**
 * A simulated hive: what rbee's hive agent does, minus the GPUs.
 *
 * It serves the hive API the queen calls (spawn, delete, devices) over real HTTP on
 * loopback, keeps an in-memory list of workers that go Loading → Idle, and builds the
 * heartbeat body of API.md. It never sends anything itself: the queen client (or a
 * test) decides when to beat. Failure modes can be switched at runtime so the queen's
 * error paths can be exercised: spawn 500, spawn hang, slow answers, port closed,
 * heartbeats stopped.
 */
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';

export const GIB = 2 ** 30;

/** Simulated hives only ever listen on loopback. */
export const LOOPBACK_HOST = '127.0.0.1';

/** Spawn bodies are tiny; anything bigger is a client bug, not something to buffer. */
const MAX_REQUEST_BODY_BYTES = 64 * 1024;

// ---------------------------------------------------------------------------
// Wire types (snake_case, as on the wire)
// ---------------------------------------------------------------------------

export type HiveWorkerState = 'Loading' | 'Idle';
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

// ---------------------------------------------------------------------------
// Model
// ---------------------------------------------------------------------------

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
 * What a spawn does:
 * - `ok`: answer 200 and start loading;
 * - `error`: answer 500 and start nothing;
 * - `hang`: never answer (the connection stays open until the hive stops), start nothing.
 */
export type SpawnFault = 'ok' | 'error' | 'hang';

export interface HiveFaults {
  spawn: SpawnFault;
  /** Added before every answer of the hive API (0 = answer at once). */
  responseDelayMs: number;
  /** A silent hive: its queen client sends no heartbeats while this is set. */
  heartbeatsStopped: boolean;
}

/**
 * When the heartbeat carries `capabilities`:
 * - `on-request`: on the first beat, and whenever the queen's last answer said
 *   `capabilities_required: true` (or the beat that carried them failed);
 * - `always`: on every beat;
 * - `never`: never, so the queen has to pull `GET /v1/devices`.
 */
export type CapabilitiesPolicy = 'on-request' | 'always' | 'never';

/** A request the hive API received, for tests that assert what the queen asked. */
export type HiveCall =
  | { kind: 'spawn'; hiveId: string; body: unknown }
  | { kind: 'delete'; hiveId: string; workerId: string }
  | { kind: 'devices'; hiveId: string };

export interface SimulatedHiveOptions {
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
  /** Port to listen on; 0 (default) picks a free ephemeral port. */
  port?: number;
  /** The hive's own clock, for heartbeat timestamps (a hive's clock may be off). */
  now?: () => number;
  /** Footprint of a model when the spawn body does not say; defaults to `estimateModelFootprint`. */
  modelFootprint?: (modelRef: string) => ModelFootprint;
  onCall?: (call: HiveCall) => void;
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

/** Rejected spawn/delete requests: answered with `status` and `{ error, detail }`. */
class HiveRequestError extends Error {
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

export class SimulatedHive {
  readonly id: string;
  readonly gpus: readonly SimulatedGpu[];
  readonly cpuCores: number;
  readonly ramBytes: number;

  private readonly loadDelayMs: number | 'manual';
  private readonly capabilitiesPolicy: CapabilitiesPolicy;
  private readonly now: () => number;
  private readonly modelFootprint: (modelRef: string) => ModelFootprint;
  private readonly onCall: ((call: HiveCall) => void) | undefined;

  private readonly workers = new Map<string, WorkerRecord>();
  private faults: HiveFaults = { spawn: 'ok', responseDelayMs: 0, heartbeatsStopped: false };
  private server: Server | null = null;
  private listeningPort: number;
  /** Delays of slow answers, cleared on stop so no timer outlives the server. */
  private readonly pendingDelays = new Set<NodeJS.Timeout>();

  private sequence = 0;
  private capabilitiesWanted: boolean;
  private lastBodyCarriedCapabilities = false;

  constructor(options: SimulatedHiveOptions) {
    this.id = options.id;
    this.gpus = options.gpus.map((gpu, index) => ({ ...gpu, index, backend: 'cuda' }));
    this.cpuCores = options.cpuCores ?? DEFAULT_CPU_CORES;
    this.ramBytes = options.ramBytes ?? DEFAULT_RAM_BYTES;
    this.loadDelayMs = options.loadDelayMs ?? DEFAULT_LOAD_DELAY_MS;
    this.capabilitiesPolicy = options.capabilities ?? 'on-request';
    this.now = options.now ?? Date.now;
    this.modelFootprint = options.modelFootprint ?? estimateModelFootprint;
    this.onCall = options.onCall;
    this.listeningPort = options.port ?? 0;
    this.capabilitiesWanted = this.capabilitiesPolicy !== 'never';
  }

  // -- lifecycle -----------------------------------------------------------

  /** Starts listening; after a `stop()` it listens again on the same port. */
  async start(): Promise<void> {
    if (this.server) return;
    const server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listeningPort, LOOPBACK_HOST, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.listeningPort = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /**
   * Closes the port: new connections are refused and open ones (including hung
   * spawns) are cut. Workers keep their state, as on a hive whose agent went down.
   */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    for (const timer of this.pendingDelays) clearTimeout(timer);
    this.pendingDelays.clear();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  /** Stops for good: also cancels loading timers. */
  async close(): Promise<void> {
    await this.stop();
    for (const worker of this.workers.values()) this.cancelLoading(worker);
  }

  get isListening(): boolean {
    return this.server !== null;
  }

  /** The port the hive listens (or last listened) on; 0 before the first start. */
  get port(): number {
    return this.listeningPort;
  }

  get url(): string {
    return `http://${LOOPBACK_HOST}:${this.listeningPort}`;
  }

  // -- faults --------------------------------------------------------------

  setFaults(changes: Partial<HiveFaults>): void {
    this.faults = { ...this.faults, ...changes };
  }

  getFaults(): HiveFaults {
    return { ...this.faults };
  }

  // -- workers -------------------------------------------------------------

  listWorkers(): SimulatedWorker[] {
    return [...this.workers.values()].map((record) => this.toWorker(record));
  }

  /** Turns Loading workers Idle now (one, or all when no id is given). */
  finishLoading(workerId?: string): void {
    for (const worker of this.workers.values()) {
      if (workerId === undefined || worker.workerId === workerId) this.markIdle(worker);
    }
  }

  // -- heartbeat -----------------------------------------------------------

  capabilities(): HeartbeatCapabilities {
    return {
      cpu_cores: this.cpuCores,
      ram_bytes: this.ramBytes,
      gpus: this.gpus.map((gpu) => ({
        index: gpu.index,
        name: gpu.name,
        vram_bytes: gpu.vramBytes,
        backend: gpu.backend,
      })),
    };
  }

  /** Builds the next heartbeat body; every call takes the next sequence number. */
  heartbeatBody(): HeartbeatPayload {
    this.sequence += 1;
    const nowIso = new Date(this.now()).toISOString();
    const includeCapabilities =
      this.capabilitiesPolicy === 'always' ||
      (this.capabilitiesPolicy === 'on-request' && this.capabilitiesWanted);
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
    if (answer.capabilities_required && this.capabilitiesPolicy === 'on-request') {
      this.capabilitiesWanted = true;
    }
  }

  /** The last beat did not arrive: if it carried capabilities, send them again. */
  recordHeartbeatFailure(): void {
    if (this.lastBodyCarriedCapabilities && this.capabilitiesPolicy === 'on-request') {
      this.capabilitiesWanted = true;
    }
  }

  // -- HTTP ----------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const rawBody = await readBody(req);
      if (this.faults.responseDelayMs > 0) await this.delay(this.faults.responseDelayMs);
      const path = new URL(req.url ?? '/', this.url).pathname;
      const workerPath = /^\/v1\/workers\/([^/]+)$/.exec(path);

      if (req.method === 'POST' && path === '/v1/workers/spawn') {
        this.handleSpawn(rawBody, res);
      } else if (req.method === 'GET' && path === '/v1/workers') {
        sendJson(res, 200, { workers: this.wireWorkers() });
      } else if (req.method === 'GET' && workerPath) {
        const worker = this.findWorker(decodePathSegment(workerPath[1]));
        sendJson(res, 200, this.toWireWorker(worker, new Date(this.now()).toISOString()));
      } else if (req.method === 'DELETE' && workerPath) {
        this.handleDelete(decodePathSegment(workerPath[1]), res);
      } else if (req.method === 'GET' && path === '/v1/devices') {
        this.onCall?.({ kind: 'devices', hiveId: this.id });
        sendJson(res, 200, this.devices());
      } else if (req.method === 'GET' && path === '/health') {
        sendJson(res, 200, { status: 'ok' });
      } else {
        throw new HiveRequestError(404, 'not_found', `no route ${req.method ?? ''} ${path}`);
      }
    } catch (error: unknown) {
      if (res.headersSent || res.destroyed) return;
      if (error instanceof HiveRequestError) {
        sendJson(res, error.status, { error: error.code, detail: error.message });
      } else {
        sendJson(res, 500, { error: 'internal', detail: String(error) });
      }
    }
  }

  private handleSpawn(rawBody: string, res: ServerResponse): void {
    const body = parseJson(rawBody);
    this.onCall?.({ kind: 'spawn', hiveId: this.id, body });
    if (this.faults.spawn === 'hang') return; // the socket stays open until stop()
    if (this.faults.spawn === 'error') {
      throw new HiveRequestError(500, 'spawn_failed', 'simulated spawn failure');
    }
    const request = validateSpawnRequest(body);
    const worker = this.admit(request);
    this.workers.set(worker.workerId, worker);
    this.scheduleLoading(worker);
    sendJson(res, 200, {
      worker_id: worker.workerId,
      state: worker.state,
      url: this.workerUrl(worker.workerId),
      backend: worker.backend,
      device: worker.deviceId,
      vram_bytes: worker.vramBytes,
      ram_bytes: worker.ramBytes,
    });
  }

  private handleDelete(workerId: string, res: ServerResponse): void {
    this.onCall?.({ kind: 'delete', hiveId: this.id, workerId });
    const worker = this.findWorker(workerId);
    this.cancelLoading(worker);
    this.workers.delete(workerId);
    sendJson(res, 200, { worker_id: workerId, state: 'Stopped' });
  }

  /** Checks the spawn fits, as a real hive would fail to load a model that does not. */
  private admit(request: SpawnRequest): WorkerRecord {
    if (this.workers.has(request.worker_id)) {
      throw new HiveRequestError(409, 'worker_exists', `worker ${request.worker_id} already exists`);
    }
    const footprint = this.modelFootprint(request.model_ref);
    let deviceId: number | null = null;
    let vramBytes = 0;
    let ramBytes = request.ram_bytes ?? footprint.ramBytes;
    if (request.backend === 'cuda') {
      deviceId = request.device ?? 0;
      const gpu = this.gpus[deviceId];
      if (!gpu) {
        throw new HiveRequestError(400, 'unknown_device', `no GPU with index ${deviceId}`);
      }
      vramBytes = request.vram_bytes ?? footprint.vramBytes;
      const vramInUse = this.sumWorkers((worker) => (worker.deviceId === deviceId ? worker.vramBytes : 0));
      if (vramInUse + vramBytes > gpu.vramBytes) {
        throw new HiveRequestError(
          409,
          'insufficient_vram',
          `gpu${deviceId} has ${gpu.vramBytes - vramInUse} bytes free, ${vramBytes} asked`,
        );
      }
    } else {
      // A CPU worker keeps its weights in host memory.
      ramBytes = request.ram_bytes ?? footprint.vramBytes + footprint.ramBytes;
    }
    const ramInUse = this.sumWorkers((worker) => worker.ramBytes);
    if (ramInUse + ramBytes > this.ramBytes) {
      throw new HiveRequestError(
        409,
        'insufficient_ram',
        `${this.ramBytes - ramInUse} bytes of RAM free, ${ramBytes} asked`,
      );
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

  private delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pendingDelays.delete(timer);
        resolve();
      }, ms);
      this.pendingDelays.add(timer);
    });
  }

  private findWorker(workerId: string): WorkerRecord {
    const worker = this.workers.get(workerId);
    if (!worker) throw new HiveRequestError(404, 'worker_not_found', `no worker ${workerId}`);
    return worker;
  }

  private sumWorkers(bytesOf: (worker: WorkerRecord) => number): number {
    let total = 0;
    for (const worker of this.workers.values()) total += bytesOf(worker);
    return total;
  }

  private devices(): DevicesAnswer {
    return {
      cpu: { cores: this.cpuCores, ram_gb: this.ramBytes / GIB },
      gpus: this.gpus.map((gpu) => ({
        id: `gpu${gpu.index}`,
        name: gpu.name,
        vram_gb: gpu.vramBytes / GIB,
      })),
    };
  }

  private wireWorkers(): HeartbeatWorker[] {
    const nowIso = new Date(this.now()).toISOString();
    return [...this.workers.values()].map((worker) => this.toWireWorker(worker, nowIso));
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

  private toWorker({ loadTimer: _timer, ...worker }: WorkerRecord): SimulatedWorker {
    return worker;
  }

  private workerUrl(workerId: string): string {
    return `${this.url}/v1/workers/${encodeURIComponent(workerId)}`;
  }
}

// ---------------------------------------------------------------------------
// HTTP helpers
// ---------------------------------------------------------------------------

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Past the limit the rest is drained and dropped; the promise is already settled.
      if (size > MAX_REQUEST_BODY_BYTES) {
        reject(new HiveRequestError(413, 'body_too_large', `body over ${MAX_REQUEST_BODY_BYTES} bytes`));
      } else {
        chunks.push(chunk);
      }
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HiveRequestError(400, 'invalid_path', `bad percent-encoding in ${segment}`);
  }
}

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw new HiveRequestError(400, 'invalid_json', 'body is not valid JSON');
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(payload),
  });
  res.end(payload);
}

function validateSpawnRequest(body: unknown): SpawnRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HiveRequestError(400, 'invalid_body', 'body must be a JSON object');
  }
  const fields = body as Record<string, unknown>;
  const workerId = fields.worker_id;
  const modelRef = fields.model_ref;
  const backend = fields.backend;
  if (typeof workerId !== 'string' || workerId === '') {
    throw new HiveRequestError(400, 'invalid_body', 'worker_id must be a non-empty string');
  }
  if (typeof modelRef !== 'string' || modelRef === '') {
    throw new HiveRequestError(400, 'invalid_body', 'model_ref must be a non-empty string');
  }
  if (backend !== 'cuda' && backend !== 'cpu') {
    throw new HiveRequestError(400, 'unsupported_backend', 'backend must be "cuda" or "cpu" on this hive');
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
    throw new HiveRequestError(400, 'invalid_body', `${name} must be a non-negative integer`);
  }
  return value;
}
