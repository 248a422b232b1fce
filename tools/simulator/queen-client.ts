/**
 * The hive agent's side of the queen API: register hives, keep their heartbeat
 * tokens, and send their heartbeats on the schedule the queen asks for.
 *
 * Built for many hives in one process: one keep-alive connection pool with a fixed
 * number of sockets, at most one request in flight per hive, jittered beats so a
 * fleet does not beat in lockstep, and exponential backoff when the queen fails so a
 * queen restart does not meet a retry storm.
 */
import { isIP } from 'node:net';
import { Pool } from 'undici';
import { LOOPBACK_HOST, SimulatedHive } from './hive-server';
import type { HeartbeatAnswer, HeartbeatPayload } from './wire';

export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

/** A queen request that failed: `status` is null when no HTTP answer came back. */
export class QueenRequestError extends Error {
  constructor(
    readonly operation: string,
    readonly status: number | null,
    readonly reason: string,
  ) {
    super(`${operation}: ${status === null ? reason : `${status} ${reason}`}`);
  }

  /** The admin token was refused: retrying will not help. */
  get isAuthRejection(): boolean {
    return this.status === 401 || this.status === 403;
  }
}

export interface QueenClientOptions {
  /** Base URL of the queen, e.g. `http://127.0.0.1:7833`. Must be loopback. */
  queenUrl: string;
  /** `QUEEN_API_TOKEN`, for the admin routes (registration, token rotation). */
  adminToken?: string;
  /** Sockets to the queen; also the number of requests in flight at once. */
  connections?: number;
  requestTimeoutMs?: number;
}

export interface HiveRegistration {
  id: string;
  host: string;
  port: number;
}

export interface RegistrationResult {
  heartbeatToken: string;
  /** false when the hive already existed: its address was updated and its token rotated. */
  created: boolean;
}

const DEFAULT_CONNECTIONS = 16;
const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

type HttpMethod = 'GET' | 'POST' | 'PATCH';

interface QueenResponse {
  status: number;
  body: unknown;
}

export class QueenClient {
  private readonly pool: Pool;
  private readonly adminToken: string | undefined;
  private readonly requestTimeoutMs: number;

  constructor(options: QueenClientOptions) {
    const url = new URL(options.queenUrl);
    if (url.protocol !== 'http:') {
      throw new Error(`queen URL must use http:, got ${url.protocol}`);
    }
    if (!isLoopbackHost(url.hostname)) {
      throw new Error(`queen URL must be a loopback address, got ${url.hostname}`);
    }
    this.adminToken = options.adminToken || undefined;
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.pool = new Pool(url.origin, {
      connections: options.connections ?? DEFAULT_CONNECTIONS,
      pipelining: 1,
      keepAliveTimeout: 30_000,
    });
  }

  /**
   * Registers a hive. If the id is taken (the simulator ran before, and the catalog
   * is persistent) the hive's address is updated — its port is ephemeral and has
   * changed — and its token rotated, since the old one was only ever shown once.
   */
  async registerHive(registration: HiveRegistration): Promise<RegistrationResult> {
    const created = await this.send('POST', '/v1/hives', registration, this.adminToken);
    if (created.status === 200 || created.status === 201) {
      return { heartbeatToken: readToken(created.body, 'POST /v1/hives'), created: true };
    }
    if (created.status !== 409) throw failure('POST /v1/hives', created);

    const hivePath = `/v1/hives/${encodeURIComponent(registration.id)}`;
    const moved = await this.send(
      'PATCH',
      hivePath,
      { host: registration.host, port: registration.port },
      this.adminToken,
    );
    if (moved.status !== 200) throw failure(`PATCH ${hivePath}`, moved);
    const rotated = await this.send('POST', `${hivePath}/token`, undefined, this.adminToken);
    if (rotated.status !== 200 && rotated.status !== 201) throw failure(`POST ${hivePath}/token`, rotated);
    return { heartbeatToken: readToken(rotated.body, `POST ${hivePath}/token`), created: false };
  }

  async sendHeartbeat(heartbeatToken: string, body: HeartbeatPayload): Promise<HeartbeatAnswer> {
    const response = await this.send('POST', '/v1/heartbeat', body, heartbeatToken);
    if (response.status !== 200) throw failure('POST /v1/heartbeat', response);
    return readHeartbeatAnswer(response.body);
  }

  /** Drops every connection at once; requests still in flight fail. */
  async close(): Promise<void> {
    await this.pool.destroy();
  }

  private async send(
    method: HttpMethod,
    path: string,
    body: unknown,
    bearerToken: string | undefined,
  ): Promise<QueenResponse> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (bearerToken) headers.authorization = `Bearer ${bearerToken}`;
    try {
      const response = await this.pool.request({
        method,
        path,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.requestTimeoutMs),
      });
      const text = await response.body.text();
      return { status: response.statusCode, body: parseJsonOrNull(text) };
    } catch (error: unknown) {
      throw new QueenRequestError(`${method} ${path}`, null, describeNetworkError(error));
    }
  }
}

// ---------------------------------------------------------------------------
// Heartbeat fleet
// ---------------------------------------------------------------------------

export interface HeartbeatFleetOptions {
  /** Beat interval until the queen's first answer names one. */
  defaultIntervalMs?: number;
  /** Each beat is moved by up to ± this fraction of the interval. */
  jitterRatio?: number;
  /** Longest wait between attempts while the queen keeps failing. */
  maxBackoffMs?: number;
  registrationConcurrency?: number;
  /** Uniform [0, 1); injectable so schedules are reproducible in tests. */
  random?: () => number;
}

export interface FleetStats {
  hives: number;
  /** Hives holding a heartbeat token. */
  registered: number;
  /** Hives whose last heartbeat was acknowledged and that are not silenced. */
  beating: number;
  /** Hives with `heartbeatsStopped` set. */
  silent: number;
  heartbeatsAcknowledged: number;
  heartbeatsFailed: number;
  registrationsFailed: number;
  lastError: string | null;
}

export interface RegistrationSummary {
  registered: number;
  errors: QueenRequestError[];
}

type RegistrationOutcome = { heartbeatToken: string } | { error: QueenRequestError };

interface HiveEntry {
  hive: SimulatedHive;
  heartbeatToken: string | null;
  intervalMs: number;
  consecutiveFailures: number;
  lastBeatAcknowledged: boolean;
  timer: NodeJS.Timeout | null;
}

const DEFAULT_INTERVAL_MS = 5000;
const DEFAULT_JITTER_RATIO = 0.1;
const DEFAULT_MAX_BACKOFF_MS = 30_000;
const DEFAULT_REGISTRATION_CONCURRENCY = 16;
/** Statuses meaning the queen no longer knows this hive/token pair: register again. */
const REREGISTER_STATUSES = new Set([401, 403, 404]);

export class HeartbeatFleet {
  private readonly entries: HiveEntry[];
  private readonly defaultIntervalMs: number;
  private readonly jitterRatio: number;
  private readonly maxBackoffMs: number;
  private readonly registrationConcurrency: number;
  private readonly random: () => number;
  private running = false;
  private heartbeatsAcknowledged = 0;
  private heartbeatsFailed = 0;
  private registrationsFailed = 0;
  private lastError: string | null = null;

  constructor(
    private readonly client: QueenClient,
    hives: readonly SimulatedHive[],
    options: HeartbeatFleetOptions = {},
  ) {
    this.defaultIntervalMs = options.defaultIntervalMs ?? DEFAULT_INTERVAL_MS;
    this.jitterRatio = options.jitterRatio ?? DEFAULT_JITTER_RATIO;
    this.maxBackoffMs = options.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS;
    this.registrationConcurrency = options.registrationConcurrency ?? DEFAULT_REGISTRATION_CONCURRENCY;
    this.random = options.random ?? Math.random;
    this.entries = hives.map((hive) => ({
      hive,
      heartbeatToken: null,
      intervalMs: this.defaultIntervalMs,
      consecutiveFailures: 0,
      lastBeatAcknowledged: false,
      timer: null,
    }));
  }

  /**
   * Registers every hive not registered yet, a bounded number at a time. Failures
   * are returned, not thrown: the heartbeat loop retries them with backoff.
   */
  async registerAll(onProgress?: (done: number, total: number) => void): Promise<RegistrationSummary> {
    const pending = this.entries.filter((entry) => entry.heartbeatToken === null);
    const errors: QueenRequestError[] = [];
    let nextIndex = 0;
    let done = 0;
    const registerNext = async (): Promise<void> => {
      while (nextIndex < pending.length) {
        const entry = pending[nextIndex++];
        const outcome = await this.register(entry);
        if ('error' in outcome) errors.push(outcome.error);
        done += 1;
        onProgress?.(done, pending.length);
      }
    };
    const lanes = Math.min(this.registrationConcurrency, pending.length);
    await Promise.all(Array.from({ length: lanes }, registerNext));
    return { registered: pending.length - errors.length, errors };
  }

  /** Starts beating; first beats are spread over one interval so they do not arrive together. */
  start(): void {
    if (this.running) return;
    this.running = true;
    for (const entry of this.entries) {
      this.schedule(entry, this.random() * entry.intervalMs);
    }
  }

  /** Stops scheduling beats. A beat in flight finishes (or fails when the client closes). */
  stop(): void {
    this.running = false;
    for (const entry of this.entries) {
      if (entry.timer) clearTimeout(entry.timer);
      entry.timer = null;
    }
  }

  stats(): FleetStats {
    let registered = 0;
    let beating = 0;
    let silent = 0;
    for (const entry of this.entries) {
      const stopped = entry.hive.getFaults().heartbeatsStopped;
      if (entry.heartbeatToken !== null) registered += 1;
      if (stopped) silent += 1;
      else if (entry.lastBeatAcknowledged) beating += 1;
    }
    return {
      hives: this.entries.length,
      registered,
      beating,
      silent,
      heartbeatsAcknowledged: this.heartbeatsAcknowledged,
      heartbeatsFailed: this.heartbeatsFailed,
      registrationsFailed: this.registrationsFailed,
      lastError: this.lastError,
    };
  }

  private async register(entry: HiveEntry): Promise<RegistrationOutcome> {
    try {
      const result = await this.client.registerHive({
        id: entry.hive.id,
        host: LOOPBACK_HOST,
        port: entry.hive.port,
      });
      entry.heartbeatToken = result.heartbeatToken;
      return { heartbeatToken: result.heartbeatToken };
    } catch (error: unknown) {
      const failure = asQueenError(error, 'register');
      this.registrationsFailed += 1;
      this.lastError = failure.message;
      return { error: failure };
    }
  }

  private async beat(entry: HiveEntry): Promise<void> {
    entry.timer = null;
    if (entry.hive.getFaults().heartbeatsStopped) {
      entry.lastBeatAcknowledged = false;
      this.schedule(entry, entry.intervalMs);
      return;
    }
    let token = entry.heartbeatToken;
    if (token === null) {
      const outcome = await this.register(entry);
      if ('error' in outcome) {
        this.scheduleRetry(entry);
        return;
      }
      token = outcome.heartbeatToken;
    }
    try {
      const answer = await this.client.sendHeartbeat(token, entry.hive.heartbeatBody());
      entry.hive.recordHeartbeatAnswer(answer);
      this.heartbeatsAcknowledged += 1;
      entry.consecutiveFailures = 0;
      entry.lastBeatAcknowledged = true;
      if (Number.isFinite(answer.next_heartbeat_ms) && answer.next_heartbeat_ms > 0) {
        entry.intervalMs = answer.next_heartbeat_ms;
      }
      this.schedule(entry, this.jittered(entry.intervalMs));
    } catch (error: unknown) {
      const failure = asQueenError(error, 'heartbeat');
      entry.hive.recordHeartbeatFailure();
      this.heartbeatsFailed += 1;
      this.lastError = failure.message;
      entry.lastBeatAcknowledged = false;
      if (failure.status !== null && REREGISTER_STATUSES.has(failure.status)) {
        entry.heartbeatToken = null;
      }
      this.scheduleRetry(entry);
    }
  }

  /** Exponential backoff with jitter: each failure doubles the wait, up to the cap. */
  private scheduleRetry(entry: HiveEntry): void {
    entry.consecutiveFailures += 1;
    const exponent = Math.min(entry.consecutiveFailures - 1, 16);
    const ceiling = Math.min(this.maxBackoffMs, entry.intervalMs * 2 ** exponent);
    this.schedule(entry, ceiling / 2 + (this.random() * ceiling) / 2);
  }

  private jittered(intervalMs: number): number {
    return intervalMs * (1 - this.jitterRatio + 2 * this.jitterRatio * this.random());
  }

  private schedule(entry: HiveEntry, delayMs: number): void {
    if (!this.running) return;
    entry.timer = setTimeout(() => void this.beat(entry), delayMs);
  }
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

function parseJsonOrNull(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A failed answer, with the problem JSON's detail (or title) as the reason. */
function failure(operation: string, response: QueenResponse): QueenRequestError {
  let reason = 'unexpected status';
  if (isRecord(response.body)) {
    const { detail, title } = response.body;
    if (typeof detail === 'string') reason = detail;
    else if (typeof title === 'string') reason = title;
  }
  return new QueenRequestError(operation, response.status, reason);
}

function readToken(body: unknown, operation: string): string {
  if (isRecord(body) && typeof body.heartbeat_token === 'string' && body.heartbeat_token !== '') {
    return body.heartbeat_token;
  }
  throw new QueenRequestError(operation, null, 'answer carries no heartbeat_token');
}

function readHeartbeatAnswer(body: unknown): HeartbeatAnswer {
  if (!isRecord(body)) {
    throw new QueenRequestError('POST /v1/heartbeat', null, 'answer is not a JSON object');
  }
  return {
    acknowledged: body.acknowledged === true,
    applied: body.applied === true,
    next_heartbeat_ms: typeof body.next_heartbeat_ms === 'number' ? body.next_heartbeat_ms : Number.NaN,
    capabilities_required: body.capabilities_required === true,
  };
}

/** A short cause: the errno code when there is one. Duck-typed, as errors from Node internals may come from another realm. */
function describeNetworkError(error: unknown): string {
  if (error instanceof QueenRequestError) return error.reason;
  if (!isRecord(error)) return String(error);
  const { name, code, message } = error;
  if (name === 'TimeoutError' || name === 'AbortError') return 'timed out';
  if (typeof code === 'string') return code;
  return typeof message === 'string' ? message : String(error);
}

function asQueenError(error: unknown, operation: string): QueenRequestError {
  return error instanceof QueenRequestError
    ? error
    : new QueenRequestError(operation, null, describeNetworkError(error));
}
