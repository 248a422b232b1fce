/**
 * Three BUILT queens (`npm run build` first) on one PostgreSQL database and one Redis key prefix,
 * each through loopback proxies that a test can cut, with fake hives beating to all three as a load
 * balancer would spread them. Real processes and real time: the waits poll for what must happen,
 * with the bounds the cluster promises (a new leader within 10 s).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HeartbeatAnswer } from '../../tools/simulator/wire';
import { EventCollector, QueenProcess, scratchRedisPrefix, TcpProxy, TEST_REDIS_URL, through, until } from '../support/cluster';
import { createScratchDatabase, ScratchDatabase } from '../support/databases';
import { FakeHiveFleet, startFakeHives } from '../support/fake-hive';

const GIB = 2 ** 30;
const HIVES = ['h1', 'h2', 'h3'];

interface ClusterBody {
  queen_id: string;
  leader_id: string | null;
  term: number;
  queens: { queen_id: string }[];
}
interface HiveState {
  status: string;
  workers: { worker_id: string }[];
}

jest.setTimeout(120_000);

describe('several queens on PostgreSQL and Redis', () => {
  let database: ScratchDatabase;
  let redis: { prefix: string; drop(): Promise<void> };
  let redisProxy: TcpProxy;
  const databaseProxies: TcpProxy[] = [];
  const queens: QueenProcess[] = [];
  let fleet: FakeHiveFleet;
  const tokens = new Map<string, string>();
  const collectors: EventCollector[] = [];
  let dataDir: string;
  let beating: NodeJS.Timeout | undefined;
  /** Heartbeats answered with something else than 200 (none may be). */
  const refusedBeats: string[] = [];

  const running = () => queens.filter((queen) => queen.running);
  const leaderOf = async (queen: QueenProcess) => (await queen.get<ClusterBody>('/v1/cluster')).body;
  const leader = async (): Promise<QueenProcess | undefined> => {
    for (const queen of running()) {
      const body = await leaderOf(queen).catch(() => null);
      if (body?.leader_id === queen.id) return queen;
    }
    return undefined;
  };

  /** Every hive beats every 300 ms, hive i to queen i (the next one up when that one is down). */
  const beatOnce = async () => {
    await Promise.all(
      fleet.hives.map(async (hive, i) => {
        hive.finishLoading();
        const up = queens.filter((queen) => queen.running);
        if (up.length === 0 || !tokens.has(hive.id)) return;
        const queen = up.includes(queens[i]) ? queens[i] : up[i % up.length];
        const answer = await queen
          .send<HeartbeatAnswer>('POST', '/v1/heartbeat', hive.heartbeatBody(), { authorization: `Bearer ${tokens.get(hive.id)}` })
          .catch(() => null);
        if (answer === null) return; // the queen died under the request: the next beat goes elsewhere
        if (answer.status !== 200) refusedBeats.push(`${queen.id}: ${answer.status}`);
        else hive.recordHeartbeatAnswer(answer.body);
      }),
    );
  };

  beforeAll(async () => {
    database = await createScratchDatabase('postgres');
    redis = await scratchRedisPrefix();
    const redisUrl = new URL(TEST_REDIS_URL);
    redisProxy = await TcpProxy.start(redisUrl.hostname, Number(redisUrl.port || 6379));
    const pgUrl = new URL(database.url);
    dataDir = mkdtempSync(join(tmpdir(), 'queen-cluster-'));
    const secret = randomBytes(32).toString('hex');
    for (const id of ['queen-a', 'queen-b', 'queen-c']) {
      const proxy = await TcpProxy.start(pgUrl.hostname, Number(pgUrl.port || 5432));
      databaseProxies.push(proxy);
      queens.push(
        new QueenProcess(id, {
          DATABASE_URL: through(database.url, proxy),
          REDIS_URL: through(TEST_REDIS_URL, redisProxy),
          REDIS_KEY_PREFIX: redis.prefix,
          QUEEN_SECRET_KEY: secret,
          QUEEN_DATA_DIR: join(dataDir, id),
          HEARTBEAT_INTERVAL_MS: '1000',
          HEARTBEAT_TIMEOUT_MS: '4000',
          LIVENESS_SWEEP_MS: '200',
          RECONCILE_INTERVAL_MS: '300',
          RESCHEDULE_AFTER_MS: '60000',
          LOG_LEVEL: 'info',
        }),
      );
    }
    // The first one migrates the new database and leads; the others join it.
    for (const queen of queens) await queen.start();
    fleet = await startFakeHives(HIVES.map((id) => ({ id, gpus: [{ vramGb: 24 }] })));
    for (const queen of queens) collectors.push(new EventCollector(queen.url, ['hive.offline', 'queen.leader']));
  });

  afterAll(async () => {
    clearInterval(beating);
    for (const collector of collectors) collector.close();
    await Promise.all(queens.map((queen) => queen.kill()));
    await fleet?.close();
    await redisProxy?.close();
    for (const proxy of databaseProxies) await proxy.close();
    await redis?.drop();
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  afterEach(() => {
    // A failing test shows what the queens said.
    const state = expect.getState();
    if (state.assertionCalls > 0 && state.currentTestName && (state as { numPassingAsserts?: number }).numPassingAsserts === 0) {
      for (const queen of queens) process.stderr.write(`--- ${queen.id}\n${queen.output.slice(-40).join('\n')}\n`);
    }
  });

  it('elects one leader that every queen names, and lists the three queens', async () => {
    await until(async () => {
      const views = await Promise.all(queens.map(leaderOf));
      return views.every((view) => view.leader_id !== null && view.leader_id === views[0].leader_id && view.queens.length === 3);
    }, 'one leader named by all three queens');
    const views = await Promise.all(queens.map(leaderOf));
    expect(new Set(views.map((view) => view.term)).size).toBe(1);
    expect(views[0].term).toBeGreaterThanOrEqual(1);
    const metrics = await Promise.all(queens.map(async (queen) => (await fetch(`${queen.url}/metrics`)).text()));
    expect(metrics.filter((text) => /^queen_leader 1$/m.test(text))).toHaveLength(1);
  });

  it('a hive registered on one queen and beating to another is one story on all three', async () => {
    for (const id of HIVES) {
      const created = await queens[0].send<{ heartbeat_token: string }>('POST', '/v1/hives', fleet.registration(id));
      expect(created.status).toBe(201);
      tokens.set(id, created.body.heartbeat_token);
    }
    await until(async () => {
      const found = await Promise.all(queens.flatMap((queen) => HIVES.map((id) => queen.get(`/v1/hives/${id}`))));
      return found.every((res) => res.status === 200);
    }, 'every queen to know the hives');
    beating = setInterval(() => void beatOnce(), 300);
    await until(async () => {
      const states = await Promise.all(queens.flatMap((queen) => HIVES.map((id) => queen.get<HiveState>(`/v1/hives/${id}`))));
      return states.every((state) => state.body.status === 'online');
    }, 'every hive online on every queen');
    // The capabilities the hives sent to one queen are what the others place by.
    for (const queen of queens) {
      const placed = await queen.send<{ hive_id: string }>('POST', '/v1/placements', { model_id: 'm', vram_bytes: 16 * GIB });
      expect(placed.status).toBe(200);
    }
  });

  it('50 concurrent starts spread over the three queens into room for 3 start exactly 3', async () => {
    fleet.clearCalls();
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => queens[i % 3].send<{ worker_id: string }>('POST', '/v1/workers', { model_id: 'race-8b', vram_bytes: 16 * GIB })),
    );
    const started = answers.filter((answer) => answer.status === 201 || answer.status === 202);
    expect(started).toHaveLength(3);
    expect(answers.filter((answer) => answer.status === 409)).toHaveLength(47);
    expect(fleet.spawnCalls()).toHaveLength(3);
    expect(new Set(fleet.calls.filter((call) => call.kind === 'spawn').map((call) => call.hiveId)).size).toBe(3);
    // Stopped again, to leave the room for what follows.
    for (const answer of started) {
      const stopped = await queens[0].send('DELETE', `/v1/workers/${answer.body.worker_id}`);
      expect(stopped.status).toBeLessThan(300);
    }
    await until(() => fleet.hives.every((hive) => hive.listWorkers().length === 0), 'the workers to be gone');
  });

  it('a leader cut from PostgreSQL stops leading, says so in /health/ready, and another leads', async () => {
    const cutLeader = (await leader())!;
    const index = queens.indexOf(cutLeader);
    const termBefore = (await leaderOf(cutLeader)).term;
    databaseProxies[index].cut();
    try {
      await until(async () => {
        const ready = await cutLeader.get<{ checks?: { cluster?: { status: string; leading: boolean } } }>('/health/ready');
        return ready.status === 503 && ready.body.checks?.cluster?.status === 'down' && ready.body.checks.cluster.leading === false;
      }, 'the cut queen to report it does not lead', 10_000);
      const others = queens.filter((queen) => queen !== cutLeader);
      await until(async () => {
        const views = await Promise.all(others.map(leaderOf));
        return views.every((view) => view.leader_id !== null && view.leader_id !== cutLeader.id && view.term > termBefore);
      }, 'another queen to lead in a later term', 15_000);
      // Heartbeats sent to the cut queen are still answered.
      expect(refusedBeats).toEqual([]);
    } finally {
      databaseProxies[index].restore();
    }
    await until(async () => (await cutLeader.get('/health/ready')).status === 200, 'the cut queen to be ready again as a follower');
    expect((await leaderOf(cutLeader)).leader_id).not.toBe(cutLeader.id);
  });

  it('Redis away for 5 s: heartbeats are answered, the queens catch up, and no hive is marked offline', async () => {
    redisProxy.cut();
    const cutAt = Date.now();
    await until(() => Date.now() - cutAt >= 5000, '5 s of Redis away', 6000);
    expect(refusedBeats).toEqual([]);
    redisProxy.restore();
    await until(async () => {
      const ready = await Promise.all(queens.map((queen) => queen.get<{ details: { cluster?: { fanout: string } } }>('/health/ready')));
      return ready.every((res) => res.status === 200 && res.body.details.cluster?.fanout === 'connected');
    }, 'every queen to be caught up', 15_000);
    for (const queen of queens) {
      const states = await Promise.all(HIVES.map((id) => queen.get<HiveState>(`/v1/hives/${id}`)));
      expect(states.map((state) => state.body.status)).toEqual(['online', 'online', 'online']);
    }
    expect(collectors.flatMap((collector) => collector.of('hive.offline'))).toEqual([]);
  });

  it('kill -9 of the leader: another leads within 10 s, no hive goes offline, the deployment keeps exactly its replicas', async () => {
    fleet.clearCalls();
    const created = await queens[1].send('POST', '/v1/deployments', { name: 'kept', model_id: 'kept-8b', replicas: 2, vram_bytes: 16 * GIB, max_per_hive: 1 });
    expect(created.status).toBe(201);
    await until(async () => {
      const views = await Promise.all(running().map((queen) => queen.get<{ status: { ready: number } }>('/v1/deployments/kept')));
      return views.every((view) => view.body.status.ready === 2);
    }, 'two ready replicas seen by every queen', 20_000);
    expect(fleet.spawnCalls()).toHaveLength(2);

    const killed = (await leader())!;
    const termBefore = (await leaderOf(killed)).term;
    // Acknowledged by the leader just before it dies: kept.
    const lastWrite = await killed.send('POST', '/v1/hives', { id: 'written-before-kill', host: '127.0.0.1', port: 9 });
    expect(lastWrite.status).toBe(201);
    await killed.kill();
    const survivors = queens.filter((queen) => queen !== killed);
    const tookMs = await until(async () => {
      const views = await Promise.all(survivors.map(leaderOf));
      return views.every((view) => view.leader_id !== null && view.leader_id !== killed.id && view.term > termBefore && view.leader_id === views[0].leader_id);
    }, 'a new leader', 10_000);
    expect(tookMs).toBeLessThanOrEqual(10_000);

    // The new leader reconciles a few times; nothing is started again.
    const newLeader = (await leader())!;
    const passes = async () => Number(/^queen_reconcile_duration_seconds_count (\d+)/m.exec(await (await fetch(`${newLeader.url}/metrics`)).text())?.[1] ?? 0);
    const passesBefore = await passes();
    await until(async () => (await passes()) >= passesBefore + 5, 'five passes of the new leader');
    expect(fleet.spawnCalls()).toHaveLength(2);
    const view = await newLeader.get<{ status: { ready: number; workers: unknown[] } }>('/v1/deployments/kept');
    expect(view.body.status.ready).toBe(2);
    expect(fleet.hives.flatMap((hive) => hive.listWorkers())).toHaveLength(2);
    for (const queen of survivors) {
      const states = await Promise.all(HIVES.map((id) => queen.get<HiveState>(`/v1/hives/${id}`)));
      expect(states.map((state) => state.body.status)).toEqual(['online', 'online', 'online']);
    }
    expect(collectors.flatMap((collector) => collector.of('hive.offline'))).toEqual([]);
    expect(refusedBeats).toEqual([]);
    for (const queen of survivors) expect((await queen.get('/v1/hives/written-before-kill')).status).toBe(200);

    // Every surviving queen streamed the new leader's event once, under the same id.
    const newTerm = (await leaderOf(newLeader)).term;
    for (const queen of survivors) {
      const collector = collectors[queens.indexOf(queen)];
      await until(() => collector.of('queen.leader').some((data) => data.term === newTerm), `${queen.id} to stream the new leader`);
      const seen = collector.seen.filter((event) => event.type === 'queen.leader' && event.data.term === newTerm);
      expect(seen).toHaveLength(1);
      expect(seen[0].data.queen_id).toBe(newLeader.id);
    }
    const ids = collectors.flatMap((collector) => collector.seen.map((event) => event.id));
    expect(ids.every((id) => id !== '')).toBe(true);
  });
});
