/**
 * The queen's admin API as queenctl calls it: one request at a time over undici's fetch, problem JSON
 * turned into {@link ProblemError}, no answer at all into {@link UnreachableError}.
 */
import { randomUUID } from 'node:crypto';

export interface Problem {
  type?: string;
  title?: string;
  status: number;
  detail?: string;
  errors?: { field: string; message: string }[];
  [extension: string]: unknown;
}

/** The queen answered with an error. */
export class ProblemError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail ?? problem.title ?? `HTTP ${problem.status}`);
  }
}

/** No answer came back (refused, timed out, DNS). */
export class UnreachableError extends Error {}

export interface Answer<T> {
  status: number;
  body: T;
  headers: Headers;
}

export interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
}

const TIMEOUT_MS = 30_000;
/** The largest page the queen serves. */
const PAGE_SIZE = 500;

export class QueenClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string | undefined,
  ) {}

  url(path: string): string {
    return new URL(path, this.baseUrl).toString();
  }

  authHeaders(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<Answer<T>> {
    let response: Response;
    try {
      response = await fetch(this.url(path), {
        method,
        headers: {
          accept: 'application/json, application/problem+json',
          ...this.authHeaders(),
          ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...options.headers,
        },
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new UnreachableError(`cannot reach the queen at ${this.baseUrl}: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
    }
    const text = await response.text();
    let body: unknown = null;
    if (text !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    if (!response.ok) {
      const problem = typeof body === 'object' && body !== null ? (body as Problem) : { status: response.status, detail: String(body ?? response.statusText) };
      throw new ProblemError({ ...problem, status: response.status });
    }
    return { status: response.status, body: body as T, headers: response.headers };
  }

  /** Every item of a paged list (`{ items, total }` with `limit` and `offset`), page by page. */
  async listAll<T>(path: string, query: Record<string, string> = {}): Promise<T[]> {
    const items: T[] = [];
    for (let offset = 0; ; offset += PAGE_SIZE) {
      const page = new URLSearchParams({ ...query, limit: String(PAGE_SIZE), offset: String(offset) });
      const { body } = await this.request<{ items: T[]; total: number }>('GET', `${path}?${page}`);
      items.push(...body.items);
      if (body.items.length === 0 || items.length >= body.total) return items;
    }
  }

  /**
   * A create that is safe to send twice: one Idempotency-Key for the command, and one more try with the
   * same key when the first got no answer (the queen then answers as it did, or runs it once).
   */
  async create<T>(path: string, body: unknown): Promise<Answer<T>> {
    const headers = { 'idempotency-key': randomUUID() };
    try {
      return await this.request<T>('POST', path, { body, headers });
    } catch (error) {
      if (!(error instanceof UnreachableError)) throw error;
      return this.request<T>('POST', path, { body, headers });
    }
  }
}
