/**
 * Memory benchmark: the queen's RSS with a large fleet under steady heartbeats,
 * over time, and what each applied heartbeat allocates.
 *
 *   npm run bench:memory                    # 10,000 hives x 8 workers, 1,000 beats/s, 10 minutes
 *   npm run bench:memory -- --minutes 1     # quick run
 *
 * The built queen runs in its default configuration as a child process on core
 * 0, with `--trace-gc` (which only prints); this process registers the hives,
 * sends each one first beat with its capabilities and 8 workers, then beats
 * open loop at --rate, every beat with new times and loads as real agents send
 * them. RSS and heap are sampled every --sample seconds. Bytes allocated per
 * heartbeat: the young-generation bytes each scavenge found (heap before it
 * minus heap after the one before), summed over the measured window, divided
 * by the heartbeats answered in it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readCommandLine } from './lib/args';
import { ChildServer } from './lib/child-server';
import { fmtInt, fmtMiB, fmtNum, machineInfo, progress, table, target, writeJson } from './lib/format';
import { BenchHive, registerHives } from './lib/hives';
import { LoadRequest, loadProblems, runLoad } from './lib/load';
import { sample, scrapeMetrics } from './lib/metrics';
import { exitCodeFor, pinLoadGenerator, runBenchmark } from './lib/run';

const DIST = resolve(__dirname, '..');
const PROJECT = process.cwd();
const GiB = 2 ** 30;
/** The bound is 250 MB (decimal), about 238 MiB. */
const TARGET_RSS_BYTES = 250e6;

const FLAGS = {
  hives: { default: 10_000, min: 1, max: 200_000, help: 'hives registered and beating' },
  workers: { default: 8, min: 0, max: 64, help: 'workers per hive' },
  rate: { default: 1000, min: 1, max: 100_000, help: 'heartbeats per second (open loop)' },
  minutes: { default: 10, min: 1, max: 120, help: 'minutes of steady beats' },
  sample: { default: 30, min: 5, max: 600, help: 'seconds between samples' },
  out: { default: 'bench/results/memory-latest.json', help: 'JSON results file' },
};

/** Beats of the rbee shape: the same workers every time, with new times and loads. */
function feed(hives: BenchHive[], workers: number): () => LoadRequest {
  let cursor = 0;
  const sequences = new Float64Array(hives.length);
  const capabilities = `{"cpu_cores":64,"ram_bytes":${512 * GiB},"gpus":[${Array.from({ length: 8 }, (_, g) => `{"index":${g},"name":"H100","vram_bytes":${80 * GiB},"backend":"cuda"}`).join(',')}]}`;
  return () => {
    const i = cursor;
    cursor = (cursor + 1) % hives.length;
    const sequence = ++sequences[i];
    const timestamp = new Date().toISOString();
    const list = Array.from(
      { length: workers },
      (_, w) =>
        `{"worker_id":"${hives[i].id}-w${w}","state":"Idle","last_heartbeat":"${timestamp}","health_status":"healthy","url":"http://10.0.0.1:${9001 + w}",` +
        `"model_id":"llama-3-8b","backend":"cuda","device_id":${w % 8},"vram_bytes":${8 * GiB},"ram_bytes":${2 * GiB},"cpu_percent":${(sequence % 40) / 2},"gpu_percent":${(sequence * 7 + w) % 100}}`,
    ).join(',');
    return {
      method: 'POST',
      path: '/v1/heartbeat',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${hives[i].token}` },
      body: `{"hive_id":"${hives[i].id}","timestamp":"${timestamp}","sequence":${sequence}${sequence === 1 ? `,"capabilities":${capabilities}` : ''},"workers":[${list}]}`,
    };
  };
}

/** Young-generation bytes allocated, from `--trace-gc` scavenge lines: `Scavenge 303.6 (341.4) -> 295.7 (344.4) MB`. */
class AllocationCounter {
  bytes = 0;
  counting = false;
  private lastAfterMb: number | null = null;

  line(text: string): void {
    const match = /(Scavenge|Mark-Compact|Mark-Sweep)[^0-9]*([\d.]+) \([\d.]+\) -> ([\d.]+) \([\d.]+\) MB/.exec(text);
    if (!match) return;
    const before = Number(match[2]);
    const after = Number(match[3]);
    if (this.counting && this.lastAfterMb !== null && before >= this.lastAfterMb) this.bytes += (before - this.lastAfterMb) * 2 ** 20;
    this.lastAfterMb = after;
  }
}

interface Sample {
  minute: number;
  rssBytes: number | null;
  heapTotalBytes: number | null;
  heapUsedBytes: number | null;
  p99Ms: number;
}

async function main(): Promise<number> {
  const flags = readCommandLine(process.argv.slice(2), FLAGS, 'node dist/bench/memory.js');
  if (typeof flags === 'number') return flags;
  pinLoadGenerator();
  const dataDir = mkdtempSync(join(tmpdir(), 'queen-bench-memory-'));
  const allocations = new AllocationCounter();
  const errors: string[] = [];
  const samples: Sample[] = [];
  let beats = 0;
  progress('queen: starting (default configuration, --trace-gc)');
  const server = await ChildServer.start({
    name: 'queen',
    script: join(DIST, 'src/main.js'),
    env: { QUEEN_DATA_DIR: dataDir },
    nodeArgs: ['--trace-gc'],
    cwd: PROJECT,
    cpus: '0',
    onLine: (line) => allocations.line(line),
  });
  const snapshot = async (minute: number, p99Ms: number) => {
    const metrics = await scrapeMetrics(server.baseUrl);
    samples.push({
      minute,
      rssBytes: server.memory()?.rssBytes ?? null,
      heapTotalBytes: sample(metrics, 'nodejs_heap_size_total_bytes'),
      heapUsedBytes: sample(metrics, 'nodejs_heap_size_used_bytes'),
      p99Ms,
    });
    progress(`  ${fmtNum(minute, 1)} min: RSS ${fmtMiB(samples.at(-1)!.rssBytes)}, p99 ${p99Ms} ms`);
  };
  try {
    progress(`registering ${fmtInt(flags.hives)} hives`);
    const { hives } = await registerHives({ baseUrl: server.baseUrl, count: flags.hives });
    const next = feed(hives, flags.workers);
    progress('first beats (capabilities and workers)');
    await runLoad({ baseUrl: server.baseUrl, connections: 20, amount: hives.length, next });
    await snapshot(0, 0);
    allocations.counting = true;
    const rounds = Math.ceil((flags.minutes * 60) / flags.sample);
    for (let round = 1; round <= rounds; round++) {
      const summary = await runLoad({ baseUrl: server.baseUrl, connections: 20, durationS: flags.sample, ratePerSecond: flags.rate, next });
      const problem = loadProblems(`sample ${round}`, summary);
      if (problem) errors.push(problem);
      beats += summary.requests;
      await snapshot((round * flags.sample) / 60, summary.latencyMs.p99);
    }
    allocations.counting = false;
  } catch (error) {
    errors.push((error as Error).message);
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }

  const steady = samples.slice(1).map((s) => s.rssBytes ?? 0);
  const worst = steady.length ? Math.max(...steady) : null;
  const first = steady[0] ?? null;
  const bytesPerBeat = beats > 0 ? allocations.bytes / beats : null;
  const lines = [
    `Memory benchmark: ${fmtInt(flags.hives)} hives x ${flags.workers} workers, ${fmtInt(flags.rate)} heartbeats/s for ${flags.minutes} min`,
    `Machine: ${machineInfo().cpus} x ${machineInfo().cpuModel}; queen in its default configuration on core 0`,
    '',
    table(
      ['minute', 'RSS', 'heap total', 'heap used', 'p99 ms'],
      samples.map((s) => [fmtNum(s.minute, 1), fmtMiB(s.rssBytes), fmtMiB(s.heapTotalBytes), fmtMiB(s.heapUsedBytes), String(s.p99Ms)]),
    ),
    '',
    `allocated per applied heartbeat: ${bytesPerBeat === null ? 'n/a' : `${fmtInt(bytesPerBeat)} bytes`} (young generation, from --trace-gc, over ${fmtInt(beats)} heartbeats)`,
    `RSS under load: first sample ${fmtMiB(first)}, worst ${fmtMiB(worst)}, last ${fmtMiB(steady.at(-1) ?? null)}`,
    '',
    table(['target', 'bound', 'measured', 'verdict'], [target('worst RSS under load', worst, '<=', TARGET_RSS_BYTES, (n) => fmtMiB(n))].map((t) => [t.name, t.target, t.measured, t.verdict])),
  ];
  process.stdout.write(`\n${lines.join('\n')}\n`);
  writeJson(resolve(flags.out), { benchmark: 'memory', machine: machineInfo(), parameters: flags, samples, bytesPerBeat, beats, errors });
  return exitCodeFor(errors);
}

runBenchmark(main);
