/**
 * Drives a server with autocannon (programmatic API, in this process) and
 * sums the result up. Each request is built by a caller-supplied function, so
 * every request can carry its own body and headers (distinct hives, tokens,
 * sequences).
 */

/* The parts of autocannon's API used here (it ships no type definitions). */
interface AutocannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  setupRequest?: (request: AutocannonRequest, context: object) => AutocannonRequest;
  onResponse?: (status: number, body: string) => void;
}

interface Histogram {
  average: number;
  mean: number;
  stddev: number;
  min: number;
  max: number;
  total: number;
  p50: number;
  p90: number;
  p97_5: number;
  p99: number;
  p99_9: number;
}

interface AutocannonResult {
  duration: number;
  requests: Histogram & { sent: number };
  latency: Histogram;
  errors: number;
  timeouts: number;
  mismatches: number;
  non2xx: number;
  statusCodeStats: Record<string, { count: number }>;
}

interface AutocannonOptions {
  url: string;
  connections: number;
  pipelining?: number;
  duration?: number;
  amount?: number;
  timeout?: number;
  overallRate?: number;
  requests: AutocannonRequest[];
}

type Autocannon = (options: AutocannonOptions) => Promise<AutocannonResult> & { stop(): void };

// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon: Autocannon = require('autocannon');

/** What `classifyBody` returns for a body that makes the run invalid. */
export const UNEXPECTED = 'unexpected';

/** One request as the caller wants it sent. */
export interface LoadRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  headers: Record<string, string>;
  body?: string;
}

export interface LoadOptions {
  /** Base URL, e.g. http://127.0.0.1:7833; must be loopback. */
  baseUrl: string;
  connections: number;
  /** Seconds; ignored when `amount` is given. */
  durationS?: number;
  /** Exactly this many requests, then stop. */
  amount?: number;
  /** Called once per request sent, in order. */
  next: () => LoadRequest;
  /**
   * Sorts 200 bodies into kinds (e.g. applied / stale), counted in `bodyKinds`;
   * the kind UNEXPECTED (or a throw) makes the run invalid.
   */
  classifyBody?: (body: string) => string;
  /** Per-request timeout in seconds. */
  timeoutS?: number;
  /**
   * Open-loop rate (requests/s over all connections); absent or 0 = closed
   * loop, as fast as the server answers. With a rate, autocannon corrects
   * latencies for coordinated omission.
   */
  ratePerSecond?: number;
}

export interface LoadSummary {
  /** Completed requests (any status). */
  requests: number;
  durationS: number;
  /** Completed requests per second over the whole run. */
  perSecond: number;
  latencyMs: { avg: number; p50: number; p90: number; p99: number; max: number };
  statusCodes: Record<string, number>;
  /** Responses with a status other than 200. */
  non200: number;
  /** Connection errors, including timeouts. */
  errors: number;
  timeouts: number;
  /** 200 responses by what `classifyBody` said of them. */
  bodyKinds: Record<string, number>;
  /** 200 responses classified UNEXPECTED. */
  mismatches: number;
  /** A few bodies that were not as expected, to show when failing. */
  badBodies: string[];
}

function assertLoopback(baseUrl: string): void {
  const { hostname } = new URL(baseUrl);
  if (hostname !== '127.0.0.1') throw new Error(`refusing to send load to ${hostname}: only 127.0.0.1 is allowed`);
}

export async function runLoad(options: LoadOptions): Promise<LoadSummary> {
  assertLoopback(options.baseUrl);
  if (options.amount === undefined && (options.durationS === undefined || options.durationS <= 0)) {
    throw new Error('runLoad needs a positive durationS or an amount');
  }
  const badBodies: string[] = [];
  const classify = options.classifyBody;
  const bodyKinds: Record<string, number> = {};
  const result = await autocannon({
    url: options.baseUrl,
    connections: options.connections,
    pipelining: 1,
    ...(options.amount !== undefined ? { amount: options.amount } : { duration: options.durationS }),
    timeout: options.timeoutS ?? 10,
    ...(options.ratePerSecond ? { overallRate: options.ratePerSecond } : {}),
    requests: [
      {
        setupRequest: (request) => {
          const next = options.next();
          request.method = next.method;
          request.path = next.path;
          request.headers = { ...next.headers };
          request.body = next.body ?? '';
          return request;
        },
        onResponse: (status, body) => {
          let kind = 'ok';
          if (status === 200 && classify) {
            try {
              kind = classify(body);
            } catch {
              kind = UNEXPECTED;
            }
            bodyKinds[kind] = (bodyKinds[kind] ?? 0) + 1;
          }
          if ((status !== 200 || kind === UNEXPECTED) && badBodies.length < 5) badBodies.push(`${status} ${body.slice(0, 500)}`);
        },
      },
    ],
  });
  const statusCodes: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = Number(count);
  const non200 = Object.entries(statusCodes).reduce((n, [code, count]) => (code === '200' ? n : n + count), 0);
  return {
    requests: result.requests.total,
    durationS: result.duration,
    perSecond: result.duration > 0 ? result.requests.total / result.duration : 0,
    latencyMs: {
      avg: result.latency.average,
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
    },
    statusCodes,
    non200,
    errors: result.errors,
    timeouts: result.timeouts,
    bodyKinds,
    mismatches: bodyKinds[UNEXPECTED] ?? 0,
    badBodies,
  };
}

/** Why a load run is not a valid measurement, or null when every request got the expected 200. */
export function loadProblems(label: string, summary: LoadSummary): string | null {
  const problems: string[] = [];
  if (summary.requests === 0) problems.push('no request completed');
  if (summary.non200 > 0) problems.push(`${summary.non200} non-200 responses (${JSON.stringify(summary.statusCodes)})`);
  if (summary.errors > 0) problems.push(`${summary.errors} connection errors (${summary.timeouts} timeouts)`);
  if (summary.mismatches > 0) problems.push(`${summary.mismatches} unexpected 200 bodies`);
  if (problems.length === 0) return null;
  const samples = summary.badBodies.length ? `\n  sample bodies:\n    ${summary.badBodies.join('\n    ')}` : '';
  return `${label}: ${problems.join('; ')}${samples}`;
}
