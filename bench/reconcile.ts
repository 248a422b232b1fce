/**
 * Reconcile benchmark: 1,000 deployments (3 replicas each, at most one per hive) over 10,000 hives.
 *
 *   npm run bench:reconcile                        # 10,000 hives, 1,000 deployments
 *   npm run bench:reconcile -- --hives 1000 --deployments 100 --duration 5
 *
 * (a) One reconcile pass, in process: the built queen's app (SQLite in a temp dir, a manual clock, the
 *     reconcile timer out of the way so that every pass measured is one this process runs), hives
 *     whose API is a stub HTTP server in this process that accepts every spawn and stop, heartbeats
 *     through the queen's own heartbeat service. Once every replica is reported ready: --passes passes
 *     in which nothing changes, then --trials times 100 hives go silent past RESCHEDULE_AFTER_MS and one
 *     pass replaces their workers (and afterwards, with the hives back, a pass stops the surplus ones).
 * (b) Heartbeat throughput of the built queen as a child process in its default configuration (core
 *     0; autocannon in this process on the last core): --duration seconds of closed-loop heartbeats
 *     with no deployments, then the same right after the deployments are created, while the queen
 *     places and starts their 3,000 workers (paced: 200 at once, then 30 a second), then, once the
 *     deployments are deleted and their workers stopped, with no deployments again. The ratio is
 *     against the mean of the two baselines, which cancels the drift of a queen over a run.
 *
 * Prints p50/p99 per case, the throughput ratio and PASS/FAIL per target; writes JSON. Exit code 0
 * whatever the targets say; 1 when the measurement is invalid; 2 on bad flags.
 */
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Pool } from 'undici';
import { createQueenApp } from '../src/app.setup';
import { DeploymentCatalog } from '../src/catalog/deployment-catalog';
import { Reconciler } from '../src/deployments/reconciler.service';
import { DeploymentsService } from '../src/deployments/deployments.service';
import { HeartbeatService } from '../src/heartbeat/heartbeat.service';
import { HivesService } from '../src/hives/hives.service';
import { ManualClock } from '../src/platform/clock/clock';
import { loadConfig } from '../src/platform/config/queen-config';
import { readCommandLine } from './lib/args';
import { ChildServer } from './lib/child-server';
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
  duration: { default: 15, min: 1, max: 600, help: '(b) measured seconds of heartbeats, each case' },
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

async function heartbeatsWhileReconciling(flags: { hives: number; deployments: number; duration: number; connections: number }, errors: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'queen-bench-reconcile-hb-'));
  const stub = await startStubHive();
  progress('(b) queen: starting (default configuration)');
  const server = await ChildServer.start({ name: 'queen', script: join(DIST, 'src/main.js'), env: { QUEEN_DATA_DIR: dir }, cwd: PROJECT, cpus: '0' });
  try {
    const { hives } = await registerHives({ baseUrl: server.baseUrl, count: flags.hives, hivePort: (stub.address() as AddressInfo).port });
    const feed = new HeartbeatFeed(hives);
    await runLoad({ baseUrl: server.baseUrl, connections: 20, amount: hives.length, next: feed.next, classifyBody: classifyHeartbeatAck });
    await runLoad({ baseUrl: server.baseUrl, connections: flags.connections, durationS: 3, next: feed.next, classifyBody: classifyHeartbeatAck });
    progress(`(b) ${flags.duration} s of heartbeats, no deployments`);
    const before = await runLoad({ baseUrl: server.baseUrl, connections: flags.connections, durationS: flags.duration, next: feed.next, classifyBody: classifyHeartbeatAck });
    const problem = loadProblems('heartbeats without deployments', before);
    if (problem) errors.push(problem);

    progress(`(b) creating ${fmtInt(flags.deployments)} deployments`);
    const pool = new Pool(server.baseUrl, { connections: 8 });
    await Promise.all(
      Array.from({ length: 8 }, async (_, lane) => {
        for (let d = lane; d < flags.deployments; d += 8) {
          const res = await pool.request({
            method: 'POST',
            path: '/v1/deployments',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ name: `d-${String(d).padStart(5, '0')}`, model_id: 'llama-3-8b', replicas: 3, vram_bytes: 8 * GiB, max_per_hive: 1 }),
          });
          await res.body.text();
          if (res.statusCode !== 201) errors.push(`POST /v1/deployments answered ${res.statusCode}`);
        }
      }),
    );
    await pool.close();
    progress(`(b) ${flags.duration} s of heartbeats while the queen starts their workers`);
    const during = await runLoad({ baseUrl: server.baseUrl, connections: flags.connections, durationS: flags.duration, next: feed.next, classifyBody: classifyHeartbeatAck });
    const duringProblem = loadProblems('heartbeats while reconciling', during);
    if (duringProblem) errors.push(duringProblem);
    const reconcileMetrics = async () => {
      const metrics = await (await fetch(`${server.baseUrl}/metrics`)).text();
      const count = (action: string) => Number(new RegExp(`queen_reconcile_actions_total\\{action="${action}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
      return { started: count('start'), stopped: count('stop'), passes: Number(/queen_reconcile_duration_seconds_count (\d+)/.exec(metrics)?.[1] ?? 0) };
    };
    const { started, passes } = await reconcileMetrics();

    // Back to no deployments, every worker stopped, and the baseline once more: a queen's throughput
    // drifts over a run (by up to 10% here), so the run compares against the mean of a baseline on each side.
    progress(`(b) deleting the deployments; their workers stopped`);
    const deleting = new Pool(server.baseUrl, { connections: 8 });
    await Promise.all(
      Array.from({ length: 8 }, async (_, lane) => {
        for (let d = lane; d < flags.deployments; d += 8) {
          const res = await deleting.request({ method: 'DELETE', path: `/v1/deployments/d-${String(d).padStart(5, '0')}` });
          await res.body.text();
          if (res.statusCode !== 202) errors.push(`DELETE /v1/deployments answered ${res.statusCode}`);
        }
      }),
    );
    await deleting.close();
    const settleBy = Date.now() + 120_000;
    for (let now = await reconcileMetrics(); now.stopped < now.started; now = await reconcileMetrics()) {
      if (Date.now() > settleBy) {
        errors.push(`only ${now.stopped} of ${now.started} workers stopped 2 min after the deployments were deleted`);
        break;
      }
      await new Promise((done) => setTimeout(done, 200));
    }
    progress(`(b) ${flags.duration} s of heartbeats, no deployments again`);
    const after = await runLoad({ baseUrl: server.baseUrl, connections: flags.connections, durationS: flags.duration, next: feed.next, classifyBody: classifyHeartbeatAck });
    const afterProblem = loadProblems('heartbeats without deployments, after', after);
    if (afterProblem) errors.push(afterProblem);
    return {
      before: before.perSecond,
      after: after.perSecond,
      during: during.perSecond,
      beforeP99: before.latencyMs.p99,
      afterP99: after.latencyMs.p99,
      duringP99: during.latencyMs.p99,
      workersStarted: started,
      passes,
    };
  } finally {
    await server.stop();
    stub.close();
    rmSync(dir, { recursive: true, force: true });
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
  const ratio = b.during / ((b.before + b.after) / 2);
  console.log(
    `\n(b) heartbeats/s, queen child process: ${fmtInt(b.before)} without deployments (p99 ${b.beforeP99} ms), ` +
      `${fmtInt(b.during)} while reconciling (p99 ${b.duringP99} ms; ${fmtInt(b.workersStarted)} workers started, ${fmtInt(b.passes)} passes so far), ` +
      `${fmtInt(b.after)} without deployments again (p99 ${b.afterP99} ms): ${fmtNum(ratio, 3)}x the mean of the two`,
  );
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
