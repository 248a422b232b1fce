import { request } from 'undici';
import { sleep } from './child-server';
import { fmtInt, progress } from './format';
import { sample, scrapeMetrics } from './metrics';

/** How many hives the catalog lists as online (GET /v1/hives?status=online), or null if it cannot tell. */
export async function onlineHives(baseUrl: string, adminToken?: string): Promise<number | null> {
  try {
    const res = await request(`${baseUrl}/v1/hives?status=online&limit=1`, {
      headers: adminToken ? { authorization: `Bearer ${adminToken}` } : {},
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) return null;
    const total = (JSON.parse(text) as { total?: unknown }).total;
    return typeof total === 'number' ? total : null;
  } catch {
    return null;
  }
}

export interface DrainOptions {
  label: string;
  baseUrl: string;
  /**
   * Runs `seconds` of steady load (throwing if the run is invalid) and returns
   * the requests completed. Absent: wait silently instead (only when hives
   * cannot time out meanwhile).
   */
  runChunk?: (seconds: number) => Promise<number>;
  chunkS?: number;
  /** Done only once the catalog lists this many hives online. */
  expectOnline?: number;
  /** A counter that must grow by at most `quietPerChunk` per chunk (e.g. queen_sql_statements_total); ignored if not exposed. */
  quietMetric?: string;
  quietPerChunk?: number;
  /** Consecutive quiet chunks needed. */
  quietChunks?: number;
  maxS: number;
}

export interface DrainResult {
  seconds: number;
  timedOut: boolean;
  chunks: number;
  heartbeats: number;
  online: number | null;
  /** Growth of `quietMetric` over the whole drain. */
  metricDelta: number | null;
}

/**
 * Waits until the server's background work from the first beats is done (the
 * catalog lists every hive online and the watched counter grows no faster
 * than its steady rate), or `maxS` passes. With `runChunk`, steady load keeps
 * running meanwhile so hives stay alive (a silent pause would let them time
 * out and cause more writes); without it, the wait is silent.
 */
export async function drain(options: DrainOptions): Promise<DrainResult> {
  const chunkS = options.chunkS ?? 2;
  const started = Date.now();
  const metricNow = async () => (options.quietMetric ? sample(await scrapeMetrics(options.baseUrl), options.quietMetric) : null);
  const first = await metricNow();
  let last = first;
  let quiet = 0;
  let chunks = 0;
  let heartbeats = 0;
  let online: number | null = null;
  let lastReport = Date.now();
  while ((Date.now() - started) / 1000 < options.maxS) {
    if (options.runChunk) heartbeats += await options.runChunk(chunkS);
    else await sleep(chunkS * 1000);
    chunks++;
    const now = await metricNow();
    online = options.expectOnline === undefined ? null : await onlineHives(options.baseUrl);
    const grew = now === null || last === null ? null : now - last;
    last = now;
    const metricQuiet = grew === null || grew <= (options.quietPerChunk ?? 0);
    const onlineOk = options.expectOnline === undefined || online === options.expectOnline;
    quiet = metricQuiet && onlineOk ? quiet + 1 : 0;
    if (quiet >= (options.quietChunks ?? 2)) {
      return { seconds: (Date.now() - started) / 1000, timedOut: false, chunks, heartbeats, online, metricDelta: deltaOf(first, now) };
    }
    if (Date.now() - lastReport >= 10_000) {
      lastReport = Date.now();
      progress(
        `  ${options.label} draining: ${Math.round((Date.now() - started) / 1000)} s, online ${fmtInt(online)}/${fmtInt(options.expectOnline)}` +
          `${options.quietMetric ? `, ${options.quietMetric} +${fmtInt(grew)} in the last ${chunkS} s` : ''}`,
      );
    }
  }
  return { seconds: (Date.now() - started) / 1000, timedOut: true, chunks, heartbeats, online, metricDelta: deltaOf(first, last) };
}

function deltaOf(a: number | null, b: number | null): number | null {
  return a === null || b === null ? null : b - a;
}
