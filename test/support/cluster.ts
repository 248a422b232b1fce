/**
 * Several queens as real processes (the BUILT server: `npm run build` first), each with its own
 * loopback proxies to PostgreSQL and Redis so that a test can cut one queen off, or all of them.
 */
import { randomBytes } from 'node:crypto';
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createConnection, createServer, Server, Socket } from 'node:net';
import { join } from 'node:path';
import Redis from 'ioredis';
import { freePort } from './ports';

const MAIN = join(__dirname, '../../dist/src/main.js');

/** The Redis server the suites use; CI has one at this address. */
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Polls `check` (real time: the queens run on their own clocks) until it holds. */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return Date.now() - started;
}

/** A fresh key prefix on the test Redis; fails with a clear message when Redis is not there. */
export async function scratchRedisPrefix(): Promise<{ prefix: string; drop(): Promise<void> }> {
  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    redis.disconnect();
    throw new Error(`cluster tests need Redis at ${TEST_REDIS_URL} (set TEST_REDIS_URL to change it): ${(error as Error).message}`);
  }
  const prefix = `queen-test-${randomBytes(4).toString('hex')}:`;
  return {
    prefix,
    drop: async () => {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    },
  };
}

/** A TCP proxy on loopback whose link can be cut (every connection closed, new ones refused) and restored. */
export class TcpProxy {
  private readonly sockets = new Set<Socket>();
  private cutOff = false;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetHost: string, targetPort: number): Promise<TcpProxy> {
    const port = await freePort();
    const server = createServer();
    const proxy = new TcpProxy(server, port);
    server.on('connection', (client) => proxy.accept(client, targetHost, targetPort));
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return proxy;
  }

  private accept(client: Socket, host: string, port: number): void {
    if (this.cutOff) {
      client.destroy();
      return;
    }
    const upstream = createConnection({ host, port });
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  }

  cut(): void {
    this.cutOff = true;
    for (const socket of this.sockets) socket.destroy();
  }

  restore(): void {
    this.cutOff = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** `url` with its host and port replaced by a proxy's. */
export function through(url: string, proxy: TcpProxy): string {
  const rewritten = new URL(url);
  rewritten.hostname = '127.0.0.1';
  rewritten.port = String(proxy.port);
  return rewritten.toString();
}

/** One queen process; its output is kept for the message of a failing test. */
export class QueenProcess {
  private child: ChildProcess | null = null;
  readonly output: string[] = [];
  port = 0;

  constructor(
    readonly id: string,
    private readonly env: Record<string, string>,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run "npm run build" first`);
    this.port ||= await freePort();
    this.child = spawn(process.execPath, [MAIN], {
      env: { PATH: process.env.PATH ?? '', PORT: String(this.port), QUEEN_ID: this.id, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => {
      this.output.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      if (this.output.length > 400) this.output.splice(0, this.output.length - 400);
    };
    this.child.stdout!.on('data', keep);
    this.child.stderr!.on('data', keep);
    await until(async () => (await fetch(`${this.url}/health/live`).catch(() => null))?.status === 200, `queen ${this.id} to serve`);
  }

  /** SIGKILL, and wait for the process to be gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }

  async get<T>(path: string): Promise<{ status: number; body: T }> {
    const res = await fetch(`${this.url}${path}`);
    return { status: res.status, body: (await res.json()) as T };
  }

  async send<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T }> {
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  }
}

/** Event types seen on one queen's /v1/events, as they arrive. */
export class EventCollector {
  readonly seen: { id: string; type: string; data: Record<string, unknown> }[] = [];
  private readonly controller = new AbortController();

  constructor(url: string, types: string[]) {
    void (async () => {
      try {
        const res = await fetch(`${url}/v1/events?types=${types.join(',')}`, { signal: this.controller.signal });
        const decoder = new TextDecoder();
        let buffered = '';
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffered += decoder.decode(chunk, { stream: true });
          let end: number;
          while ((end = buffered.indexOf('\n\n')) >= 0) {
            const frame = buffered.slice(0, end);
            buffered = buffered.slice(end + 2);
            const type = /^event: (.+)$/m.exec(frame)?.[1];
            const data = /^data: (.+)$/m.exec(frame)?.[1];
            const id = /^id: (.+)$/m.exec(frame)?.[1] ?? '';
            if (type && data) this.seen.push({ id, type, data: JSON.parse(data) as Record<string, unknown> });
          }
        }
      } catch {
        // aborted, or the queen went away
      }
    })();
  }

  of(type: string): Record<string, unknown>[] {
    return this.seen.filter((event) => event.type === type).map((event) => event.data);
  }

  close(): void {
    this.controller.abort();
  }
}
