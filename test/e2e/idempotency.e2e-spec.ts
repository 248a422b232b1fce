/**
 * Idempotent creates, concurrency and locations (API.md): `Idempotency-Key` on POST /v1/workers, also
 * across a queen restart; a client-chosen `worker_id`; `Location` on 201 and 202; `ETag` and
 * `If-Match` on hives. Real HTTP, a real database, fake hives on loopback.
 */
import { expectStatus, GIB, SchedulingWorld } from './scheduling-support';
import { expectProblem } from '../support/problem';
import { DATABASE_KINDS } from '../support/databases';

const SMALL = { model_id: 'tiny-model', vram_bytes: 4 * GIB, ram_bytes: 2 * GIB };

describe.each(DATABASE_KINDS)('idempotent creates and concurrency (%s)', (database) => {
  let world: SchedulingWorld | undefined;

  afterEach(async () => {
    await world?.close();
    world = undefined;
  });

  const start = (body: object, key?: string) => {
    const req = world!.http().post('/v1/workers');
    return (key === undefined ? req : req.set('Idempotency-Key', key)).send(body);
  };

  it('answers a repeat of a key with the same body as the first time, starting nothing new', async () => {
    world = await SchedulingWorld.start([{ id: 'one', gpus: [{ vramGb: 24 }] }], { database });
    const first = expectStatus(await start(SMALL, 'key-1'), 202);
    expect(first.headers.location).toBe(`/v1/workers/${first.body.worker_id}`);
    expect(first.headers['idempotent-replayed']).toBeUndefined();

    // Key order does not make another request.
    const again = expectStatus(await start({ ram_bytes: SMALL.ram_bytes, vram_bytes: SMALL.vram_bytes, model_id: SMALL.model_id }, 'key-1'), 202);
    expect(again.body).toEqual(first.body);
    expect(again.headers.location).toBe(first.headers.location);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(world.fleet.spawnCalls('one')).toHaveLength(1);
    expect((await world.gpu('one')).reserved_bytes).toBe(4 * GIB);

    // Another key is another request.
    const other = expectStatus(await start(SMALL, 'key-2'), 202);
    expect(other.body.worker_id).not.toBe(first.body.worker_id);
    expect(world.fleet.spawnCalls('one')).toHaveLength(2);
  });

  it('refuses the same key with another body (422) and changes nothing', async () => {
    world = await SchedulingWorld.start([{ id: 'one', gpus: [{ vramGb: 24 }] }], { database });
    expectStatus(await start(SMALL, 'key-1'), 202);
    const reused = await start({ ...SMALL, model_id: 'other-model' }, 'key-1');
    const problem = expectProblem(reused, 422);
    expect(problem.type).toMatch(/idempotency-key-reused$/);
    expect(world.fleet.spawnCalls('one')).toHaveLength(1);
    expect((await world.gpu('one')).reserved_bytes).toBe(4 * GIB);
  });

  it('runs concurrent repeats of one key once: every answer is the first', async () => {
    world = await SchedulingWorld.start([{ id: 'one', gpus: [{ vramGb: 24 }] }], { database });
    const answers = await Promise.all(Array.from({ length: 10 }, () => start(SMALL, 'same-key')));
    for (const res of answers) expectStatus(res, 202);
    expect(new Set(answers.map((res) => res.body.worker_id)).size).toBe(1);
    expect(answers.filter((res) => res.headers['idempotent-replayed'] === 'true')).toHaveLength(9);
    expect(world.fleet.spawnCalls('one')).toHaveLength(1);
  });

  it('replays the first answer after a queen restart', async () => {
    world = await SchedulingWorld.start([{ id: 'one', gpus: [{ vramGb: 24 }] }], { database });
    const first = expectStatus(await start(SMALL, 'survives-restart'), 202);
    await world.restartQueen();
    const again = expectStatus(await start(SMALL, 'survives-restart'), 202);
    expect(again.body).toEqual(first.body);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(world.fleet.spawnCalls('one')).toHaveLength(1);
    expectProblem(await start({ ...SMALL, vram_bytes: GIB }, 'survives-restart'), 422);
  });

  it('keeps a refusal that decided something (409) and replays it; tries again after a 503 or an invalid body', async () => {
    world = await SchedulingWorld.start([{ id: 'one', gpus: [{ vramGb: 8 }] }], { database });
    const tooBig = { ...SMALL, vram_bytes: 16 * GIB };
    const refused = expectProblem(await start(tooBig, 'big'), 409);
    const replayed = await start(tooBig, 'big');
    expect(expectProblem(replayed, 409)).toEqual(refused);
    expect(replayed.headers['idempotent-replayed']).toBe('true');

    // An invalid body is not kept: fixed and resent under the same key, it runs.
    expectProblem(await start({ ...SMALL, vram_bytes: -1 }, 'fixed-later'), 400);
    expectStatus(await start(SMALL, 'fixed-later'), 202);

    // A 503 is not kept either: the hive failed, a retry may find it mended.
    world.fleet.hive('one').setFaults({ spawn: 'error' });
    expectProblem(await start({ ...SMALL, vram_bytes: GIB }, 'after-failure'), 503);
    world.fleet.hive('one').setFaults({ spawn: 'ok' });
    expectStatus(await start({ ...SMALL, vram_bytes: GIB }, 'after-failure'), 202);
  });

  it('scopes a key to its caller: another admin token is another key', async () => {
    world = await SchedulingWorld.start([{ id: 'one', gpus: [{ vramGb: 24 }] }], { database });
    const first = expectStatus(await start(SMALL, 'shared'), 202);
    const withToken = await world.http().post('/v1/workers').set('Idempotency-Key', 'shared').set('Authorization', 'Bearer some-other-caller-token').send(SMALL);
    // The queen has no admin token here, so any caller is let in; with another token it is another scope.
    expectStatus(withToken, 202);
    expect(withToken.body.worker_id).not.toBe(first.body.worker_id);
  });

  it.each([
    ['empty', ''],
    ['too long', 'k'.repeat(256)],
    ['with a space', 'two words'],
    ['with a non-ASCII character', 'clé'],
  ])('refuses an Idempotency-Key that is %s (400) and starts nothing', async (_name, key) => {
    world = world ?? (await SchedulingWorld.start([{ id: 'one', gpus: [{ vramGb: 24 }] }], { database }));
    const res = await start(SMALL, key);
    expect(expectProblem(res, 400).type).toMatch(/invalid-idempotency-key$/);
    expect(world.fleet.spawnCalls()).toHaveLength(0);
  });

  it('takes a client-chosen worker_id, and refuses a second start under it (409)', async () => {
    world = await SchedulingWorld.start([{ id: 'one', gpus: [{ vramGb: 24 }] }], { database });
    const started = expectStatus(await start({ ...SMALL, worker_id: 'chat-a' }), 202);
    expect(started.body).toMatchObject({ worker_id: 'chat-a', hive_id: 'one' });
    expect(started.headers.location).toBe('/v1/workers/chat-a');
    expect(world.fleet.spawnCalls('one')).toEqual([expect.objectContaining({ worker_id: 'chat-a' })]);

    const twice = await start({ ...SMALL, worker_id: 'chat-a' });
    expect(expectProblem(twice, 409).type).toMatch(/worker-exists$/);
    // Still so once the hive reports it.
    await world.beat('one');
    expectProblem(await start({ ...SMALL, worker_id: 'chat-a' }), 409);
    expect(world.fleet.spawnCalls('one')).toHaveLength(1);
    expect((await world.gpu('one')).used_bytes + (await world.gpu('one')).reserved_bytes).toBe(4 * GIB);

    for (const bad of ['Chat-A', '-a', 'a'.repeat(64), 'a/b', 7]) {
      expectProblem(await start({ ...SMALL, worker_id: bad }), 400);
    }
    expect(world.fleet.spawnCalls('one')).toHaveLength(1);
  });

  it('does not move a client-chosen worker_id to another hive after a spawn of unknown outcome', async () => {
    world = await SchedulingWorld.start([{ id: 'first', gpus: [{ vramGb: 24 }] }, { id: 'second', gpus: [{ vramGb: 16 }] }], { database });
    world.fleet.hive('first').setFaults({ spawn: 'hang' });
    const res = await start({ ...SMALL, worker_id: 'only-once', strategy: 'spread' });
    const problem = expectProblem(res, 503);
    expect(problem.tried).toEqual({ first: expect.objectContaining({ status: null, uncertain: true }) });
    expect(world.fleet.spawnCalls('second')).toHaveLength(0);
    // The id stays taken while the first hive may yet start it.
    expectProblem(await start({ ...SMALL, worker_id: 'only-once' }), 409);
  });

  it('sends a strong ETag with a hive, and refuses a PATCH or DELETE whose If-Match is stale (412), changing nothing', async () => {
    world = await SchedulingWorld.start([{ id: 'one' }], { database });
    const http = () => world!.http();
    const read = expectStatus(await http().get('/v1/hives/one'), 200);
    const etag = read.headers.etag as string;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{22}"$/);
    // Heartbeats change the live status, not what operators set: the tag stays.
    await world.beat('one');
    expect((await http().get('/v1/hives/one')).headers.etag).toBe(etag);

    const patched = expectStatus(await http().patch('/v1/hives/one').set('If-Match', etag).send({ labels: { zone: 'a' } }), 200);
    const changed = patched.headers.etag as string;
    expect(changed).not.toBe(etag);
    expect((await http().get('/v1/hives/one')).headers.etag).toBe(changed);

    const stale = await http().patch('/v1/hives/one').set('If-Match', etag).send({ cordoned: true });
    expect(expectProblem(stale, 412).type).toMatch(/precondition-failed$/);
    expect((await http().get('/v1/hives/one')).body).toMatchObject({ cordoned: false, labels: { zone: 'a' } });
    // A weak tag never matches (strong comparison); a list with the current tag does; so does *.
    expectProblem(await http().patch('/v1/hives/one').set('If-Match', `W/${changed}`).send({ cordoned: true }), 412);
    expectStatus(await http().patch('/v1/hives/one').set('If-Match', `"nope", ${changed}`).send({ cordoned: true }), 200);
    expectStatus(await http().patch('/v1/hives/one').set('If-Match', '*').send({ cordoned: false }), 200);

    // Rotating the token changes the tag as well.
    const before = (await http().get('/v1/hives/one')).headers.etag as string;
    expectStatus(await http().post('/v1/hives/one/token'), 200);
    const after = (await http().get('/v1/hives/one')).headers.etag as string;
    expect(after).not.toBe(before);

    expectProblem(await http().delete('/v1/hives/one').set('If-Match', before), 412);
    expectStatus(await http().get('/v1/hives/one'), 200);
    expectStatus(await http().delete('/v1/hives/one').set('If-Match', after), 204);
    expectProblem(await http().get('/v1/hives/one'), 404);
  });

  it('lets one of two concurrent PATCHes with the same If-Match through and refuses the other', async () => {
    world = await SchedulingWorld.start([{ id: 'one' }], { database });
    const etag = (await world.http().get('/v1/hives/one')).headers.etag as string;
    const [a, b] = await Promise.all([
      world.http().patch('/v1/hives/one').set('If-Match', etag).send({ labels: { by: 'a' } }),
      world.http().patch('/v1/hives/one').set('If-Match', etag).send({ labels: { by: 'b' } }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 412]);
    const winner = a.status === 200 ? 'a' : 'b';
    expect((await world.http().get('/v1/hives/one')).body.labels).toEqual({ by: winner });
  });

  it('answers 201 with the new hive under Location', async () => {
    world = await SchedulingWorld.start([], { database });
    const created = expectStatus(await world.http().post('/v1/hives').send({ id: 'new-hive', host: '10.0.0.9', port: 7835 }), 201);
    expect(created.headers.location).toBe('/v1/hives/new-hive');
    expect(created.headers.etag).toBe((await world.http().get('/v1/hives/new-hive')).headers.etag);
  });
});
