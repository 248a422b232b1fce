import { Pool } from 'undici';

/** A hive registered for a benchmark, with its heartbeat token. */
export interface BenchHive {
  id: string;
  token: string;
}

/** Ids that sort in registration order: bench-00001, bench-00002, … */
export function benchHiveId(index: number, width = 5): string {
  return `bench-${String(index + 1).padStart(width, '0')}`;
}

/** Stand-in hives for servers that keep no catalog (baselines): same ids, tokens shaped like the queen's. */
export function fakeHives(count: number): BenchHive[] {
  return Array.from({ length: count }, (_, i) => ({
    id: benchHiveId(i),
    token: `qh_${Buffer.from(`bench-token-${i}`.padEnd(32, '.')).toString('base64url')}`,
  }));
}

export interface RegisterOptions {
  baseUrl: string;
  count: number;
  concurrency?: number;
  /** Admin token, when the queen runs with QUEEN_API_TOKEN. */
  adminToken?: string;
  /** The hive API port on 127.0.0.1 the queen is given for every hive (default 9, discard). */
  hivePort?: number;
  onProgress?: (done: number) => void;
}

/**
 * Registers `count` hives through POST /v1/hives over keep-alive connections
 * and returns them with their tokens, in id order. Hives point at 127.0.0.1
 * (port 9, discard, unless `hivePort` says) so nothing the queen might call reaches another machine.
 */
export async function registerHives(options: RegisterOptions): Promise<{ hives: BenchHive[]; seconds: number }> {
  const concurrency = options.concurrency ?? 32;
  const pool = new Pool(options.baseUrl, { connections: concurrency, pipelining: 1 });
  const hives: BenchHive[] = new Array(options.count);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.adminToken) headers.authorization = `Bearer ${options.adminToken}`;
  let nextIndex = 0;
  let done = 0;
  const started = performance.now();
  const worker = async () => {
    for (let i = nextIndex++; i < options.count; i = nextIndex++) {
      try {
        await registerOne(i);
      } catch (error) {
        nextIndex = options.count; // stop the other workers too
        throw error;
      }
    }
  };
  const registerOne = async (i: number) => {
    const id = benchHiveId(i);
    const res = await pool.request({
      method: 'POST',
      path: '/v1/hives',
      headers,
      body: JSON.stringify({ id, host: '127.0.0.1', port: options.hivePort ?? 9, labels: { zone: ['a', 'b', 'c'][i % 3], bench: 'true' } }),
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
    const text = await res.body.text();
    if (res.statusCode !== 201) throw new Error(`POST /v1/hives ${id}: HTTP ${res.statusCode} ${text.slice(0, 300)}`);
    const token = (JSON.parse(text) as { heartbeat_token?: unknown }).heartbeat_token;
    if (typeof token !== 'string') throw new Error(`POST /v1/hives ${id}: no heartbeat_token in ${text.slice(0, 300)}`);
    hives[i] = { id, token };
    if (++done % 1000 === 0) options.onProgress?.(done);
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, options.count) }, worker));
  } finally {
    await pool.close();
  }
  return { hives, seconds: (performance.now() - started) / 1000 };
}
