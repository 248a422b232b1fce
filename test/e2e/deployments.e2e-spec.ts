/**
 * Deployments end to end: desired state over HTTP, the reconciler acting through the scheduler on fake
 * hives on loopback, a manual clock, and reconcile passes run by the test (no sleeps).
 */
import { Reconciler } from '../../src/deployments/reconciler.service';
import { expectStatus, GIB, SchedulingWorld } from './scheduling-support';
import { expectProblem } from '../support/problem';
import { DATABASE_KINDS } from '../support/databases';

const MODEL = { model_id: 'tiny-model', vram_bytes: 4 * GIB, ram_bytes: 2 * GIB };
const FOUR = ['h1', 'h2', 'h3', 'h4'].map((id) => ({ id, gpus: [{ vramGb: 24 }] }));
const ENV = { RECONCILE_INTERVAL_MS: '600000', RESCHEDULE_AFTER_MS: '60000', HEARTBEAT_TIMEOUT_MS: '15000' };

interface Status {
  ready: number;
  starting: number;
  lost: number;
  unplaced: number;
  reason: string | null;
  workers: { worker_id: string; hive_id: string; device: string; state: string }[];
}

describe.each(DATABASE_KINDS)('deployments (%s)', (database) => {
  let world: SchedulingWorld | undefined;
  afterEach(async () => {
    await world?.close();
    world = undefined;
  });

  const start = async (hives = FOUR, env: Record<string, string> = {}) => {
    world = await SchedulingWorld.start(hives, { database, env: { ...ENV, ...env } });
    return world;
  };
  const reconcile = () => world!.queen.get(Reconciler).runOnce();
  const status = async (name: string): Promise<Status> => expectStatus(await world!.http().get(`/v1/deployments/${name}`), 200).body.status as Status;
  /** Every hive that is to stay live beats (finishing any loading first), and the clock moves on. */
  const beatAll = async (hives: string[], advanceMs = 0) => {
    world!.clock.advance(advanceMs);
    for (const id of hives) {
      world!.fleet.hive(id).finishLoading();
      await world!.beat(id);
    }
  };
  const spawnsOn = (hive?: string) => world!.fleet.spawnCalls(hive) as { worker_id: string }[];

  it('places replicas=3 with max_per_hive 1 on three distinct hives, ready once reported', async () => {
    await start();
    const created = await world!.http().post('/v1/deployments').send({ name: 'chat', replicas: 3, max_per_hive: 1, ...MODEL });
    expectStatus(created, 201);
    expect(created.headers.location).toBe('/v1/deployments/chat');
    expect(created.body).toMatchObject({ name: 'chat', replicas: 3, max_per_hive: 1, strategy: 'binpack', labels: {}, backend: null });
    await reconcile();
    const hivesUsed = FOUR.map(({ id }) => id).filter((id) => spawnsOn(id).length > 0);
    expect(spawnsOn()).toHaveLength(3);
    expect(hivesUsed).toHaveLength(3);
    expect(await status('chat')).toMatchObject({ ready: 0, starting: 3, reason: 'starting' });

    await beatAll(FOUR.map(({ id }) => id));
    const ready = await status('chat');
    expect(ready).toMatchObject({ ready: 3, starting: 0, lost: 0, unplaced: 0, reason: null });
    expect(new Set(ready.workers.map((w) => w.hive_id)).size).toBe(3);
    // The workers list says which deployment each belongs to.
    const workers = expectStatus(await world!.http().get('/v1/workers'), 200).body.items as { deployment: string | null }[];
    expect(workers.map((w) => w.deployment)).toEqual(['chat', 'chat', 'chat']);
    // Nothing more to do: another pass starts nothing.
    await reconcile();
    expect(spawnsOn()).toHaveLength(3);
    const metrics = (await world!.http().get('/metrics').expect(200)).text;
    expect(metrics).toContain('queen_deployment_replicas{deployment="chat",state="desired"} 3');
    expect(metrics).toContain('queen_deployment_replicas{deployment="chat",state="ready"} 3');
    expect(metrics).toMatch(/queen_reconcile_actions_total\{action="start"\} [1-9]/);
    expect(metrics).toMatch(/queen_reconcile_duration_seconds_count [1-9]/);
  });

  it('replaces the worker of a hive silent past RESCHEDULE_AFTER_MS, and stops it when the hive comes back', async () => {
    await start();
    expectStatus(await world!.http().post('/v1/deployments').send({ name: 'chat', replicas: 3, max_per_hive: 1, ...MODEL }), 201);
    await reconcile();
    const all = FOUR.map(({ id }) => id);
    await beatAll(all);
    const silent = (await status('chat')).workers[0];
    const others = all.filter((id) => id !== silent.hive_id);

    // Silent for a while: lost, not replaced yet.
    await beatAll(others, 20_000);
    await reconcile();
    expect(await status('chat')).toMatchObject({ ready: 2, lost: 1, reason: 'starting' });
    expect(spawnsOn()).toHaveLength(3);

    // Past RESCHEDULE_AFTER_MS: replaced on the spare hive.
    await beatAll(others, 45_000);
    await reconcile();
    expect(spawnsOn()).toHaveLength(4);
    const spare = all.find((id) => id !== silent.hive_id && spawnsOn(id).length > 0 && !(world!.fleet.hive(id).listWorkers().length === 0))!;
    expect(spare).toBeDefined();
    await beatAll(others);
    expect(await status('chat')).toMatchObject({ ready: 3, lost: 0, reason: null });

    // The silent hive returns, still running its worker: that one is surplus and is stopped.
    await world!.beat(silent.hive_id);
    await reconcile();
    expect(world!.fleet.deleteCalls(silent.hive_id)).toContain(silent.worker_id);
    expect(await status('chat')).toMatchObject({ ready: 3 });
    expect(spawnsOn()).toHaveLength(4);
  });

  it('replaces a failed worker, and backs off on repeated failures: 1 s, 2 s, 4 s apart', async () => {
    await start([{ id: 'only', gpus: [{ vramGb: 24 }] }]);
    expectStatus(await world!.http().post('/v1/deployments').send({ name: 'flaky', replicas: 1, ...MODEL }), 201);
    await reconcile();
    const spawnTimes: number[] = [world!.clock.now()];
    const failLatest = async () => {
      const latest = spawnsOn('only').at(-1)!.worker_id;
      world!.fleet.hive('only').failWorker(latest);
      await world!.beat('only');
    };
    // First failure: replaced at once.
    await failLatest();
    await reconcile();
    expect(spawnsOn('only')).toHaveLength(2);
    spawnTimes.push(world!.clock.now());
    for (const pause of [1000, 2000, 4000]) {
      await failLatest();
      await reconcile();
      const before = spawnsOn('only').length;
      world!.clock.advance(pause - 1);
      await reconcile();
      expect(spawnsOn('only')).toHaveLength(before);
      expect((await status('flaky')).reason).toBe('backoff');
      world!.clock.advance(1);
      await reconcile();
      expect(spawnsOn('only')).toHaveLength(before + 1);
      spawnTimes.push(world!.clock.now());
    }
    const gaps = spawnTimes.slice(2).map((at, i) => at - spawnTimes[i + 1]);
    expect(gaps).toEqual([1000, 2000, 4000]);

    // Deleted and created again under the same name, it starts with no streak of failures behind it.
    expectStatus(await world!.http().delete('/v1/deployments/flaky'), 202);
    await reconcile();
    expectStatus(await world!.http().post('/v1/deployments').send({ name: 'flaky', replicas: 1, ...MODEL }), 201);
    await reconcile();
    const spawned = spawnsOn('only').length;
    await failLatest();
    await reconcile();
    expect(spawnsOn('only')).toHaveLength(spawned + 1);
    expect((await status('flaky')).reason).not.toBe('backoff');
  });

  it('holds everything when 3 of 4 hives go silent at once (held_fleet_outage), and moves nothing when they return', async () => {
    await start();
    expectStatus(await world!.http().post('/v1/deployments').send({ name: 'chat', replicas: 3, max_per_hive: 1, ...MODEL }), 201);
    await reconcile();
    const all = FOUR.map(({ id }) => id);
    await beatAll(all);
    const used = (await status('chat')).workers.map((w) => w.hive_id);
    const survivor = all.find((id) => !used.includes(id))!;
    const events: string[] = [];
    const subscription = world!.queen.get(Reconciler)['events'].stream.subscribe((event) => events.push(event.type));

    for (let step = 0; step < 8; step++) {
      await beatAll([survivor], 10_000);
      await reconcile();
    }
    expect(await status('chat')).toMatchObject({ ready: 0, lost: 3, reason: 'held_fleet_outage' });
    expect(spawnsOn()).toHaveLength(3);
    expect(events).toContain('fleet.outage');

    await beatAll(all);
    await reconcile();
    expect(await status('chat')).toMatchObject({ ready: 3, lost: 0, reason: null });
    expect(spawnsOn()).toHaveLength(3);
    expect(all.flatMap((id) => world!.fleet.deleteCalls(id))).toEqual([]);
    expect(events).toContain('fleet.recovered');
    subscription.unsubscribe();
  });

  it('scales 3 → 1 stopping not-ready workers first, then to 0; DELETE stops everything', async () => {
    await start();
    expectStatus(await world!.http().post('/v1/deployments').send({ name: 'chat', replicas: 2, max_per_hive: 1, ...MODEL }), 201);
    await reconcile();
    await beatAll(FOUR.map(({ id }) => id));
    const readyOnes = (await status('chat')).workers.map((w) => w.worker_id);
    expectStatus(await world!.http().patch('/v1/deployments/chat').send({ replicas: 3 }), 200);
    await reconcile();
    const notReady = spawnsOn().map((s) => s.worker_id).find((id) => !readyOnes.includes(id))!;

    expectStatus(await world!.http().patch('/v1/deployments/chat').send({ replicas: 1 }), 200);
    await reconcile();
    const stopped = FOUR.flatMap(({ id }) => world!.fleet.deleteCalls(id));
    expect(stopped).toHaveLength(2);
    expect(stopped).toContain(notReady);
    expect((await status('chat')).workers).toHaveLength(1);

    expectStatus(await world!.http().patch('/v1/deployments/chat').send({ replicas: 0 }), 200);
    await reconcile();
    expect(FOUR.flatMap(({ id }) => world!.fleet.deleteCalls(id))).toHaveLength(3);
    expect(await status('chat')).toMatchObject({ ready: 0, starting: 0, reason: null, workers: [] });

    expectStatus(await world!.http().patch('/v1/deployments/chat').send({ replicas: 2 }), 200);
    await reconcile();
    expect(spawnsOn()).toHaveLength(5);
    expectStatus(await world!.http().delete('/v1/deployments/chat'), 202);
    await reconcile();
    expect(FOUR.flatMap(({ id }) => world!.fleet.deleteCalls(id))).toHaveLength(5);
    expectProblem(await world!.http().get('/v1/deployments/chat'), 404);
    await beatAll(FOUR.map(({ id }) => id));
    expect(expectStatus(await world!.http().get('/v1/workers'), 200).body.items).toEqual([]);
  });

  it('reports no_capacity while nothing fits, and places as soon as a hive with room registers', async () => {
    await start([{ id: 'small', gpus: [{ vramGb: 8 }] }, { id: 'big', gpus: [{ vramGb: 48 }] }], {});
    // `big` is not registered yet: take it out of the fleet until it is.
    await world!.http().delete('/v1/hives/big').expect(204);
    expectStatus(await world!.http().post('/v1/deployments').send({ name: 'large', replicas: 1, model_id: 'tiny-model', vram_bytes: 16 * GIB }), 201);
    await reconcile();
    expect(await status('large')).toMatchObject({ ready: 0, unplaced: 1, reason: 'no_capacity' });
    await world!.register('big');
    // The first beat is answered with a request for capabilities, which the second carries.
    await world!.beat('big');
    await world!.beat('big');
    await reconcile();
    expect(spawnsOn('big')).toHaveLength(1);
    expect(await status('large')).toMatchObject({ unplaced: 0, starting: 1 });
  });

  it('does not let deployments that find no room spend the start budget of those that fit', async () => {
    await start();
    // More deployments that fit nowhere than the reconciler starts at once (200).
    for (let i = 0; i < 210; i++) {
      expectStatus(await world!.http().post('/v1/deployments').send({ name: `huge-${i}`, replicas: 1, model_id: 'tiny-model', vram_bytes: 100 * GIB }), 201);
    }
    await reconcile();
    expect(await status('huge-209')).toMatchObject({ unplaced: 1, reason: 'no_capacity' });
    expectStatus(await world!.http().post('/v1/deployments').send({ name: 'chat', replicas: 3, max_per_hive: 1, ...MODEL }), 201);
    // Same instant on the queen's clock: no budget refilled since the failed attempts.
    await reconcile();
    expect(spawnsOn()).toHaveLength(3);
    expect(await status('chat')).toMatchObject({ starting: 3, unplaced: 0 });
  });

  it('starts at most 200 workers at once and then 30 a second, the rest waiting as starting, not unplaced', async () => {
    await start(FOUR.map(({ id }) => ({ id, gpus: Array.from({ length: 8 }, () => ({ vramGb: 80 })), ramBytes: 512 * GIB })));
    for (let i = 0; i < 230; i++) {
      expectStatus(await world!.http().post('/v1/deployments').send({ name: `d-${String(i).padStart(3, '0')}`, replicas: 1, ...MODEL }), 201);
    }
    await reconcile();
    expect(spawnsOn()).toHaveLength(200);
    expect(await status('d-229')).toMatchObject({ starting: 0, unplaced: 0, reason: 'starting' });
    world!.clock.advance(1000);
    await reconcile();
    expect(spawnsOn()).toHaveLength(230);
    expect(await status('d-229')).toMatchObject({ starting: 1, unplaced: 0, reason: 'starting' });
  });

  it('keeps deployments and worker records across a restart: no second worker for a replica', async () => {
    await start();
    expectStatus(await world!.http().post('/v1/deployments').send({ name: 'chat', replicas: 2, max_per_hive: 1, ...MODEL }), 201);
    await reconcile();
    expect(spawnsOn()).toHaveLength(2);
    await world!.restartQueen();
    await reconcile();
    expect(spawnsOn()).toHaveLength(2);
    await beatAll(FOUR.map(({ id }) => id));
    await reconcile();
    expect(await status('chat')).toMatchObject({ ready: 2 });
    expect(spawnsOn()).toHaveLength(2);
  });

  it.each([
    ['name missing', { replicas: 1, ...MODEL }, 'name'],
    ['name bad', { name: 'Bad Name', replicas: 1, ...MODEL }, 'name'],
    ['replicas negative', { name: 'd', replicas: -1, ...MODEL }, 'replicas'],
    ['replicas too many', { name: 'd', replicas: 1001, ...MODEL }, 'replicas'],
    ['replicas fractional', { name: 'd', replicas: 1.5, ...MODEL }, 'replicas'],
    ['model_id missing', { name: 'd', replicas: 1, vram_bytes: GIB }, 'model_id'],
    ['vram_bytes missing', { name: 'd', replicas: 1, model_id: 'm' }, 'vram_bytes'],
    ['vram_bytes a string', { name: 'd', replicas: 1, model_id: 'm', vram_bytes: '8GiB' }, 'vram_bytes'],
    ['ram_bytes null', { name: 'd', replicas: 1, ...MODEL, ram_bytes: null }, 'ram_bytes'],
    ['backend unknown', { name: 'd', replicas: 1, ...MODEL, backend: 'rocm' }, 'backend'],
    ['strategy unknown', { name: 'd', replicas: 1, ...MODEL, strategy: 'random' }, 'strategy'],
    ['labels an array', { name: 'd', replicas: 1, ...MODEL, labels: ['a'] }, 'labels'],
    ['max_per_hive 0', { name: 'd', replicas: 1, ...MODEL, max_per_hive: 0 }, 'max_per_hive'],
    ['an unknown field', { name: 'd', replicas: 1, ...MODEL, priority: 5 }, 'priority'],
  ])('refuses a create with %s (400 naming it) and stores nothing', async (_name, body, field) => {
    world = world ?? (await start([]));
    const res = await world.http().post('/v1/deployments').send(body);
    const problem = expectProblem(res, 400);
    expect((problem.errors as { field: string }[]).map((e) => e.field)).toContain(field);
    expect(expectStatus(await world.http().get('/v1/deployments'), 200).body).toEqual({ items: [], total: 0 });
  });

  it('refuses bad changes (400), a duplicate name (409) and a stale If-Match (412), changing nothing', async () => {
    await start([]);
    const created = expectStatus(await world!.http().post('/v1/deployments').send({ name: 'd', replicas: 0, ...MODEL }), 201);
    const before = expectStatus(await world!.http().get('/v1/deployments/d'), 200);
    expect(before.headers.etag).toBe(created.headers.etag);
    for (const patch of [{ replicas: -1 }, { replicas: null }, { strategy: 'x' }, { max_per_hive: 0 }, { model_id: 'other' }, { labels: 'a' }]) {
      expectProblem(await world!.http().patch('/v1/deployments/d').send(patch), 400);
    }
    expectProblem(await world!.http().post('/v1/deployments').send({ name: 'd', replicas: 1, ...MODEL }), 409);
    const changed = expectStatus(await world!.http().patch('/v1/deployments/d').set('If-Match', before.headers.etag).send({ replicas: 1 }), 200);
    expectProblem(await world!.http().patch('/v1/deployments/d').set('If-Match', before.headers.etag).send({ replicas: 5 }), 412);
    expectProblem(await world!.http().delete('/v1/deployments/d').set('If-Match', before.headers.etag), 412);
    const after = expectStatus(await world!.http().get('/v1/deployments/d'), 200);
    expect(after.body.replicas).toBe(1);
    expect(after.headers.etag).toBe(changed.headers.etag);
  });
});
