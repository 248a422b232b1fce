/**
 * POST /v1/workers end to end: real HTTP into the queen, real SQLite, and real
 * HTTP from the queen to fake hives on loopback that can fail on purpose.
 *
 * The fake hive sizes a worker from its model name (no parameter count: 4 GiB
 * VRAM, 2 GiB RAM), as rbee's spawn body carries no sizes. Requests here ask
 * for exactly that, so what the hive later reports equals what was reserved.
 */
import { expectStatus, GIB, SchedulingWorld, WorkerItem } from './scheduling-support';
import { expectProblem } from '../support/problem';

const SMALL = { model_id: 'tiny-model', vram_bytes: 4 * GIB, ram_bytes: 2 * GIB };

let world: SchedulingWorld | undefined;

afterEach(async () => {
  await world?.close();
  world = undefined;
});

const ids = (workers: { worker_id: string }[]) => workers.map((w) => w.worker_id).sort();

describe('POST /v1/workers under contention', () => {
  it('gives a hive with room for 3 workers exactly 3 of 50 concurrent requests, then counts them once when reported', async () => {
    world = await SchedulingWorld.start([{ id: 'race', gpus: [{ vramGb: 12 }] }]);
    const body = { ...SMALL, model_id: 'race-model' };

    const answers = await Promise.all(Array.from({ length: 50 }, () => world!.http().post('/v1/workers').send(body)));

    const accepted = answers.filter((res) => res.status === 202);
    const refused = answers.filter((res) => res.status !== 202);
    expect(accepted).toHaveLength(3);
    expect(refused).toHaveLength(47);
    for (const res of refused) {
      expect([409, 503]).toContain(res.status);
      const problem = expectProblem(res, res.status);
      if (res.status === 409) expect(problem.rejections).toEqual({ race: 'insufficient_vram' });
    }
    const started = accepted.map((res) => res.body as { worker_id: string; reservation_id: string });
    for (const worker of started) {
      expect(worker).toEqual({
        worker_id: expect.stringMatching(/^w-/),
        hive_id: 'race',
        device: 'cuda:0',
        reservation_id: expect.stringMatching(/^r-/),
        state: 'starting',
      });
    }
    expect(new Set(started.map((w) => w.worker_id)).size).toBe(3);
    expect(new Set(started.map((w) => w.reservation_id)).size).toBe(3);

    // Held, not used: the hive has not reported anything yet.
    expect(await world.gpu('race')).toEqual({
      device: 'cuda:0',
      total_bytes: 12 * GIB,
      used_bytes: 0,
      reserved_bytes: 3 * 4 * GIB,
      free_bytes: 0,
    });
    expect((await world.state('race')).ram).toMatchObject({ used_bytes: 0, reserved_bytes: 3 * 2 * GIB });
    const pending = await world.workers();
    expect(ids(pending)).toEqual(ids(started));
    for (const worker of pending) {
      const mine = started.find((w) => w.worker_id === worker.worker_id)!;
      expect(worker).toMatchObject({ hive_id: 'race', state: 'starting', reservation_id: mine.reservation_id, device: 'cuda:0' });
    }

    // The hive was asked exactly three times, once per accepted worker.
    const spawns = world.fleet.spawnCalls('race') as Record<string, unknown>[];
    expect(spawns).toHaveLength(3);
    expect(ids(spawns as { worker_id: string }[])).toEqual(ids(started));
    for (const spawn of spawns) {
      expect(spawn).toStrictEqual({ worker_id: spawn.worker_id, model_ref: 'race-model', backend: 'cuda', device: 0 });
    }

    // The heartbeat that shows the workers turns the holds into usage: no double counting.
    expect(world.fleet.hive('race').listWorkers()).toHaveLength(3);
    await world.beat('race');
    expect(await world.gpu('race')).toEqual({
      device: 'cuda:0',
      total_bytes: 12 * GIB,
      used_bytes: 12 * GIB,
      reserved_bytes: 0,
      free_bytes: 0,
    });
    expect((await world.state('race')).ram).toMatchObject({ used_bytes: 3 * 2 * GIB, reserved_bytes: 0 });
    const reported = await world.workers();
    expect(ids(reported)).toEqual(ids(started));
    for (const worker of reported) expect(worker).toMatchObject({ state: 'loading', reservation_id: null, vram_bytes: 4 * GIB });

    world.fleet.hive('race').finishLoading();
    await world.beat('race');
    expect(await world.gpu('race')).toMatchObject({ used_bytes: 12 * GIB, reserved_bytes: 0, free_bytes: 0 });
    expect((await world.workers()).map((w) => w.state)).toEqual(['idle', 'idle', 'idle']);

    // Still full: nothing more fits.
    const more = expectProblem(await world.http().post('/v1/placements').send(body), 409);
    expect(more.rejections).toEqual({ race: 'insufficient_vram' });
  });
});

describe('reservations', () => {
  it('stop counting when RESERVATION_TTL_MS has passed without a heartbeat showing the worker', async () => {
    world = await SchedulingWorld.start([{ id: 'solo', gpus: [{ vramGb: 12 }] }], { env: { RESERVATION_TTL_MS: '5000' } });
    const started = expectStatus(
      await world.http().post('/v1/workers').send({ model_id: 'tiny-model', vram_bytes: 12 * GIB }),
      202,
    ).body as { worker_id: string; reservation_id: string };
    expect(expectProblem(await world.http().post('/v1/placements').send(SMALL), 409).rejections).toEqual({
      solo: 'insufficient_vram',
    });

    world.clock.advance(4999);
    expect(await world.gpu('solo')).toMatchObject({ reserved_bytes: 12 * GIB, free_bytes: 0 });
    expect(expectStatus(await world.http().get(`/v1/workers/${started.worker_id}`), 200).body).toMatchObject({
      state: 'starting',
      reservation_id: started.reservation_id,
    });

    world.clock.advance(1);
    expect(await world.gpu('solo')).toMatchObject({ used_bytes: 0, reserved_bytes: 0, free_bytes: 12 * GIB });
    expect(expectStatus(await world.http().post('/v1/placements').send(SMALL), 200).body).toMatchObject({
      hive_id: 'solo',
      device: 'cuda:0',
    });
    expect(await world.workers()).toEqual([]);
    expectProblem(await world.http().get(`/v1/workers/${started.worker_id}`), 404);
    expect((await world.http().get('/metrics')).text).toMatch(/^queen_reservations 0$/m);
  });
});

describe('spawning on hives', () => {
  // Binpack prefers the fullest fit: first (4 GiB left), then second (12), then third (20).
  const threeHives = () => [
    { id: 'first', gpus: [{ vramGb: 8 }] },
    { id: 'second', gpus: [{ vramGb: 16 }] },
    { id: 'third', gpus: [{ vramGb: 24 }] },
  ];

  const start = async () => world!.http().post('/v1/workers').send(SMALL);

  it('sends rbee\'s spawn body { worker_id, model_ref, backend, device } with the integer GPU index', async () => {
    world = await SchedulingWorld.start([{ id: 'duo', gpus: [{ vramGb: 24 }, { vramGb: 8 }] }]);
    const started = expectStatus(await start(), 202).body as { worker_id: string; device: string };
    expect(started).toMatchObject({ hive_id: 'duo', device: 'cuda:1' });
    expect(world.fleet.spawnCalls('duo')).toStrictEqual([
      { worker_id: started.worker_id, model_ref: 'tiny-model', backend: 'cuda', device: 1 },
    ]);
    expect(world.fleet.hive('duo').listWorkers()).toEqual([
      expect.objectContaining({ workerId: started.worker_id, deviceId: 1, state: 'Loading' }),
    ]);
    expect(await world.gpu('duo', 'cuda:1')).toMatchObject({ reserved_bytes: 4 * GIB });
    expect(await world.gpu('duo', 'cuda:0')).toMatchObject({ reserved_bytes: 0 });
  });

  it('releases the hold of a hive whose spawn answers 500 and starts the worker on the next candidate', async () => {
    world = await SchedulingWorld.start(threeHives());
    world.fleet.hive('first').setFaults({ spawn: 'error' });

    const started = expectStatus(await start(), 202).body as { worker_id: string };
    expect(started).toMatchObject({ hive_id: 'second', device: 'cuda:0', state: 'starting' });
    // Same worker id offered to both, in order of preference.
    expect(world.fleet.calls.map((call) => call.hiveId)).toEqual(['first', 'second']);
    expect(world.fleet.spawnCalls('first')).toEqual([expect.objectContaining({ worker_id: started.worker_id })]);
    expect(await world.gpu('first')).toMatchObject({ reserved_bytes: 0, free_bytes: 8 * GIB });
    expect(await world.gpu('second')).toMatchObject({ reserved_bytes: 4 * GIB });
    expect(ids(await world.workers())).toEqual([started.worker_id]);
  });

  it('gives up on a hive whose spawn hangs after HIVE_REQUEST_TIMEOUT_MS and tries the next', async () => {
    world = await SchedulingWorld.start(threeHives());
    world.fleet.hive('first').setFaults({ spawn: 'hang' });

    const began = Date.now();
    const started = expectStatus(await start(), 202).body;
    expect(Date.now() - began).toBeGreaterThanOrEqual(250);
    expect(started).toMatchObject({ hive_id: 'second' });
    expect(world.fleet.spawnCalls('first')).toHaveLength(1);
    expect(await world.gpu('first')).toMatchObject({ reserved_bytes: 0 });
    expect(await world.gpu('second')).toMatchObject({ reserved_bytes: 4 * GIB });
  });

  it('tries the next candidate when a hive is down (port closed)', async () => {
    world = await SchedulingWorld.start(threeHives());
    await world.fleet.hive('first').stop();

    const started = expectStatus(await start(), 202).body;
    expect(started).toMatchObject({ hive_id: 'second' });
    expect(world.fleet.spawnCalls('first')).toHaveLength(0);
    expect(await world.gpu('first')).toMatchObject({ reserved_bytes: 0 });
  });

  it('answers 503 naming every hive tried when all candidates fail, and holds nothing afterwards', async () => {
    world = await SchedulingWorld.start(threeHives());
    world.fleet.hive('first').setFaults({ spawn: 'error' });
    world.fleet.hive('second').setFaults({ spawn: 'hang' });
    await world.fleet.hive('third').stop();

    const problem = expectProblem(await start(), 503);
    for (const id of ['first', 'second', 'third']) expect(problem.detail).toContain(id);
    expect(problem.tried).toEqual({
      first: { status: 500, reason: 'spawn_failed: simulated spawn failure', uncertain: false },
      second: { status: null, reason: expect.stringContaining('timed out'), uncertain: true },
      third: { status: null, reason: expect.stringContaining('ECONNREFUSED'), uncertain: false },
    });

    expect(await world.totalReserved()).toBe(0);
    expect(await world.workers()).toEqual([]);
    // Capacity is all there again for the next request.
    expect(expectStatus(await world.http().post('/v1/placements').send(SMALL), 200).body).toMatchObject({ hive_id: 'first' });
  });

  it('passes on the hive\'s own status and reason', async () => {
    world = await SchedulingWorld.start([{ id: 'only', gpus: [{ vramGb: 24 }] }]);
    // The queen thinks 20 GiB are free; the hive knows better and says so.
    const problem = expectProblem(await world.http().post('/v1/workers').send({ model_id: 'llama-3-70b', vram_bytes: 20 * GIB }), 503);
    expect(problem.tried).toEqual({ only: { status: 409, reason: expect.stringMatching(/^insufficient_vram: gpu0 has \d+ bytes free/), uncertain: false } });
  });

  it('never runs one worker id on two hives when a spawn is answered too late', async () => {
    world = await SchedulingWorld.start(threeHives());
    // `first` starts the worker but its answer never comes, nor does it answer the DELETE that follows.
    world.fleet.hive('first').setFaults({ spawn: 'start-then-hang', stop: 'hang' });

    const started = expectStatus(await start(), 202).body as { worker_id: string; hive_id: string };
    expect(started.hive_id).toBe('second');
    const firstId = (world.fleet.spawnCalls('first')[0] as { worker_id: string }).worker_id;
    expect(started.worker_id).not.toBe(firstId);
    expect(world.fleet.deleteCalls('first')).toEqual([firstId]);

    // `first` reports the worker it did start: the queen stops it, and no id is ever on two hives.
    world.fleet.hive('first').setFaults({ spawn: 'ok', stop: 'ok' });
    const stopped = world.fleet.nextCall('delete', 'first');
    await world.beat('first');
    await world.beat('second');
    expect(await stopped).toEqual({ kind: 'delete', hiveId: 'first', workerId: firstId });
    const ids = (await world.workers()).map((worker) => worker.worker_id);
    expect(new Set(ids).size).toBe(ids.length);
    await world.beat('first');
    expect((await world.workers()).map((worker) => `${worker.hive_id} ${worker.worker_id}`)).toEqual([`second ${started.worker_id}`]);
  });

  it('stops after MAX_SPAWN_ATTEMPTS hives rather than trying the whole fleet', async () => {
    world = await SchedulingWorld.start([...threeHives(), { id: 'fourth', gpus: [{ vramGb: 48 }] }]);
    for (const hive of world.fleet.hives) hive.setFaults({ spawn: 'error' });

    const problem = expectProblem(await start(), 503);
    expect(Object.keys(problem.tried ?? {})).toEqual(['first', 'second', 'third']);
    expect(world.fleet.spawnCalls('fourth')).toHaveLength(0);
    expect(await world.totalReserved()).toBe(0);
  });

  it('answers 409 with the rejections, and calls no hive, when nothing fits at all', async () => {
    world = await SchedulingWorld.start(threeHives());
    const problem = expectProblem(await world.http().post('/v1/workers').send({ ...SMALL, vram_bytes: 32 * GIB }), 409);
    expect(problem.rejections).toEqual({ first: 'insufficient_vram', second: 'insufficient_vram', third: 'insufficient_vram' });
    expect(world.fleet.calls).toEqual([]);
  });
});

describe('workers API', () => {
  const startOn = async (hiveId: string, modelId: string) =>
    expectStatus(await world!.http().post('/v1/workers').send({ ...SMALL, model_id: modelId, hive_id: hiveId }), 202)
      .body as { worker_id: string; reservation_id: string };

  it('lists, filters, shows and stops workers, reported or still starting', async () => {
    world = await SchedulingWorld.start([{ id: 'h1' }, { id: 'h2' }]);
    const w1 = await startOn('h1', 'alpha');
    const w2 = await startOn('h2', 'beta');
    const w3 = await startOn('h2', 'alpha');

    expect(ids(await world.workers())).toEqual(ids([w1, w2, w3]));
    expect(ids(await world.workers('?hive_id=h2'))).toEqual(ids([w2, w3]));
    expect(ids(await world.workers('?model_id=alpha'))).toEqual(ids([w1, w3]));
    expect(ids(await world.workers('?hive_id=h2&model_id=alpha'))).toEqual([w3.worker_id]);
    expect(await world.workers('?hive_id=h1&model_id=beta')).toEqual([]);
    expect(await world.workers('?hive_id=nowhere')).toEqual([]);

    // h1 reports w1: it is listed from the report now, with its hive's fields.
    await world.beat('h1');
    const alpha = await world.workers('?model_id=alpha');
    expect(alpha.map((w) => [w.worker_id, w.hive_id, w.state, w.reservation_id])).toEqual(
      [
        [w1.worker_id, 'h1', 'loading', null],
        [w3.worker_id, 'h2', 'starting', w3.reservation_id],
      ],
    );
    const one = expectStatus(await world.http().get(`/v1/workers/${w1.worker_id}`), 200).body as WorkerItem;
    expect(one).toMatchObject({ worker_id: w1.worker_id, hive_id: 'h1', model_id: 'alpha', state: 'loading', device: 'cuda:0' });
    expect(expectProblem(await world.http().get('/v1/workers/w-unknown'), 404).detail).toContain('w-unknown');

    // Stop a reported worker: the hive is asked; it leaves the list with the next heartbeat.
    expect(expectStatus(await world.http().delete(`/v1/workers/${w1.worker_id}`), 202).body).toEqual({
      worker_id: w1.worker_id,
      hive_id: 'h1',
      state: 'stopping',
    });
    expect(world.fleet.deleteCalls('h1')).toEqual([w1.worker_id]);
    expect(world.fleet.hive('h1').listWorkers()).toEqual([]);
    await world.beat('h1');
    expectProblem(await world.http().get(`/v1/workers/${w1.worker_id}`), 404);
    expect(await world.gpu('h1')).toMatchObject({ used_bytes: 0, reserved_bytes: 0 });

    // Stop a worker that is still only a reservation: the hive is asked and the hold released.
    expectStatus(await world.http().delete(`/v1/workers/${w3.worker_id}`), 202);
    expect(world.fleet.deleteCalls('h2')).toEqual([w3.worker_id]);
    expect(await world.gpu('h2')).toMatchObject({ reserved_bytes: 4 * GIB });
    expectProblem(await world.http().get(`/v1/workers/${w3.worker_id}`), 404);

    expectProblem(await world.http().delete('/v1/workers/w-unknown'), 404);
  });

  it('answers 503 when the worker\'s hive is down, and keeps the worker and its hold', async () => {
    world = await SchedulingWorld.start([{ id: 'h1' }]);
    const w1 = await startOn('h1', 'alpha');
    await world.fleet.hive('h1').stop();

    const problem = expectProblem(await world.http().delete(`/v1/workers/${w1.worker_id}`), 503);
    expect(problem.detail).toContain('h1');
    expect(problem.detail).toContain(w1.worker_id);
    expect(ids(await world.workers())).toEqual([w1.worker_id]);
    expect(await world.gpu('h1')).toMatchObject({ reserved_bytes: 4 * GIB });
  });
});
