/**
 * Heartbeat benchmark: the real queen against two baselines, same load shape.
 *
 *   npm run bench:heartbeat -- --hives 10000 --duration 15 --connections 50
 *
 * Each server runs as its own child process on a free 127.0.0.1 port, pinned
 * to core 0; the load (autocannon) runs in this process, pinned to the last
 * core (taskset, where available). Servers run in --rounds alternating rounds
 * (raw, bare, queen, raw, bare, queen, ...). Per server:
 *   1. start it and wait for /health/ready;
 *   2. hives: the queen registers them through POST /v1/hives (tokens kept);
 *      baselines get the same ids with stand-in tokens;
 *   3. first-beat pass: exactly one heartbeat per hive, with capabilities;
 *      then (queen) wait until the catalog has written what first beats
 *      cause (status online, capabilities: one-off work, not steady state);
 *   4. warm-up: --warmup seconds of steady beats;
 *   5. measured: --duration seconds of steady beats, closed loop (as fast as
 *      the server answers); SQL statements and heartbeat counters are read
 *      from GET /metrics before and after;
 *   6. latency: --duration seconds open loop at --latency-rate heartbeats/s.
 *
 * The queen runs in its default configuration (as `npm start` runs it):
 * HEARTBEAT_TIMEOUT_MS, LOG_LEVEL and the rest as they come.
 *
 * Prints heartbeats/s, p50/p99 latency, ratios, the queen's SQL per heartbeat
 * and RSS, PASS/FAIL per target, and writes the same as JSON. Exit code 0
 * whatever the targets say; 1 when the measurement itself is invalid
 * (non-200 responses, errors, a server that died); 2 on bad flags.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ParsedFlags, readCommandLine } from './lib/args';
import { ChildServer } from './lib/child-server';
import { fmtInt, fmtMiB, fmtNum, machineInfo, progress, table, target, TargetResult, writeJson } from './lib/format';
import { classifyHeartbeatAck, HeartbeatFeed } from './lib/heartbeat-feed';
import { BenchHive, fakeHives, registerHives } from './lib/hives';
import { LoadSummary, loadProblems, runLoad } from './lib/load';
import { counterDelta, sample, scrapeMetrics } from './lib/metrics';
import { drain, DrainResult } from './lib/phases';
import { exitCodeFor, pinLoadGenerator, runBenchmark } from './lib/run';

/** The compiled tree this file runs from (dist/), holding the queen and the baselines. */
const DIST = resolve(__dirname, '..');
/** Results and profiles go under the working directory (npm runs scripts from the project root). */
const PROJECT = process.cwd();

const FLAGS = {
  hives: { default: 10_000, min: 1, max: 200_000, help: 'hives registered and cycled over' },
  duration: { default: 15, min: 1, max: 600, help: 'measured seconds per server' },
  connections: { default: 50, min: 1, max: 1000, help: 'concurrent keep-alive connections' },
  warmup: { default: 3, min: 0, max: 120, help: 'steady-beat warm-up seconds before measuring' },
  'register-concurrency': { default: 32, min: 1, max: 256, help: 'parallel POST /v1/hives' },
  'drain-max': { default: 600, min: 0, max: 3600, help: 'queen: longest wait (s) for first-beat catalog writes to finish' },
  'queen-timeout-ms': {
    default: 0,
    min: 0,
    max: 3_600_000,
    help: 'HEARTBEAT_TIMEOUT_MS for the queen; 0 = its default (15 s)',
  },
  rate: { default: 0, min: 0, max: 1_000_000, help: 'open-loop heartbeats/s for warm-up and measured runs; 0 = closed loop' },
  'latency-rate': { default: 1000, min: 0, max: 1_000_000, help: 'open-loop heartbeats/s of the latency phase; 0 = skip it' },
  rounds: { default: 2, min: 1, max: 10, help: 'alternating rounds over the servers' },
  servers: { default: 'raw,bare,queen', help: 'which servers, in run order (raw, bare, queen)' },
  out: { default: 'bench/results/heartbeat-latest.json', help: 'JSON results file (relative to the working directory)' },
  profile: { boolean: true as const, help: 'write a .cpuprofile of each server\'s measured run to bench/results/profiles/' },
};

type ServerKind = 'raw' | 'bare' | 'queen';

const SERVERS: Record<ServerKind, { label: string; script: string }> = {
  raw: { label: 'raw node:http', script: join(__dirname, 'baselines/raw-http.js') },
  bare: { label: 'bare Nest', script: join(__dirname, 'baselines/bare-nest.js') },
  queen: { label: 'queen', script: join(DIST, 'src/main.js') },
};

const TARGETS = { ratioToBare: 1.5, latencyP99Ms: 30, sqlPerHeartbeat: 0.01 };

interface ServerResult {
  kind: ServerKind;
  label: string;
  pid: number;
  registration?: { hives: number; seconds: number; perSecond: number };
  firstPass?: LoadSummary & { sqlStatements: number | null };
  drain?: DrainResult;
  warmup?: LoadSummary;
  measured?: LoadSummary;
  /** Open loop at --latency-rate. */
  latency?: LoadSummary;
  heartbeatsPerSecond?: number;
  round: number;
  sql?: { statements: number | null; perHeartbeat: number | null; totalDuringRun: number | null };
  queenCounters?: { applied: number | null; stale: number | null };
  /** How long one GET /metrics took with every hive registered (it blocks the event loop meanwhile). */
  metricsScrapeMs?: number;
  memory?: { rssBytes: number | null; peakRssBytes: number | null };
  /** CPU used during the measured run: robust to a busy machine where req/s is not. */
  cpu?: {
    serverSeconds: number | null;
    serverMicrosPerHeartbeat: number | null;
    /** Server CPU seconds per wall second (1.0 = one core busy). */
    serverCores: number | null;
    loadGeneratorCores: number;
    loadAverage1mBefore: number;
    loadAverage1mAfter: number;
  };
  notes: string[];
  errors: string[];
}

const SQL_METRIC = 'queen_sql_statements_total';

function delta(a: number | null, b: number | null): number | null {
  return a === null || b === null ? null : b - a;
}

type Flags = ParsedFlags<typeof FLAGS>;

async function measure(kind: ServerKind, flags: Flags, round: number): Promise<ServerResult> {
  const { label, script } = SERVERS[kind];
  const result: ServerResult = { kind, label, pid: -1, round, notes: [], errors: [] };
  const dataDir = kind === 'queen' ? mkdtempSync(join(tmpdir(), 'queen-bench-')) : null;
  const env: Record<string, string> = {};
  if (dataDir) env.QUEEN_DATA_DIR = dataDir;
  if (dataDir && flags['queen-timeout-ms'] > 0) env.HEARTBEAT_TIMEOUT_MS = String(flags['queen-timeout-ms']);
  const nodeArgs: string[] = [];
  if (flags.profile) {
    nodeArgs.push('-r', join(__dirname, 'lib/cpu-profile-preload.js'));
    Object.assign(env, { BENCH_CPU_PROFILE_DIR: join(PROJECT, 'bench/results/profiles'), BENCH_CPU_PROFILE_NAME: `heartbeat-${kind}` });
  }

  progress(`${label}: starting ${script.replace(`${PROJECT}/`, '')}`);
  let server: ChildServer;
  try {
    server = await ChildServer.start({ name: label, script, env, nodeArgs, cwd: PROJECT, cpus: '0' });
  } catch (error) {
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    result.errors.push(`could not start: ${(error as Error).message}`);
    return result;
  }
  result.pid = server.pid;
  const must = (phase: string, summary: LoadSummary) => {
    const problem = loadProblems(`${label} ${phase}`, summary);
    if (problem) throw new Error(problem);
    server.assertAlive();
  };
  const sqlNow = async () => sample(await scrapeMetrics(server.baseUrl), SQL_METRIC);
  try {
    progress(`${label}: pid ${server.pid}, listening on ${server.baseUrl}`);
    let hives: BenchHive[];
    if (kind === 'queen') {
      progress(`${label}: registering ${fmtInt(flags.hives)} hives (concurrency ${flags['register-concurrency']})`);
      const registered = await registerHives({
        baseUrl: server.baseUrl,
        count: flags.hives,
        concurrency: flags['register-concurrency'],
        onProgress: (n) => progress(`  registered ${fmtInt(n)}`),
      });
      hives = registered.hives;
      result.registration = { hives: hives.length, seconds: registered.seconds, perSecond: hives.length / registered.seconds };
      progress(`${label}: registered in ${fmtNum(registered.seconds, 1)} s (${fmtInt(result.registration.perSecond)}/s)`);
    } else {
      hives = fakeHives(flags.hives);
    }
    const feed = new HeartbeatFeed(hives);
    const connections = flags.connections;
    const base = { baseUrl: server.baseUrl, next: feed.next, classifyBody: classifyHeartbeatAck };
    const steady = { ...base, ratePerSecond: flags.rate || undefined };

    const sqlAtStart = await sqlNow();
    progress(`${label}: first-beat pass, ${fmtInt(hives.length)} heartbeats with capabilities`);
    const firstPass = await runLoad({ ...base, connections: Math.min(connections, hives.length), amount: hives.length });
    must('first-beat pass', firstPass);
    const sqlAfterFirst = await sqlNow();
    result.firstPass = { ...firstPass, sqlStatements: delta(sqlAtStart, sqlAfterFirst) };

    if (kind === 'queen') {
      // First beats leave catalog work (status, capabilities). Wait for it: silently when hives cannot
      // time out meanwhile, else under steady load.
      const underLoad = flags['queen-timeout-ms'] === 0 || flags['queen-timeout-ms'] < 1000 * flags['drain-max'] + 120_000;
      progress(`${label}: waiting for first-beat catalog writes${underLoad ? ' under steady load' : ''} (at most ${flags['drain-max']} s)`);
      const drained = await drain({
        label,
        baseUrl: server.baseUrl,
        runChunk: underLoad
          ? async (seconds) => {
              const chunk = await runLoad({ ...steady, connections, durationS: seconds });
              must('drain', chunk);
              return chunk.requests;
            }
          : undefined,
        expectOnline: hives.length,
        quietMetric: SQL_METRIC,
        // One coalesced heartbeat-time flush per chunk at most: BEGIN, UPDATE, COMMIT per 1,000 hives, with slack.
        quietPerChunk: 3 * Math.ceil(hives.length / 1000) + 4,
        maxS: flags['drain-max'],
      });
      result.drain = drained;
      progress(
        `${label}: ${drained.timedOut ? 'drain TIMED OUT' : 'drained'} after ${fmtNum(drained.seconds, 1)} s ` +
          `(${fmtInt(drained.heartbeats)} steady beats, ${fmtInt(drained.metricDelta)} SQL statements, online ${fmtInt(drained.online)})`,
      );
      if (drained.timedOut) result.notes.push(`drain timed out after ${drained.seconds} s: the measured window may include first-beat catalog writes`);
    }

    if (flags.warmup > 0) {
      progress(`${label}: warm-up ${flags.warmup} s`);
      result.warmup = await runLoad({ ...steady, connections, durationS: flags.warmup });
      must('warm-up', result.warmup);
    }

    const scrapeStarted = performance.now();
    const before = await scrapeMetrics(server.baseUrl);
    if (kind === 'queen') result.metricsScrapeMs = performance.now() - scrapeStarted;
    progress(`${label}: measuring ${flags.duration} s with ${connections} connections`);
    const load1Before = loadavg()[0];
    const cpuBefore = server.cpuSeconds();
    const selfBefore = process.cpuUsage();
    const wallBefore = performance.now();
    if (flags.profile) server.signal('SIGWINCH'); // start profiling the measured window
    const measured = await runLoad({ ...steady, connections, durationS: flags.duration });
    if (flags.profile) server.signal('SIGWINCH'); // stop and write the profile
    const wallS = (performance.now() - wallBefore) / 1000;
    const selfCpu = process.cpuUsage(selfBefore);
    const cpuAfter = server.cpuSeconds();
    const after = await scrapeMetrics(server.baseUrl);
    const memory = server.memory();
    const serverSeconds = cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore;
    result.cpu = {
      serverSeconds,
      serverMicrosPerHeartbeat: serverSeconds === null || measured.requests === 0 ? null : (serverSeconds * 1e6) / measured.requests,
      serverCores: serverSeconds === null ? null : serverSeconds / wallS,
      loadGeneratorCores: (selfCpu.user + selfCpu.system) / 1e6 / wallS,
      loadAverage1mBefore: load1Before,
      loadAverage1mAfter: loadavg()[0],
    };
    result.measured = measured;
    result.heartbeatsPerSecond = measured.perSecond;
    result.memory = { rssBytes: memory?.rssBytes ?? null, peakRssBytes: memory?.peakRssBytes ?? null };
    if (kind === 'queen') {
      const statements = counterDelta(before, after, SQL_METRIC);
      const total = sample(after, SQL_METRIC);
      result.sql = {
        statements,
        perHeartbeat: statements === null || measured.requests === 0 ? null : statements / measured.requests,
        totalDuringRun: total === null || sqlAtStart === null ? null : total - sqlAtStart,
      };
      result.queenCounters = {
        applied: counterDelta(before, after, 'queen_heartbeats_total{result="applied"}'),
        stale: counterDelta(before, after, 'queen_heartbeats_total{result="stale"}'),
      };
    }
    const problem = loadProblems(`${label} measured run`, measured);
    if (problem) result.errors.push(problem);
    if (flags['latency-rate'] > 0) {
      progress(`${label}: latency, ${flags.duration} s open loop at ${fmtInt(flags['latency-rate'])}/s`);
      result.latency = await runLoad({ ...base, connections, durationS: flags.duration, ratePerSecond: flags['latency-rate'] });
      must('latency run', result.latency);
    }
    server.assertAlive();
    progress(
      `${label}: ${fmtInt(measured.perSecond)} heartbeats/s, p50 ${measured.latencyMs.p50} ms, p99 ${measured.latencyMs.p99} ms`,
    );
  } catch (error) {
    result.errors.push((error as Error).message);
  } finally {
    await server.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
  return result;
}

function report(results: ServerResult[], flags: Flags, order: ServerKind[]) {
  // Each figure is the mean over the rounds (latency: the worst round), so one noisy round does not decide.
  const valid = (kind: ServerKind) => results.filter((r) => r.kind === kind && r.measured && r.errors.length === 0);
  const mean = (values: (number | null | undefined)[]) => {
    const known = values.filter((v): v is number => typeof v === 'number');
    return known.length ? known.reduce((a, b) => a + b, 0) / known.length : null;
  };
  const rate = (kind: ServerKind) => mean(valid(kind).map((r) => r.heartbeatsPerSecond));
  const cpu = (kind: ServerKind) => mean(valid(kind).map((r) => r.cpu?.serverMicrosPerHeartbeat));
  const over = (a: number | null, b: number | null) => (a !== null && b !== null && b > 0 ? a / b : null);
  const ratios = { queenToBareNest: over(rate('queen'), rate('bare')), queenToRaw: over(rate('queen'), rate('raw')), bareNestToRaw: over(rate('bare'), rate('raw')) };
  const cpuCostRatios = { queenToBareNest: over(cpu('queen'), cpu('bare')), queenToRaw: over(cpu('queen'), cpu('raw')) };
  const queenLatencyP99 = valid('queen').length ? Math.max(...valid('queen').map((r) => r.latency?.latencyMs.p99 ?? Infinity)) : null;

  const lines: string[] = [];
  lines.push(
    `Heartbeat benchmark: ${fmtInt(flags.hives)} hives, ${flags.connections} connections, ${flags.duration} s measured after a ${flags.warmup} s warm-up`,
  );
  lines.push(
    `Run order: ${order.map((k) => SERVERS[k].label).join(' -> ')}, ${flags.rounds} round(s) (each server a separate child process on core 0, one at a time; the load generator on the last core)`,
  );
  lines.push(
    `Load: ${flags.rate ? `open loop at ${fmtInt(flags.rate)} heartbeats/s` : 'closed loop (each connection sends its next heartbeat on the reply)'}; ` +
      `the queen in its default configuration${flags['queen-timeout-ms'] ? ` but HEARTBEAT_TIMEOUT_MS=${flags['queen-timeout-ms']}` : ''}, SQLite in a temp dir`,
  );
  const m = machineInfo();
  lines.push(`Machine: ${m.cpus} x ${m.cpuModel}, node ${m.node}`);
  const busiest = Math.max(...results.map((r) => Math.max(r.cpu?.loadAverage1mBefore ?? 0, r.cpu?.loadAverage1mAfter ?? 0)));
  if (busiest > m.cpus) {
    lines.push(
      `WARNING: the 1-min load average reached ${busiest.toFixed(1)} on ${m.cpus} CPUs: other processes competed with the ` +
        'servers, so heartbeats/s and latency (and their ratios) are unreliable; CPU µs/hb is less affected. Re-run on a quiet machine.',
    );
  }
  lines.push('');
  lines.push(
    table(
      ['server', 'round', 'heartbeats/s', 'p50 ms', 'p99 ms', 'avg ms', 'max ms', 'requests', 'stale', 'CPU µs/hb', 'cores', 'gen cores', 'load1', `p99 at ${fmtInt(flags['latency-rate'])}/s`, 'RSS after'],
      results.map((r) => [
        r.label,
        String(r.round),
        fmtInt(r.heartbeatsPerSecond),
        fmtNum(r.measured?.latencyMs.p50, 0),
        fmtNum(r.measured?.latencyMs.p99, 0),
        fmtNum(r.measured?.latencyMs.avg, 2),
        fmtNum(r.measured?.latencyMs.max, 0),
        fmtInt(r.measured?.requests),
        r.measured ? fmtInt(r.measured.bodyKinds.stale ?? 0) : 'n/a',
        fmtInt(r.cpu?.serverMicrosPerHeartbeat),
        fmtNum(r.cpu?.serverCores),
        fmtNum(r.cpu?.loadGeneratorCores),
        r.cpu ? `${fmtNum(r.cpu.loadAverage1mBefore, 1)}/${fmtNum(r.cpu.loadAverage1mAfter, 1)}` : 'n/a',
        r.latency ? `${r.latency.latencyMs.p99} ms` : 'n/a',
        fmtMiB(r.memory?.rssBytes),
      ]),
    ),
  );
  lines.push('');
  lines.push(`throughput  queen / bare Nest: ${fmtNum(ratios.queenToBareNest)}x    queen / raw: ${fmtNum(ratios.queenToRaw)}x    bare Nest / raw: ${fmtNum(ratios.bareNestToRaw)}x`);
  lines.push(
    `CPU per heartbeat  queen / bare Nest: ${fmtNum(cpuCostRatios.queenToBareNest)}x    queen / raw: ${fmtNum(cpuCostRatios.queenToRaw)}x` +
      '  (server process CPU, all threads; less sensitive than heartbeats/s to other load on the machine)',
  );
  lines.push('cores = server CPU seconds per wall second; gen cores = the same for this process (autocannon); load1 = 1-min load average before/after');
  const q = results.find((r) => r.kind === 'queen');
  if (q) {
    const sql = q.sql;
    lines.push(
      `queen SQL: ${sql?.statements === null || sql?.statements === undefined ? 'n/a' : fmtInt(sql.statements)} statements in the measured run = ` +
        `${sql?.perHeartbeat === null || sql?.perHeartbeat === undefined ? 'n/a' : sql.perHeartbeat.toFixed(5)} per heartbeat` +
        '',
    );
    if (q.queenCounters) lines.push(`queen counters (measured run): applied ${fmtInt(q.queenCounters.applied)}, stale ${fmtInt(q.queenCounters.stale)}`);
    if (q.metricsScrapeMs !== undefined) lines.push(`queen GET /metrics with ${fmtInt(flags.hives)} hives: ${fmtNum(q.metricsScrapeMs, 0)} ms`);
    if (q.registration) {
      lines.push(`queen registration: ${fmtInt(q.registration.hives)} hives in ${fmtNum(q.registration.seconds, 1)} s (${fmtInt(q.registration.perSecond)}/s)`);
    }
    if (q.firstPass) {
      lines.push(
        `queen first-beat pass: ${fmtInt(q.firstPass.perSecond)}/s, p99 ${q.firstPass.latencyMs.p99} ms; ` +
          `catalog writes drained ${q.drain ? `${fmtNum(q.drain.seconds, 1)} s later${q.drain.timedOut ? ' (TIMED OUT)' : ''}` : 'n/a'}, ` +
          `${fmtInt(delta(0, (q.firstPass.sqlStatements ?? NaN) + (q.drain?.metricDelta ?? NaN)))} statements for ${fmtInt(q.firstPass.requests)} first beats and the drain`,
      );
    }
    for (const note of q.notes) lines.push(`queen note: ${note}`);
    lines.push(`queen RSS after the run: ${fmtMiB(q.memory?.rssBytes)} (peak ${fmtMiB(q.memory?.peakRssBytes)})`);
    if (q.heartbeatsPerSecond) {
      const interval = flags.hives / q.heartbeatsPerSecond;
      lines.push(
        `queen: at ${fmtInt(q.heartbeatsPerSecond)}/s each of ${fmtInt(flags.hives)} hives beat every ${fmtNum(interval, 1)} s ` +
          `(real hives: every 5 s, i.e. ${fmtInt(flags.hives / 5)}/s needed)` +
          (interval > 15 ? '; with the default 15 s HEARTBEAT_TIMEOUT_MS hives would flap offline' : ''),
      );
    }
  }

  const targets: TargetResult[] = [
    target('queen throughput vs bare Nest (mean of rounds)', ratios.queenToBareNest, '>=', TARGETS.ratioToBare, (n) => `${n.toFixed(2)}x`),
    target(`queen p99 at ${fmtInt(flags['latency-rate'])}/s (worst round)`, queenLatencyP99, '<=', TARGETS.latencyP99Ms, (n) => `${n} ms`),
    target('queen SQL statements per heartbeat', q?.sql?.perHeartbeat ?? null, '<', TARGETS.sqlPerHeartbeat, (n) => n.toFixed(4)),
  ];
  lines.push('');
  lines.push(table(['target', 'bound', 'measured', 'verdict'], targets.map((t) => [t.name, t.target, t.measured, t.verdict])));
  return { text: lines.join('\n'), ratios, cpuCostRatios, targets };
}

async function main(): Promise<number> {
  const flags = readCommandLine(process.argv.slice(2), FLAGS, 'node dist/bench/heartbeat.js');
  if (typeof flags === 'number') return flags;
  pinLoadGenerator();
  const order = flags.servers.split(',').map((s) => s.trim()).filter(Boolean) as ServerKind[];
  const unknown = order.filter((k) => !(k in SERVERS));
  if (unknown.length || order.length === 0 || new Set(order).size !== order.length) {
    process.stderr.write(`--servers must list distinct servers out of raw, bare, queen (got "${flags.servers}")\n`);
    return 2;
  }

  const started = new Date();
  const results: ServerResult[] = [];
  for (let round = 1; round <= flags.rounds; round++) {
    for (const kind of order) results.push(await measure(kind, flags, round));
  }

  const { text, ratios, cpuCostRatios, targets } = report(results, flags, order);
  process.stdout.write(`\n${text}\n`);
  const errors = results.flatMap((r) => r.errors.map((e) => `${r.label}: ${e}`));
  writeJson(resolve(flags.out), {
    benchmark: 'heartbeat',
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: machineInfo(),
    parameters: {
      hives: flags.hives,
      durationS: flags.duration,
      warmupS: flags.warmup,
      connections: flags.connections,
      order,
      workersPerHeartbeat: 4,
      gpusPerHive: 2,
    },
    targets: { ...TARGETS, results: targets },
    ratios,
    cpuCostRatios,
    servers: results,
    errors,
  });
  progress(`results written to ${resolve(flags.out)}`);
  return exitCodeFor(errors);
}

runBenchmark(main);
