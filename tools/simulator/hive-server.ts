/**
 * A simulated hive on the network: the hive model (hive-model.ts) served over
 * real HTTP on loopback, with the failure modes the queen's error paths need:
 * spawn 500, spawn hang, slow answers, port closed, heartbeats stopped.
 * It never sends anything itself: the queen client (or a test) decides when to beat.
 */
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { HiveApiError, HiveModel, HiveModelOptions } from './hive-model';

/** Simulated hives only ever listen on loopback. */
export const LOOPBACK_HOST = '127.0.0.1';

/** Spawn bodies are tiny; anything bigger is a client bug, not something to buffer. */
const MAX_REQUEST_BODY_BYTES = 64 * 1024;

/**
 * What a spawn does:
 * - `ok`: answer 200 and start loading;
 * - `error`: answer 500 and start nothing;
 * - `hang`: never answer (the connection stays open until the hive stops), start nothing;
 * - `start-then-hang`: start loading, but never answer (a hive whose answer is lost or too slow).
 */
export type SpawnFault = 'ok' | 'error' | 'hang' | 'start-then-hang';

export interface HiveFaults {
  spawn: SpawnFault;
  /** `hang`: `DELETE /v1/workers/{id}` is never answered and stops nothing. */
  stop: 'ok' | 'hang';
  /** Added before every answer of the hive API (0 = answer at once). */
  responseDelayMs: number;
  /** A silent hive: its queen client sends no heartbeats while this is set. */
  heartbeatsStopped: boolean;
}

/** A request the hive API received, for tests that assert what the queen asked. */
export type HiveCall =
  | { kind: 'spawn'; hiveId: string; body: unknown }
  | { kind: 'delete'; hiveId: string; workerId: string }
  | { kind: 'devices'; hiveId: string };

export interface SimulatedHiveOptions extends HiveModelOptions {
  /** Port to listen on; 0 (default) picks a free ephemeral port. */
  port?: number;
  onCall?: (call: HiveCall) => void;
}

export class SimulatedHive extends HiveModel {
  private readonly onCall: ((call: HiveCall) => void) | undefined;
  private faults: HiveFaults = { spawn: 'ok', stop: 'ok', responseDelayMs: 0, heartbeatsStopped: false };
  private server: Server | null = null;
  private listeningPort: number;
  /** Delays of slow answers, cleared on stop so no timer outlives the server. */
  private readonly pendingDelays = new Set<NodeJS.Timeout>();

  constructor(options: SimulatedHiveOptions) {
    super(options);
    this.onCall = options.onCall;
    this.listeningPort = options.port ?? 0;
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
    this.cancelAllLoading();
  }

  get isListening(): boolean {
    return this.server !== null;
  }

  /** The port the hive listens (or last listened) on; 0 before the first start. */
  get port(): number {
    return this.listeningPort;
  }

  override get url(): string {
    return `http://${LOOPBACK_HOST}:${this.listeningPort}`;
  }

  // -- faults --------------------------------------------------------------

  setFaults(changes: Partial<HiveFaults>): void {
    this.faults = { ...this.faults, ...changes };
  }

  getFaults(): HiveFaults {
    return { ...this.faults };
  }

  // -- HTTP ----------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const rawBody = await readBody(req);
      if (this.faults.responseDelayMs > 0) await this.delay(this.faults.responseDelayMs);
      const path = new URL(req.url ?? '/', this.url).pathname;
      const workerPath = /^\/v1\/workers\/([^/]+)$/.exec(path);

      if (req.method === 'POST' && path === '/v1/workers/spawn') {
        const body = parseJson(rawBody);
        this.onCall?.({ kind: 'spawn', hiveId: this.id, body });
        if (this.faults.spawn === 'hang') return; // the socket stays open until stop()
        if (this.faults.spawn === 'error') throw new HiveApiError(500, 'spawn_failed', 'simulated spawn failure');
        const answer = this.spawn(body);
        if (this.faults.spawn === 'start-then-hang') return;
        sendJson(res, 200, answer);
      } else if (req.method === 'GET' && path === '/v1/workers') {
        sendJson(res, 200, { workers: this.wireWorkers() });
      } else if (req.method === 'GET' && workerPath) {
        sendJson(res, 200, this.wireWorker(decodePathSegment(workerPath[1])));
      } else if (req.method === 'DELETE' && workerPath) {
        const workerId = decodePathSegment(workerPath[1]);
        this.onCall?.({ kind: 'delete', hiveId: this.id, workerId });
        if (this.faults.stop === 'hang') return;
        sendJson(res, 200, this.stopWorker(workerId));
      } else if (req.method === 'GET' && path === '/v1/devices') {
        this.onCall?.({ kind: 'devices', hiveId: this.id });
        sendJson(res, 200, this.devices());
      } else if (req.method === 'GET' && path === '/health') {
        sendJson(res, 200, { status: 'ok' });
      } else {
        throw new HiveApiError(404, 'not_found', `no route ${req.method ?? ''} ${path}`);
      }
    } catch (error: unknown) {
      if (res.headersSent || res.destroyed) return;
      if (error instanceof HiveApiError) {
        sendJson(res, error.status, { error: error.code, detail: error.message });
      } else {
        sendJson(res, 500, { error: 'internal', detail: String(error) });
      }
    }
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
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Past the limit the rest is drained and dropped; the promise is already settled.
      if (size > MAX_REQUEST_BODY_BYTES) {
        reject(new HiveApiError(413, 'body_too_large', `body over ${MAX_REQUEST_BODY_BYTES} bytes`));
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
    throw new HiveApiError(400, 'invalid_path', `bad percent-encoding in ${segment}`);
  }
}

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw new HiveApiError(400, 'invalid_json', 'body is not valid JSON');
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
  res.end(payload);
}
