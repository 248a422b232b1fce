/**
 * Cluster benchmark: what several queens cost and buy on this machine, in one run.
 *
 *   npm run bench:cluster                       # 2,000 hives, 15 s phases, 10 kills
 *   npm run bench:cluster -- --kills 3 --seconds 5
 *
 * Every queen is the built server in its default configuration apart from what a cluster needs
 * (DATABASE_URL on a new PostgreSQL database, REDIS_URL and a key prefix of its own, a shared
 * QUEEN_SECRET_KEY), pinned to core 0; this load generator runs on the other core.
 *  1. CPU per heartbeat at a fixed open-loop rate, one queen without REDIS_URL and one with it: the
 *     price of the fan-out (serialising each applied beat into the stream, reading the others').
 *  2. Saturated heartbeat throughput, one queen against two queens, the hives' beats spread over both
 *     (by this client, as a round-robin load balancer would: no proxy takes CPU from the queens).
 *  3. Propagation: a heartbeat answered by one queen, timed until another queen's GET /v1/hives/{id}
 *     shows it (40 beats, polled every 2 ms).
 *  4. Failover: three queens; the leader is killed with SIGKILL --kills times; the time until
 *     another queen says it leads in a later term (polling GET /v1/cluster every 20 ms), then the
 *     killed one is started again as a follower.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';
import { request } from 'undici';
import { readCommandLine } from './lib/args';
import { ChildServer, sleep } from './lib/child-server';
import { fmtInt, fmtNum, machineInfo, progress, table, writeJson } from './lib/format';
import { classifyHeartbeatAck, HeartbeatFeed } from './lib/heartbeat-feed';
import { BenchHive, registerHives } from './lib/hives';
import { LoadSummary, loadProblems, runLoad } from './lib/load';
import { exitCodeFor, pinLoadGenerator, runBenchmark } from './lib/run';

const DIST = resolve(__dirname, '..');
const POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const FLAGS = {
  hives: { default: 2000, min: 10, max: 100_000, help: 'hives registered and beating' },
  seconds: { default: 15, min: 3, max: 600, help: 'seconds per load phase' },
  rate: { default: 2000, min: 100, max: 100_000, help: 'heartbeats per second for the CPU-per-beat phase' },
  connections: { default: 64, min: 2, max: 1000, help: 'keep-alive connections of the saturating phase' },
  kills: { default: 10, min: 1, max: 100, help: 'leaders killed in the failover phase' },
  out: { default: 'bench/results/cluster-latest.json', help: 'JSON results file' },
};

interface Setting {
  env: Record<string, string>;
  dataDir: string;
}

async function main(): Promise<number> {
  const flags = readCommandLine(process.argv.slice(2), FLAGS, 'npm run bench:cluster --');
  if (typeof flags === 'number') return flags;
  if (pinLoadGenerator() === 'restarted') return 0;

  const databaseName = `queen_bench_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
  await admin.connect().catch((error: Error) => {
    throw new Error(`the cluster benchmark needs PostgreSQL at ${POSTGRES_URL}: ${error.message}`);
  });
  await admin.query(`CREATE DATABASE ${databaseName}`);
  const databaseUrl = Object.assign(new URL(POSTGRES_URL), { pathname: `/${databaseName}` }).toString();
  const prefix = `queen-bench-${randomBytes(4).toString('hex')}:`;
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0 });
  await redis.connect().catch((error: Error) => {
    throw new Error(`the cluster benchmark needs Redis at ${REDIS_URL}: ${error.message}`);
  });
  const dir = mkdtempSync(join(tmpdir(), 'queen-bench-cluster-'));
  const secret = randomBytes(32).toString('hex');
  const setting = (id: string, clustered: boolean): Setting => ({
    dataDir: join(dir, id),
    env: {
      DATABASE_URL: databaseUrl,
      QUEEN_SECRET_KEY: secret,
      QUEEN_ID: id,
      QUEEN_DATA_DIR: join(dir, id),
      ...(clustered ? { REDIS_URL, REDIS_KEY_PREFIX: prefix } : {}),
    },
  });
  const start = (id: string, clustered: boolean) =>
    ChildServer.start({ name: id, script: join(DIST, 'src/main.js'), env: setting(id, clustered).env, cpus: '0', readyPath: '/health/ready' });

  const errors: string[] = [];
  const results: Record<string, unknown> = { machine: machineInfo(), flags };
  try {
    // -- 1. CPU per heartbeat, with and without the fan-out ---------------------------------------
    let hives: BenchHive[] = [];
    const cpuPerBeat: Record<string, { beats: number; cpuUs: number; p99Ms: number }> = {};
    for (const clustered of [false, true]) {
      const label = clustered ? 'with REDIS_URL' : 'without REDIS_URL';
      const queen = await start(clustered ? 'queen-a' : 'queen-solo', clustered);
      try {
        if (hives.length === 0) {
          progress(`registering ${fmtInt(flags.hives)} hives`);
          hives = (await registerHives({ baseUrl: queen.baseUrl, count: flags.hives })).hives;
        }
        const feed = new HeartbeatFeed(hives);
        await runLoad({ baseUrl: queen.baseUrl, connections: 16, amount: hives.length * 2, next: feed.next, classifyBody: classifyHeartbeatAck });
        progress(`${label}: ${fmtInt(flags.rate)} beats/s for ${flags.seconds} s`);
        const cpuBefore = queen.cpuSeconds()!;
        const load = await runLoad({ baseUrl: queen.baseUrl, connections: 32, durationS: flags.seconds, ratePerSecond: flags.rate, next: feed.next, classifyBody: classifyHeartbeatAck });
        const cpu = queen.cpuSeconds()! - cpuBefore;
        const problem = loadProblems(label, load);
        if (problem) errors.push(problem);
        cpuPerBeat[label] = { beats: load.requests, cpuUs: (cpu * 1e6) / load.requests, p99Ms: load.latencyMs.p99 };
      } finally {
        await queen.stop();
      }
    }
    results.cpuPerBeat = cpuPerBeat;

    // -- 2. Throughput: one queen against two ------------------------------------------------------
    const throughput: Record<string, number> = {};
    for (const count of [1, 2]) {
      const queens = await Promise.all(Array.from({ length: count }, (_, i) => start(`queen-${'ab'[i]}`, true)));
      try {
        const share = (i: number) => hives.filter((_, h) => h % count === i);
        const feeds = queens.map((_, i) => new HeartbeatFeed(share(i)));
        await Promise.all(queens.map((queen, i) => runLoad({ baseUrl: queen.baseUrl, connections: 16, amount: share(i).length, next: feeds[i].next, classifyBody: classifyHeartbeatAck })));
        progress(`${count} queen(s): saturating for ${flags.seconds} s`);
        const loads: LoadSummary[] = await Promise.all(
          queens.map((queen, i) =>
            runLoad({ baseUrl: queen.baseUrl, connections: Math.floor(flags.connections / count), durationS: flags.seconds, next: feeds[i].next, classifyBody: classifyHeartbeatAck }),
          ),
        );
        for (const load of loads) {
          const problem = loadProblems(`${count} queen(s)`, load);
          if (problem) errors.push(problem);
        }
        throughput[`${count} queen(s)`] = loads.reduce((sum, load) => sum + load.perSecond, 0);
      } finally {
        await Promise.all(queens.map((queen) => queen.stop()));
      }
    }
    results.throughput = throughput;

    // -- 3. Propagation and 4. failover --------------------------------------------------------------
    const ids = ['queen-a', 'queen-b', 'queen-c'];
    const queens = new Map<string, ChildServer>();
    for (const id of ids) queens.set(id, await start(id, true));
    const cluster = async (queen: ChildServer) => {
      const res = await request(`${queen.baseUrl}/v1/cluster`, { headersTimeout: 1000, bodyTimeout: 1000 });
      return (await res.body.json()) as { leader_id: string | null; term: number };
    };
    const failovers: number[] = [];
    const propagation: number[] = [];
    try {
      // How long a heartbeat answered by one queen takes to show on another's reads.
      const [first, second] = [queens.get('queen-a')!, queens.get('queen-b')!];
      const feed = new HeartbeatFeed(hives.slice(0, 20));
      for (let i = 0; i < 40; i++) {
        const beat = feed.next();
        const hiveId = (JSON.parse(beat.body!) as { hive_id: string }).hive_id;
        const seenAt = async () => {
          const res = await request(`${second.baseUrl}/v1/hives/${hiveId}`);
          return ((await res.body.json()) as { last_heartbeat_at: string | null }).last_heartbeat_at;
        };
        const before = await seenAt();
        const sent = performance.now();
        const answer = await request(`${first.baseUrl}${beat.path}`, { method: 'POST', headers: beat.headers, body: beat.body });
        await answer.body.dump();
        while ((await seenAt()) === before) {
          if (performance.now() - sent > 10_000) throw new Error('a heartbeat did not reach the other queen within 10 s');
          await sleep(2);
        }
        propagation.push(performance.now() - sent);
        await sleep(25);
      }
      for (let kill = 1; kill <= flags.kills; kill++) {
        let leaderId: string | null = null;
        let term = 0;
        while (leaderId === null) {
          const views = await Promise.all([...queens.values()].map((queen) => cluster(queen).catch(() => null)));
          const named = views.find((view) => view?.leader_id && views.every((other) => other?.leader_id === view.leader_id));
          if (named) ({ leader_id: leaderId, term } = named);
          else await sleep(50);
        }
        const killed = queens.get(leaderId)!;
        const killedAt = performance.now();
        await killed.kill();
        const survivors = [...queens.values()].filter((queen) => queen !== killed);
        for (;;) {
          const views = await Promise.all(survivors.map((queen) => cluster(queen).catch(() => null)));
          if (views.some((view, i) => view !== null && view.leader_id === survivors[i].name && view.term > term)) break;
          if (performance.now() - killedAt > 30_000) throw new Error('no queen took the lead within 30 s');
          await sleep(20);
        }
        failovers.push(performance.now() - killedAt);
        progress(`kill ${kill}: ${leaderId} (term ${term}) replaced in ${fmtNum(failovers.at(-1)!, 0)} ms`);
        queens.set(leaderId, await start(leaderId, true));
      }
    } finally {
      await Promise.all([...queens.values()].map((queen) => queen.stop()));
    }
    const sorted = [...failovers].sort((a, b) => a - b);
    const lags = [...propagation].sort((a, b) => a - b);
    const lag = { p50: lags[Math.floor(lags.length / 2)], p99: lags[Math.ceil(lags.length * 0.99) - 1], max: lags.at(-1)! };
    results.propagationMs = lag;
    results.failoverMs = { each: failovers, min: sorted[0], median: sorted[Math.floor(sorted.length / 2)], max: sorted.at(-1) };

    console.log(`\nCluster benchmark: ${fmtInt(flags.hives)} hives; queens pinned to core 0, load generator on the other core`);
    console.log('\nCPU per heartbeat at a fixed rate (the fan-out\'s cost)');
    console.log(
      table(
        ['queen', 'beats', 'CPU us/beat', 'p99 ms'],
        Object.entries(cpuPerBeat).map(([label, r]) => [label, fmtInt(r.beats), fmtNum(r.cpuUs, 1), fmtNum(r.p99Ms, 0)]),
      ),
    );
    const fanoutCost = cpuPerBeat['with REDIS_URL'].cpuUs - cpuPerBeat['without REDIS_URL'].cpuUs;
    console.log(`fan-out: ${fmtNum(fanoutCost, 1)} us more per heartbeat (${fmtNum(cpuPerBeat['with REDIS_URL'].cpuUs / cpuPerBeat['without REDIS_URL'].cpuUs, 2)}x)`);
    console.log('\nSaturated heartbeat throughput, beats spread over the queens');
    console.log(table(['queens', 'beats/s'], Object.entries(throughput).map(([label, perSecond]) => [label, fmtInt(perSecond)])));
    console.log(`two queens / one queen: ${fmtNum(throughput['2 queen(s)'] / throughput['1 queen(s)'], 2)}x (both queens share core 0)`);
    console.log(`\nA heartbeat answered by one queen, seen on another's reads (${lags.length} beats): p50 ${fmtNum(lag.p50, 0)} ms, max ${fmtNum(lag.max, 0)} ms (bound 1,000 ms)`);
    console.log(`\nFailover over ${failovers.length} kills of the leader: min ${fmtNum(sorted[0], 0)} ms, median ${fmtNum(sorted[Math.floor(sorted.length / 2)], 0)} ms, max ${fmtNum(sorted.at(-1)!, 0)} ms (bound 10,000 ms)`);
    if (lag.max > 1_000) errors.push('a heartbeat took longer than 1 s to reach another queen');
    if (sorted.at(-1)! > 10_000) errors.push('a failover took longer than 10 s');
  } finally {
    writeJson(flags.out, { ...results, errors });
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await admin.query(`DROP DATABASE IF EXISTS ${databaseName} WITH (FORCE)`);
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  }
  for (const error of errors) console.error(`error: ${error}`);
  return exitCodeFor(errors);
}

runBenchmark(main);
