import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { request } from 'undici';
import { canPin } from './run';

/** Every benchmark server listens here and only here. */
export const LOOPBACK = '127.0.0.1';

/** A port on the loopback interface that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolvePort(port) : reject(new Error('no port assigned'))));
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

/** Memory of a process as the kernel reports it (Linux /proc), in bytes; null elsewhere or once it is gone. */
export interface ProcessMemory {
  rssBytes: number;
  peakRssBytes: number;
}

export function processMemory(pid: number): ProcessMemory | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    const rssBytes = kb('VmRSS');
    return Number.isFinite(rssBytes) ? { rssBytes, peakRssBytes: kb('VmHWM') } : null;
  } catch {
    return null;
  }
}

let clockTicks: number | undefined;

/** Kernel clock ticks per second, the unit of /proc/<pid>/stat CPU times (almost always 100). */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** CPU seconds (user + system, all threads) a process has used so far; null when unknown. */
export function processCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond();
  } catch {
    return null;
  }
}

/**
 * Seconds the hypervisor has kept each core from this machine so far (steal, /proc/stat), by core
 * number; null when unknown. Over a window, it tells a slow host from a slow process.
 */
export function stolenSecondsByCore(): number[] | null {
  try {
    const cores: number[] = [];
    for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
      const match = /^cpu(\d+) /.exec(line);
      // user nice system idle iowait irq softirq steal ...: steal is the eighth count.
      if (match) cores[Number(match[1])] = Number(line.split(/\s+/)[8]) / ticksPerSecond();
    }
    return cores.length > 0 ? cores : null;
  } catch {
    return null;
  }
}

export interface StartServerOptions {
  /** Shown in progress lines and errors. */
  name: string;
  /** Absolute path of the JS entry point to run with this Node binary. */
  script: string;
  /** Extra variables; PORT is set by the launcher. The parent's environment is NOT inherited beyond PATH/HOME/TMPDIR. */
  env?: Record<string, string>;
  /** Node flags placed before the script, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
  /** GET path that answers 2xx once the server can take traffic. */
  readyPath?: string;
  readyTimeoutMs?: number;
  cwd?: string;
  /** Cores to pin the server to with `taskset` (e.g. `0`), where taskset exists. */
  cpus?: string;
  /** Called with every line the child writes (stdout and stderr), e.g. to read `--trace-gc`. */
  onLine?: (line: string) => void;
}

/** A server running as a child process of the benchmark, on its own loopback port. */
export class ChildServer {
  private exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private readonly exitPromise: Promise<void>;
  private readonly outputTail: string[] = [];

  private constructor(
    readonly name: string,
    readonly port: number,
    private readonly child: ChildProcess,
    onLine?: (line: string) => void,
  ) {
    this.exitPromise = new Promise((done) => {
      child.once('exit', (code, signal) => {
        this.exited = { code, signal };
        running.delete(this);
        done();
      });
    });
    // Per stream: a chunk may end in the middle of a line, which the next one finishes.
    const reader = () => {
      let partial = '';
      return (chunk: Buffer) => {
        const lines = (partial + chunk.toString('utf8')).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          if (!line.trim()) continue;
          onLine?.(line);
          this.outputTail.push(line.length > 500 ? `${line.slice(0, 500)}…` : line);
          if (this.outputTail.length > 40) this.outputTail.shift();
        }
      };
    };
    child.stdout?.on('data', reader());
    child.stderr?.on('data', reader());
    running.add(this);
  }

  static async start(options: StartServerOptions): Promise<ChildServer> {
    const port = await freePort();
    const env: Record<string, string> = {};
    for (const key of ['PATH', 'HOME', 'TMPDIR', 'LANG']) if (process.env[key]) env[key] = process.env[key]!;
    Object.assign(env, options.env, { PORT: String(port) });
    const node = [process.execPath, ...(options.nodeArgs ?? []), options.script];
    const command = options.cpus !== undefined && canPin() ? ['taskset', '-c', options.cpus, ...node] : node;
    const child = spawn(command[0], command.slice(1), {
      cwd: options.cwd ?? process.cwd(),
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const server = new ChildServer(options.name, port, child, options.onLine);
    await server.waitReady(options.readyPath ?? '/health/ready', options.readyTimeoutMs ?? 60_000);
    return server;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get baseUrl(): string {
    return `http://${LOOPBACK}:${this.port}`;
  }

  get alive(): boolean {
    return this.exited === null;
  }

  /** The last lines the child wrote (stdout and stderr), for error reports. */
  output(): string {
    return this.outputTail.join('\n');
  }

  memory(): ProcessMemory | null {
    return processMemory(this.pid);
  }

  /** Sends a signal to the child (e.g. SIGUSR2 for the profiling preload). */
  signal(signal: NodeJS.Signals): void {
    if (!this.exited) this.child.kill(signal);
  }

  cpuSeconds(): number | null {
    return processCpuSeconds(this.pid);
  }

  /** Throws, with the child's last output, if it has exited. */
  assertAlive(): void {
    if (this.exited) {
      throw new Error(
        `${this.name} exited (code ${this.exited.code}, signal ${this.exited.signal}); its last output:\n${this.output() || '(none)'}`,
      );
    }
  }

  private async waitReady(path: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      this.assertAlive();
      try {
        const res = await request(`${this.baseUrl}${path}`, { headersTimeout: 2000, bodyTimeout: 2000 });
        await res.body.dump();
        if (res.statusCode >= 200 && res.statusCode < 300) return;
        last = `HTTP ${res.statusCode}`;
      } catch (error) {
        last = (error as Error).message;
      }
      await sleep(100);
    }
    await this.stop();
    throw new Error(`${this.name} was not ready at ${path} within ${timeoutMs} ms (last: ${last}); its output:\n${this.output()}`);
  }

  /** SIGTERM, then SIGKILL if it has not exited within the grace period. */
  /** SIGKILL, as a crash would end it; resolves once it is gone. */
  async kill(): Promise<void> {
    if (this.exited) return;
    this.child.kill('SIGKILL');
    await this.exitPromise;
  }

  async stop(graceMs = 15_000): Promise<void> {
    if (this.exited) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exitPromise;
    clearTimeout(timer);
  }
}

const running = new Set<ChildServer>();

/** Children must not outlive the benchmark, whatever ends it. */
function killChildren(): void {
  for (const server of running) {
    try {
      process.kill(server.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
process.once('exit', killChildren);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killChildren();
    process.exit(130);
  });
}
