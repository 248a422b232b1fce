import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { Agent, errors, request } from 'undici';
import { QueenConfig } from '../platform/config/queen-config';
import type { HiveCapabilities } from '../domain/fleet';

/** The largest hive response the queen reads; hive answers are small JSON documents. */
const MAX_RESPONSE_BYTES = 1024 * 1024;
const GIB = 2 ** 30;

export interface HiveAddress {
  host: string;
  port: number;
}

export interface SpawnRequest {
  worker_id: string;
  model_ref: string;
  backend: string;
  /** GPU index, as rbee's hive takes it (0 for a CPU worker). */
  device: number;
}

/**
 * Why a hive call failed. `delivered` says whether the hive may have acted on
 * it: a refused connection never reached it and an error status is its own
 * answer, but a timeout or a reset after the request was sent leaves the
 * outcome unknown.
 */
export class HiveRequestError extends Error {
  constructor(
    readonly kind: 'unreachable' | 'timeout' | 'refused' | 'bad_response',
    message: string,
    /** The hive's HTTP status, when it answered. */
    readonly status?: number,
    /** The hive's own explanation (`detail`, `error` or `message` of its JSON answer), when it gave one. */
    readonly hiveReason?: string,
    readonly delivered: 'no' | 'maybe' = kind === 'refused' ? 'no' : 'maybe',
  ) {
    super(message);
  }
}

/** Errors of a connection that never reached the hive: nothing was delivered. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);

/** What a hive's error answer says of itself: rbee's hive answers `{ "error", "detail" }`. */
function reasonOf(text: string): string | undefined {
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    const parts = [body.error, body.detail ?? body.message].filter((part): part is string => typeof part === 'string' && part !== '');
    return parts.length > 0 ? parts.join(': ').slice(0, 500) : undefined;
  } catch {
    return text.trim() === '' ? undefined : text.trim().slice(0, 200);
  }
}

/** rbee's `GET /v1/devices` answer. */
interface RbeeDevices {
  cpu?: { cores?: unknown; ram_gb?: unknown };
  gpus?: unknown;
}

/** The same bounds as capabilities sent in a heartbeat (HeartbeatCapabilitiesDto). */
const MAX_CPU_CORES = 65536;
const MAX_GPU_INDEX = 255;

/** GiB as rbee reports them, in whole bytes; null unless a finite, non-negative size that fits a safe integer. */
function gibToBytes(gb: unknown): number | null {
  if (typeof gb !== 'number' || !Number.isFinite(gb) || gb < 0) return null;
  const bytes = Math.round(gb * GIB);
  return Number.isSafeInteger(bytes) ? bytes : null;
}

/** Converts rbee's device report (GiB, `gpuN` ids) to capabilities in bytes; null when it is not one. */
export function capabilitiesFromRbeeDevices(body: unknown): HiveCapabilities | null {
  const devices = body as RbeeDevices;
  if (typeof devices !== 'object' || devices === null || typeof devices.cpu !== 'object' || devices.cpu === null) return null;
  const { cores, ram_gb } = devices.cpu;
  const ramBytes = gibToBytes(ram_gb);
  if (!Number.isInteger(cores) || (cores as number) < 0 || (cores as number) > MAX_CPU_CORES || ramBytes === null) return null;
  // Absent or null: a CPU-only hive. Anything else must be a list of GPU objects.
  const reported = devices.gpus ?? [];
  if (!Array.isArray(reported)) return null;
  const gpus: HiveCapabilities['gpus'] = [];
  for (const gpu of reported as unknown[]) {
    if (typeof gpu !== 'object' || gpu === null) return null;
    const { id, name, vram_gb } = gpu as { id?: unknown; name?: unknown; vram_gb?: unknown };
    const digits = typeof id === 'string' ? /^gpu(\d{1,3})$/.exec(id)?.[1] : undefined;
    const index = Number(digits);
    const vramBytes = gibToBytes(vram_gb);
    if (digits === undefined || index > MAX_GPU_INDEX || vramBytes === null) return null;
    // Two GPUs with one index would add up to one device of twice the size.
    if (gpus.some((other) => other.index === index)) return null;
    gpus.push({
      index,
      name: typeof name === 'string' ? name.slice(0, 128) : `gpu${index}`,
      vramBytes,
      backend: 'cuda',
    });
  }
  gpus.sort((a, b) => a.index - b.index);
  return { cpuCores: cores as number, ramBytes, gpus };
}

/**
 * HTTP to hive agents (undici, keep-alive). Every call is bounded by
 * HIVE_REQUEST_TIMEOUT_MS and made once: retrying is the scheduler's choice
 * (another hive), so a struggling hive is not hammered.
 */
@Injectable()
export class HiveClient implements OnApplicationShutdown {
  private readonly agent: Agent;

  constructor(private readonly config: QueenConfig) {
    const timeout = config.hiveRequestTimeoutMs;
    this.agent = new Agent({ connect: { timeout }, headersTimeout: timeout, bodyTimeout: timeout, keepAliveTimeout: 10_000 });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.agent.close();
  }

  async spawnWorker(hive: HiveAddress, spawn: SpawnRequest): Promise<void> {
    await this.call(hive, 'POST', '/v1/workers/spawn', spawn);
  }

  /** Asks the hive to stop a worker; a hive that no longer knows it has nothing to stop. */
  async stopWorker(hive: HiveAddress, workerId: string): Promise<void> {
    try {
      await this.call(hive, 'DELETE', `/v1/workers/${encodeURIComponent(workerId)}`);
    } catch (error) {
      if (error instanceof HiveRequestError && error.status === 404) return;
      throw error;
    }
  }

  async detectDevices(hive: HiveAddress): Promise<HiveCapabilities> {
    const body = await this.call(hive, 'GET', '/v1/devices');
    const capabilities = capabilitiesFromRbeeDevices(body);
    if (!capabilities) throw new HiveRequestError('bad_response', 'GET /v1/devices did not answer in rbee\'s device format');
    return capabilities;
  }

  private async call(hive: HiveAddress, method: 'GET' | 'POST' | 'DELETE', path: string, body?: object): Promise<unknown> {
    const host = hive.host.includes(':') ? `[${hive.host}]` : hive.host;
    const url = `http://${host}:${hive.port}${path}`;
    // The whole call, answer read, within the timeout; the timer goes as soon as the call is done (an
    // AbortSignal.timeout() would keep its timer and signal alive for the full timeout after every call).
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new DOMException(`${method} ${url} timed out`, 'TimeoutError')), this.config.hiveRequestTimeoutMs);
    let response;
    let text: string;
    try {
      response = await request(url, {
        method,
        dispatcher: this.agent,
        headers: body ? { 'content-type': 'application/json' } : {},
        body: body ? JSON.stringify(body) : undefined,
        signal: deadline.signal,
      });
      text = await readLimited(response.body);
    } catch (error) {
      throw toHiveRequestError(error, `${method} ${url}`);
    } finally {
      clearTimeout(timer);
    }
    if (response.statusCode >= 400) {
      const reason = reasonOf(text);
      throw new HiveRequestError('refused', `${method} ${url} answered ${response.statusCode}${reason ? ` (${reason})` : ''}`, response.statusCode, reason);
    }
    if (!text) return null;
    try {
      return JSON.parse(text);
    } catch {
      if (method === 'GET') throw new HiveRequestError('bad_response', `${method} ${url} did not answer JSON`);
      return null;
    }
  }
}

async function readLimited(body: AsyncIterable<Buffer> & { destroy(): void }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > MAX_RESPONSE_BYTES) {
      body.destroy();
      throw new HiveRequestError('bad_response', `response larger than ${MAX_RESPONSE_BYTES} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function toHiveRequestError(error: unknown, what: string): HiveRequestError {
  if (error instanceof HiveRequestError) return error;
  // An aborted request rejects with a DOMException, which is not `instanceof Error`
  // in every realm (Jest's VM contexts): go by its name and message, not its class.
  const { name, message, code, cause } = (typeof error === 'object' && error !== null ? error : {}) as {
    name?: unknown;
    message?: unknown;
    code?: unknown;
    cause?: { code?: unknown };
  };
  const errorCode = typeof code === 'string' ? code : typeof cause?.code === 'string' ? cause.code : undefined;
  const delivered = errorCode !== undefined && NOT_CONNECTED.has(errorCode) ? 'no' : 'maybe';
  if (error instanceof errors.ConnectTimeoutError) return new HiveRequestError('timeout', `${what}: connecting timed out`, undefined, undefined, 'no');
  const timedOut =
    error instanceof errors.HeadersTimeoutError || error instanceof errors.BodyTimeoutError || name === 'TimeoutError' || name === 'AbortError';
  const reason = typeof message === 'string' ? message : String(error);
  return timedOut
    ? new HiveRequestError('timeout', `${what} timed out`, undefined, undefined, 'maybe')
    : new HiveRequestError('unreachable', `${what} failed: ${reason}`, undefined, undefined, delivered);
}
