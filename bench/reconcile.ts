/**
 * Reconcile benchmark: 1,000 deployments (3 replicas each, at most one per hive) over 10,000 hives.
 *
 *   npm run bench:reconcile                        # 10,000 hives, 1,000 deployments
 *   npm run bench:reconcile -- --hives 1000 --deployments 100 --duration 5 --rounds 2
 *
 * (a) One reconcile pass, in process: the built queen's app (SQLite in a temp dir, a manual clock, the
 *     reconcile timer out of the way so that every pass measured is one this process runs), hives
 *     whose API is a stub HTTP server in this process that accepts every spawn and stop, heartbeats
 *     through the queen's own heartbeat service. Once every replica is reported ready: --passes passes
 *     in which nothing changes, then --trials times 100 hives go silent past RESCHEDULE_AFTER_MS and one
 *     pass replaces their workers (and afterwards, with the hives back, a pass stops the surplus ones).
 * (b) Heartbeat throughput while reconciling: two built queens as child processes in their default
 *     configuration, both on core 0 (autocannon in this process on the last core), take closed-loop
 *     heartbeats in turns of --slice seconds, --duration seconds each a window. In each of --rounds rounds one queen
 *     (the two take turns) gets the deployments and places and starts their 3,000 workers (paced:
 *     200 at once, then 30 a second) while the other, with none, is the control; then the deployments
 *     are deleted and their workers stopped. Before the first round, uncounted, both queens roll out
 *     once. See {@link heartbeatsWhileReconciling} for the figure.
 *
 * Prints p50/p99 per case, the throughput ratio and PASS/FAIL per target; writes JSON. Exit code 0
 * whatever the targets say; 1 when the measurement is invalid; 2 on bad flags.
 */
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Dispatcher, Pool } from 'undici';
import { createQueenApp } from '../src/app.setup';
import { DeploymentCatalog } from '../src/catalog/deployment-catalog';
import { Reconciler } from '../src/deployments/reconciler.service';
import { DeploymentsService } from '../src/deployments/deployments.service';
import { HeartbeatService } from '../src/heartbeat/heartbeat.service';
import { HivesService } from '../src/hives/hives.service';
import { ManualClock } from '../src/platform/clock/clock';
import { loadConfig } from '../src/platform/config/queen-config';
import { readCommandLine } from './lib/args';
import { ChildServer, stolenSecondsByCore } from './lib/child-server';
import { fmtInt, fmtNum, machineInfo, progress, table, target, writeJson } from './lib/format';
import { classifyHeartbeatAck, HeartbeatFeed } from './lib/heartbeat-feed';
import { registerHives } from './lib/hives';
import { loadProblems, runLoad } from './lib/load';
import { exitCodeFor, pinLoadGenerator, runBenchmark } from './lib/run';

const DIST = resolve(__dirname, '..');
const PROJECT = process.cwd();
const GiB = 2 ** 30;
const OFFLINE_HIVES = 100;

const FLAGS = {
  hives: { default: 10_000, min: 10, max: 100_000, help: 'hives' },
  deployments: { default: 1000, min: 1, max: 10_000, help: 'deployments of 3 replicas each, at most one per hive' },
  passes: { default: 200, min: 10, max: 10_000, help: '(a) passes measured when nothing changes' },
  trials: { default: 5, min: 1, max: 100, help: '(a) times 100 hives go silent' },
  duration: { default: 15, min: 1, max: 600, help: '(b) measured seconds of heartbeats to each queen, each window' },
  slice: { default: 3, min: 1, max: 60, help: '(b) seconds one queen takes the heartbeats before the other takes its turn' },
  rounds: { default: 6, min: 2, max: 20, help: '(b) rollouts, the two queens taking turns' },
  connections: { default: 50, min: 1, max: 1000, help: '(b) concurrent keep-alive connections' },
  out: { default: 'bench/results/reconcile-latest.json', help: 'JSON results file' },
};

/** A hive API that accepts every spawn and stop, for every hive at once. */
function startStubHive(): Promise<Server> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return new Promise((done) => server.listen(0, '127.0.0.1', () => done(server)));
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
const summarize = (samples: number[]) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return { n: sorted.length, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted.at(-1)! };
};

async function inProcess(flags: { hives: number; deployments: number; passes: number; trials: number }) {
  const dir = mkdtempSync(join(tmpdir(), 'queen-bench-reconcile-'));
  const stub = await startStubHive();
  const clock = new ManualClock(Date.parse('2026-11-27T10:00:00Z'));
  const config = loadConfig({
    DATABASE_URL: `sqlite://${join(dir, 'queen.sqlite')}`,
    QUEEN_DATA_DIR: dir,
    LOG_LEVEL: 'silent',
    OVERLOAD_LAG_MS: '0',
    RECONCILE_INTERVAL_MS: '600000',
  });
  const app = await createQueenApp({ config, clock });
  await app.init();
  try {
    const hives = app.get(HivesService);
    const heartbeats = app.get(HeartbeatService);
    const reconciler = app.get(Reconciler);
    const records = app.get(DeploymentCatalog);
    const port = (stub.address() as AddressInfo).port;
    progress(`(a) registering ${fmtInt(flags.hives)} hives in process`);
    const tokens: { id: string; token: string; sequence: number }[] = [];
    for (let i = 0; i < flags.hives; i++) {
      const id = `h-${String(i).padStart(6, '0')}`;
      const { token } = await hives.create({ id, host: '127.0.0.1', port });
      tokens.push({ id, token, sequence: 0 });
    }
    /** Per hive, the workers its heartbeats report: those recorded for it, Idle. */
    let workersOn = new Map<string, { workerId: string; device: string }[]>();
    const beat = (hive: (typeof tokens)[number]) => {
      hive.sequence++;
      const workers = workersOn.get(hive.id) ?? [];
      heartbeats.receive(
        {
          hive_id: hive.id,
          timestamp: new Date(clock.now()).toISOString(),
          sequence: hive.sequence,
          ...(hive.sequence === 1
            ? { capabilities: { cpu_cores: 32, ram_bytes: 128 * GiB, gpus: [0, 1].map((index) => ({ index, name: 'RTX 4090', vram_bytes: 24 * GiB, backend: 'cuda' })) } }
            : {}),
          workers: workers.map((w) => ({ worker_id: w.workerId, state: 'Idle', model_id: 'llama-3-8b', backend: 'cuda', device_id: Number(w.device.split(':')[1]), vram_bytes: 8 * GiB })),
        },
        hive.token,
      );
    };
    const refreshWorkers = () => {
      workersOn = new Map();
      for (const w of records.allWorkers()) {
        if (w.replaced) continue;
        const list = workersOn.get(w.hiveId) ?? [];
        list.push({ workerId: w.workerId, device: w.device });
        workersOn.set(w.hiveId, list);
      }
    };
    for (const hive of tokens) beat(hive);

    progress(`(a) creating ${fmtInt(flags.deployments)} deployments`);
    const deployments = app.get(DeploymentsService);
    for (let d = 0; d < flags.deployments; d++) {
      await deployments.create({ name: `d-${String(d).padStart(5, '0')}`, model_id: 'llama-3-8b', replicas: 3, vram_bytes: 8 * GiB, max_per_hive: 1 });
    }
    const readyCount = () => deployments.list(10_000, 0).items.filter((d) => d.status.ready === 3).length;
    /**
     * Passes until every replica is running and reported, and nothing is left over. Starts are paced (a
     * burst, then a rate on the queen's clock), so the clock moves on between passes, every hive beating
     * with the workers recorded for it.
     */
    const settle = async () => {
      for (let round = 0; round < 1000; round++) {
        await reconciler.runOnce();
        refreshWorkers();
        for (const hive of tokens) beat(hive);
        await reconciler.runOnce();
        if (readyCount() === flags.deployments && [...records.allWorkers()].length === flags.deployments * 3) return;
        clock.advance(5_000);
      }
      throw new Error(`only ${readyCount()} of ${flags.deployments} deployments became ready`);
    };
    await settle();
    const ready = readyCount();
    progress(`(a) ${fmtInt([...records.allWorkers()].length)} workers recorded, ${fmtInt(ready)} of ${fmtInt(flags.deployments)} deployments ready`);

    const quiet: number[] = [];
    for (let i = 0; i < flags.passes; i++) {
      const started = performance.now();
      await reconciler.runOnce();
      quiet.push(performance.now() - started);
    }

    const offline: number[] = [];
    const recovery: number[] = [];
    /** Workers on the silent hives, per trial. */
    const evicted: number[] = [];
    for (let trial = 0; trial < flags.trials; trial++) {
      const silent = new Set(tokens.slice(trial * OFFLINE_HIVES, (trial + 1) * OFFLINE_HIVES).map((hive) => hive.id));
      // 65 s in steps of 13 s: the others keep beating, the 100 stay silent past RESCHEDULE_AFTER_MS (60 s).
      for (let step = 0; step < 5; step++) {
        clock.advance(13_000);
        for (const hive of tokens) if (!silent.has(hive.id)) beat(hive);
      }
      evicted.push([...records.allWorkers()].filter((w) => silent.has(w.hiveId)).length);
      const started = performance.now();
      await reconciler.runOnce();
      offline.push(performance.now() - started);
      refreshWorkers();
      for (const hive of tokens) if (!silent.has(hive.id)) beat(hive);
      // The silent hives come back still running their old workers: surplus, stopped in the next pass.
      for (const w of records.allWorkers()) {
        if (!w.replaced || !silent.has(w.hiveId)) continue;
        const list = workersOn.get(w.hiveId) ?? [];
        list.push({ workerId: w.workerId, device: w.device });
        workersOn.set(w.hiveId, list);
      }
      for (const hive of tokens) if (silent.has(hive.id)) beat(hive);
      const back = performance.now();
      await reconciler.runOnce();
      recovery.push(performance.now() - back);
      // The replacements the start budget held back follow, so that each trial starts from a full fleet.
      await settle();
    }
    return { quiet: summarize(quiet), offline: summarize(offline), recovery: summarize(recovery), evicted, ready, workers: [...records.allWorkers()].length };
  } finally {
    await app.close();
    stub.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A queen child process on core 0 with its hives registered, every hive's first beat applied, warmed up. */
interface LoadedQueen {
  server: ChildServer;
  feed: HeartbeatFeed;
  dir: string;
}

async function startLoadedQueen(name: string, flags: { hives: number; connections: number }, hivePort: number): Promise<LoadedQueen> {
  const dir = mkdtempSync(join(tmpdir(), `queen-bench-reconcile-${name}-`));
  progress(`(b) ${name} queen: starting (default configuration), registering ${fmtInt(flags.hives)} hives`);
  const server = await ChildServer.start({ name: `${name} queen`, script: join(DIST, 'src/main.js'), env: { QUEEN_DATA_DIR: dir }, cwd: PROJECT, cpus: '0' });
  const { hives } = await registerHives({ baseUrl: server.baseUrl, count: flags.hives, hivePort });
  const feed = new HeartbeatFeed(hives);
  await runLoad({ baseUrl: server.baseUrl, connections: 20, amount: hives.length, next: feed.next, classifyBody: classifyHeartbeatAck });
  await runLoad({ baseUrl: server.baseUrl, connections: flags.connections, durationS: 3, next: feed.next, classifyBody: classifyHeartbeatAck });
  return { server, feed, dir };
}

/** One queen's side of a measured window: its own slices. */
interface WindowSide {
  perSecond: number;
  /** The highest of its slices' p99 latencies. */
  p99: number;
  /** CPU of the whole process (every thread) over its slices. */
  cpuSeconds: number;
  /** Seconds it took heartbeats. */
  loadedSeconds: number;
  perCpuSecond: number;
}

/** A window of heartbeats to the queens in turn, and how the first queen did against the second. */
interface Window {
  sides: [WindowSide, WindowSide];
  /** Heartbeats/s of the first queen over the second's. */
  throughput: number;
  /** Heartbeats per CPU second of the first queen over the second's. */
  efficiency: number;
  /** Fraction of the window's wall time the hypervisor took from the queens' core and from the load generator's; null when unknown. */
  steal: { queens: number; loadGenerator: number } | null;
}

/** Fraction of core 0 the two queens must use between them for a window to measure the queens, not the load generator. */
const SATURATED = 0.9;
/** The order in which the queens take the slices of a window, repeated: ABBA, so that a steady drift of the machine's speed over a window weighs on both alike. */
const TURNS = [0, 1, 1, 0];

/**
 * Closed-loop heartbeats to one queen at a time, the two taking turns in `slice` second slices until
 * each had `duration` seconds: the loaded queen has core 0 to itself but for what the other does in the
 * background (the rollout queen goes on reconciling while the control takes its heartbeats). Per queen:
 * what it answered and the CPU it used in its own slices.
 */
async function measureWindow(label: string, queens: [LoadedQueen, LoadedQueen], flags: { duration: number; slice: number; connections: number }, errors: string[]): Promise<Window> {
  progress(`(b) ${flags.duration} s of heartbeats to each queen in turn, ${label}`);
  const totals = queens.map(() => ({ requests: 0, seconds: 0, cpuSeconds: 0, p99: 0 }));
  let busyCpuSeconds = 0;
  let wallSeconds = 0;
  const stolenBefore = stolenSecondsByCore();
  const slices = 2 * Math.max(1, Math.round(flags.duration / flags.slice));
  for (let slice = 0; slice < slices; slice++) {
    const turn = TURNS[slice % TURNS.length];
    const queen = queens[turn];
    const cpuBefore = queens.map((each) => each.server.cpuSeconds() ?? NaN);
    const startedAt = performance.now();
    const load = await runLoad({ baseUrl: queen.server.baseUrl, connections: flags.connections, durationS: flags.slice, next: queen.feed.next, classifyBody: classifyHeartbeatAck });
    wallSeconds += (performance.now() - startedAt) / 1000;
    const cpu = queens.map((each, i) => (each.server.cpuSeconds() ?? NaN) - cpuBefore[i]);
    const problem = loadProblems(`${label}, ${queenName(turn)} queen, slice ${slice + 1}`, load);
    if (problem) errors.push(problem);
    const total = totals[turn];
    total.requests += load.requests;
    total.seconds += load.durationS;
    total.cpuSeconds += cpu[turn];
    total.p99 = Math.max(total.p99, load.latencyMs.p99);
    busyCpuSeconds += cpu[0] + cpu[1];
  }
  const sides = totals.map(
    (total): WindowSide => ({ perSecond: total.requests / total.seconds, p99: total.p99, cpuSeconds: total.cpuSeconds, loadedSeconds: total.seconds, perCpuSecond: total.requests / total.cpuSeconds }),
  ) as [WindowSide, WindowSide];
  const stolenAfter = stolenSecondsByCore();
  const stolen = (core: number) => (stolenAfter![core] - stolenBefore![core]) / wallSeconds;
  const steal = stolenBefore && stolenAfter ? { queens: stolen(0), loadGenerator: stolen(cpus().length - 1) } : null;
  const busy = busyCpuSeconds / wallSeconds;
  if (!(busy >= SATURATED)) {
    const host = steal ? ` (the hypervisor took ${fmtNum(steal.queens * 100, 1)}% of core 0 and ${fmtNum(steal.loadGenerator * 100, 1)}% of the load generator's core)` : '';
    errors.push(`${label}: the queens used ${fmtNum(busy * 100, 0)}% of core 0${host}; the load generator, not the queens, set the pace`);
  }
  return { sides, throughput: sides[0].perSecond / sides[1].perSecond, efficiency: sides[0].perCpuSecond / sides[1].perCpuSecond, steal };
}

const deploymentName = (d: number) => `d-${String(d).padStart(5, '0')}`;
/** The queens of (b) by position: 0 the first started, 1 the second. */
const queenName = (index: number) => (index === 0 ? 'first' : 'second');

/** Times one request is sent while the queen answers "come back later" (429 or 503 with Retry-After). */
const MAX_ATTEMPTS = 30;

/**
 * The deployments, 8 requests at a time; each answer must be `status`. A queen that sheds admin requests
 * while its event loop runs late (429) or finds its database busy (503) is asked again after the
 * Retry-After it gives, as a client should.
 */
async function forEachDeployment(queen: LoadedQueen, count: number, status: number, request: (name: string) => Dispatcher.RequestOptions, errors: string[]): Promise<void> {
  const pool = new Pool(queen.server.baseUrl, { connections: 8 });
  await Promise.all(
    Array.from({ length: 8 }, async (_, lane) => {
      for (let d = lane; d < count; d += 8) {
        const options = request(deploymentName(d));
        for (let attempt = 1; ; attempt++) {
          const res = await pool.request(options);
          await res.body.text();
          const retryAfterS = Number(res.headers['retry-after']) || 1;
          if ((res.statusCode === 429 || res.statusCode === 503) && attempt < MAX_ATTEMPTS) {
            await new Promise((wait) => setTimeout(wait, retryAfterS * 1000));
            continue;
          }
          if (res.statusCode !== status) errors.push(`${res.statusCode} from ${options.method} /v1/deployments (expected ${status}, attempt ${attempt})`);
          break;
        }
      }
    }),
  );
  await pool.close();
}

async function createDeployments(queen: LoadedQueen, count: number, errors: string[]): Promise<void> {
  await forEachDeployment(
    queen,
    count,
    201,
    (name) => ({
      method: 'POST',
      path: '/v1/deployments',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name, model_id: 'llama-3-8b', replicas: 3, vram_bytes: 8 * GiB, max_per_hive: 1 }),
    }),
    errors,
  );
}

/** Deletes the deployments and waits until the queen has stopped every worker it started. */
async function retireDeployments(queen: LoadedQueen, count: number, errors: string[]): Promise<void> {
  await forEachDeployment(queen, count, 202, (name) => ({ method: 'DELETE', path: `/v1/deployments/${name}` }), errors);
  const settleBy = Date.now() + 120_000;
  for (let now = await reconcileCounts(queen); now.stopped < now.started; now = await reconcileCounts(queen)) {
    if (Date.now() > settleBy) {
      errors.push(`only ${now.stopped} of ${now.started} workers stopped 2 min after the deployments were deleted`);
      return;
    }
    await new Promise((wait) => setTimeout(wait, 200));
  }
}

async function reconcileCounts(queen: LoadedQueen) {
  const metrics = await (await fetch(`${queen.server.baseUrl}/metrics`)).text();
  const count = (action: string) => Number(new RegExp(`queen_reconcile_actions_total\\{action="${action}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
  return { started: count('start'), stopped: count('stop'), passes: Number(/queen_reconcile_duration_seconds_count (\d+)/.exec(metrics)?.[1] ?? 0) };
}

/** One rollout: what it did, and the rollout queen against the control during it and in the windows on either side. */
interface Round {
  /** 0 or 1: which queen rolled out. */
  rollout: number;
  started: number;
  passes: number;
  during: Window;
  throughputRatio: number;
  efficiencyRatio: number;
  /**
   * The rollout's CPU as a fraction of the core in the rollout queen's slices: per CPU second it answered
   * (1 - efficiencyRatio) fewer heartbeats, so that much of the CPU it had went to the rollout.
   */
  rolloutCores: number;
}

/**
 * (b): two queens on core 0 take closed-loop heartbeats in turns of --slice seconds (see
 * {@link measureWindow}); in each round one of them rolls out the deployments while the other, with none,
 * is the control. Turns a few seconds apart see nearly the same machine, which a queen measured against
 * itself before and after does not: on a shared VM, consecutive 2 s windows of one queen with nothing
 * else to do range over more than 2x. Loading both at once would see the very same moment, but each
 * queen would have half a core, and the rollout's CPU would weigh twice what it does on a queen in its
 * default setting. A round's figures are the rollout queen's heartbeats/s and heartbeats per CPU second
 * over the control's during the rollout, against the same ratios in the windows with no deployments on
 * either side (which takes out what differs between two processes); the queens take turns rolling out,
 * and the benchmark's figure is the lower of the two means over the rounds. Heartbeats per CPU second
 * count each queen's own CPU, while the control's heartbeats/s also lose what the rollout queen's
 * reconciling takes from the core in the control's slices, which flatters heartbeats/s.
 */
async function heartbeatsWhileReconciling(flags: { hives: number; deployments: number; duration: number; slice: number; connections: number; rounds: number }, errors: string[]) {
  const stub = await startStubHive();
  const hivePort = (stub.address() as AddressInfo).port;
  const started: LoadedQueen[] = [];
  try {
    for (const index of [0, 1]) started.push(await startLoadedQueen(queenName(index), flags, hivePort));
    const queens = started as [LoadedQueen, LoadedQueen];
    // Not counted, nor judged: both queens roll out once while taking heartbeats. After its first
    // rollout a queen stays a few percent slower at heartbeats for good (the first reference window after
    // it showed so in every run); without this, that step would come between the first two reference
    // windows and count against the second round.
    progress('(b) warming up: both queens roll out the deployments once');
    for (const queen of queens) await createDeployments(queen, flags.deployments, errors);
    await measureWindow('warming up', queens, flags, []);
    for (const queen of queens) await retireDeployments(queen, flags.deployments, errors);
    const windows: Window[] = [await measureWindow('no deployments', queens, flags, errors)];
    const rounds: Round[] = [];
    for (let round = 0; round < flags.rounds; round++) {
      const rollout = round % 2;
      const queen = queens[rollout];
      progress(`(b) round ${round + 1}: creating ${fmtInt(flags.deployments)} deployments on the ${queenName(rollout)} queen`);
      const before = await reconcileCounts(queen);
      await createDeployments(queen, flags.deployments, errors);
      const during = await measureWindow(`round ${round + 1}, while the ${queenName(rollout)} queen starts their workers`, queens, flags, errors);
      const done = await reconcileCounts(queen);
      progress(`(b) round ${round + 1}: deleting the deployments; their workers stopped`);
      await retireDeployments(queen, flags.deployments, errors);
      const reference = [windows.at(-1)!, await measureWindow(`round ${round + 1}, no deployments again`, queens, flags, errors)];
      windows.push(during, reference[1]);
      // Ratios of the rollout queen over the control: the first queen's over the second's, or its inverse.
      const oriented = (value: number) => (rollout === 0 ? value : 1 / value);
      const ratio = (key: 'throughput' | 'efficiency') => oriented(during[key]) / ((oriented(reference[0][key]) + oriented(reference[1][key])) / 2);
      const efficiencyRatio = ratio('efficiency');
      rounds.push({
        rollout,
        started: done.started - before.started,
        passes: done.passes - before.passes,
        during,
        throughputRatio: ratio('throughput'),
        efficiencyRatio,
        rolloutCores: ((1 - efficiencyRatio) * during.sides[rollout].cpuSeconds) / during.sides[rollout].loadedSeconds,
      });
    }
    const mean = (key: 'throughputRatio' | 'efficiencyRatio' | 'rolloutCores') => rounds.reduce((sum, round) => sum + round[key], 0) / rounds.length;
    return {
      windows,
      rounds,
      /** Mean over the rounds of the rollout queen's heartbeats/s against the control's, over the same with no deployments. */
      throughputRatio: mean('throughputRatio'),
      /** The same for heartbeats per CPU second (every thread), which no split of the core between the queens can flatter. */
      efficiencyRatio: mean('efficiencyRatio'),
      rolloutCores: mean('rolloutCores'),
    };
  } finally {
    for (const queen of started) {
      await queen.server.stop();
      rmSync(queen.dir, { recursive: true, force: true });
    }
    stub.close();
  }
}

async function main(): Promise<number> {
  const flags = readCommandLine(process.argv.slice(2), FLAGS, 'npm run bench:reconcile --');
  if (typeof flags === 'number') return flags;
  pinLoadGenerator();
  const errors: string[] = [];
  const a = await inProcess(flags);
  const b = await heartbeatsWhileReconciling(flags, errors);
  const ms = (n: number) => `${fmtNum(n, 2)} ms`;
  console.log(`\nReconcile benchmark: ${fmtInt(flags.deployments)} deployments x 3 replicas over ${fmtInt(flags.hives)} hives`);
  const machine = machineInfo();
  console.log(`Machine: ${machine.cpus} x ${machine.cpuModel}, node ${machine.node}`);
  console.log(`\n(a) one pass, in process (${fmtInt(a.workers)} workers recorded, ${fmtInt(a.ready)} deployments ready before measuring)`);
  console.log(
    table(
      ['case', 'passes', 'p50', 'p99', 'max'],
      [
        ['nothing changes', fmtInt(a.quiet.n), ms(a.quiet.p50), ms(a.quiet.p99), ms(a.quiet.max)],
        [`${OFFLINE_HIVES} hives silent past RESCHEDULE_AFTER_MS (${a.evicted.join('/')} workers on them): evicted, replacements started`, fmtInt(a.offline.n), ms(a.offline.p50), ms(a.offline.p99), ms(a.offline.max)],
        ['those hives back: surplus workers stopped', fmtInt(a.recovery.n), ms(a.recovery.p50), ms(a.recovery.p99), ms(a.recovery.max)],
      ],
    ),
  );
  const ratio = Math.min(b.throughputRatio, b.efficiencyRatio);
  const side = (w: WindowSide) => `${fmtInt(w.perSecond)}/s, p99 ${w.p99} ms, ${fmtInt(w.perCpuSecond)}/CPU s`;
  console.log(`\n(b) heartbeats, two queens on core 0 taking turns in ${flags.slice} s slices, ${flags.duration} s each a window`);
  console.log(
    table(
      ['window', 'first queen', 'second queen', 'first/second hb/s', 'per CPU s', 'steal: core 0 / load core'],
      b.windows.map((w, i) => [
        i === 0 ? 'no deployments' : i % 2 === 1 ? `round ${(i + 1) / 2}: ${queenName(b.rounds[(i - 1) / 2].rollout)} queen rolling out` : `round ${i / 2}: no deployments again`,
        side(w.sides[0]),
        side(w.sides[1]),
        `${fmtNum(w.throughput, 3)}x`,
        `${fmtNum(w.efficiency, 3)}x`,
        w.steal ? `${fmtNum(w.steal.queens * 100, 1)}% / ${fmtNum(w.steal.loadGenerator * 100, 1)}%` : 'n/a',
      ]),
    ),
  );
  console.log(
    `\n${table(
      ['round', 'rolling out', 'workers started', 'passes since created', 'hb/s vs control', 'per CPU s vs control', 'rollout CPU'],
      b.rounds.map((r, i) => [
        String(i + 1),
        queenName(r.rollout),
        fmtInt(r.started),
        fmtInt(r.passes),
        `${fmtNum(r.throughputRatio, 3)}x`,
        `${fmtNum(r.efficiencyRatio, 3)}x`,
        `${fmtNum(r.rolloutCores * 100, 1)}% of a core`,
      ]),
    )}`,
  );
  console.log(
    `mean over the rounds, against the windows with no deployments: ${fmtNum(b.throughputRatio, 3)}x heartbeats/s, ${fmtNum(b.efficiencyRatio, 3)}x per CPU second; the lower one is the figure`,
  );
  console.log(`the rollout took ${fmtNum(b.rolloutCores * 100, 1)}% of the core in the rollout queen's slices`);
  const targets = [
    target('pass p99, nothing changes', a.quiet.p99, '<=', 20, ms),
    target(`pass p99, ${OFFLINE_HIVES} hives go offline`, a.offline.p99, '<=', 200, ms),
    target('heartbeats while reconciling / without', ratio, '>=', 0.95, (n) => `${fmtNum(n, 3)}x`),
  ];
  console.log(`\n${table(['target', 'bound', 'measured', 'verdict'], targets.map((t) => [t.name, t.target, t.measured, t.verdict]))}`);
  writeJson(join(PROJECT, flags.out), { flags, machine: machineInfo(), inProcess: a, heartbeats: { ...b, ratio }, targets, errors });
  return exitCodeFor(errors);
}

runBenchmark(main);
