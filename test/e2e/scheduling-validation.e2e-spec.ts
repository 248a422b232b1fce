/**
 * Bad bodies for POST /v1/placements and POST /v1/workers: 400 problem JSON that
 * names each bad field, and nothing held or spawned because of them.
 */
import { GIB, SchedulingWorld } from './scheduling-support';
import { expectProblem } from '../support/problem';

const VALID = { model_id: 'tiny-model', vram_bytes: 4 * GIB };

let world: SchedulingWorld;

beforeAll(async () => {
  world = await SchedulingWorld.start([{ id: 'target', gpus: [{ vramGb: 24 }] }]);
});

afterAll(async () => {
  await world?.close();
});

afterEach(async () => {
  // Whatever was refused, nothing is held and no hive was asked anything.
  expect(await world.totalReserved()).toBe(0);
  expect(world.fleet.calls).toEqual([]);
});

/** [what, body, fields the problem must name]. */
const BAD_BODIES: [string, unknown, string[]][] = [
  ['model_id missing', { vram_bytes: GIB }, ['model_id']],
  ['model_id empty', { ...VALID, model_id: '' }, ['model_id']],
  ['model_id a number', { ...VALID, model_id: 42 }, ['model_id']],
  ['model_id null', { ...VALID, model_id: null }, ['model_id']],
  ['model_id too long', { ...VALID, model_id: 'm'.repeat(257) }, ['model_id']],
  ['vram_bytes missing', { model_id: 'm' }, ['vram_bytes']],
  ['vram_bytes negative', { ...VALID, vram_bytes: -1 }, ['vram_bytes']],
  ['vram_bytes a string', { ...VALID, vram_bytes: '8589934592' }, ['vram_bytes']],
  ['vram_bytes fractional', { ...VALID, vram_bytes: 1.5 }, ['vram_bytes']],
  ['vram_bytes beyond a safe integer', { ...VALID, vram_bytes: 2 ** 53 }, ['vram_bytes']],
  ['ram_bytes negative', { ...VALID, ram_bytes: -1 }, ['ram_bytes']],
  ['ram_bytes a string', { ...VALID, ram_bytes: '1' }, ['ram_bytes']],
  ['ram_bytes null', { ...VALID, ram_bytes: null }, ['ram_bytes']],
  ['backend rocm', { ...VALID, backend: 'rocm' }, ['backend']],
  ['backend null', { ...VALID, backend: null }, ['backend']],
  ['strategy random', { ...VALID, strategy: 'random' }, ['strategy']],
  ['strategy null', { ...VALID, strategy: null }, ['strategy']],
  ['hive_id with capitals and spaces', { ...VALID, hive_id: 'Bad Hive!' }, ['hive_id']],
  ['hive_id starting with a dash', { ...VALID, hive_id: '-target' }, ['hive_id']],
  ['hive_id a number', { ...VALID, hive_id: 7 }, ['hive_id']],
  ['hive_id null', { ...VALID, hive_id: null }, ['hive_id']],
  ['labels a string', { ...VALID, labels: 'zone=a' }, ['labels']],
  ['labels an array', { ...VALID, labels: ['zone'] }, ['labels']],
  ['labels with a number value', { ...VALID, labels: { zone: 1 } }, ['labels']],
  ['labels with a bad key', { ...VALID, labels: { 'bad key': 'a' } }, ['labels']],
  ['labels null', { ...VALID, labels: null }, ['labels']],
  ['an unknown field', { ...VALID, gpu_count: 2 }, ['gpu_count']],
  [
    'several bad fields at once',
    { model_id: '', vram_bytes: -1, ram_bytes: 1.5, backend: 'rocm', strategy: 'random', hive_id: 'X', labels: 3, extra: true },
    ['model_id', 'vram_bytes', 'ram_bytes', 'backend', 'strategy', 'hive_id', 'labels', 'extra'],
  ],
];

describe.each(['/v1/placements', '/v1/workers'])('POST %s with a bad body', (route) => {
  it.each(BAD_BODIES)('%s → 400 naming the field', async (_what, body, fields) => {
    const problem = expectProblem(await world.http().post(route).send(body as object), 400);
    expect([...new Set(problem.errors?.map((e) => e.field))].sort()).toEqual([...fields].sort());
    for (const field of fields) expect(problem.detail).toContain(field);
    for (const error of problem.errors ?? []) expect(error.message).toEqual(expect.any(String));
  });

  it.each<[string, string]>([
    ['a JSON array', '[]'],
    ['a JSON string', '"llama"'],
    ['malformed JSON', '{"model_id": "m",'],
  ])('%s → 400', async (_what, raw) => {
    expectProblem(await world.http().post(route).set('content-type', 'application/json').send(raw), 400);
  });
});

it('still places and starts a valid worker after all that', async () => {
  const placed = await world.http().post('/v1/placements').send(VALID);
  expect(placed.status).toBe(200);
  expect(placed.body).toMatchObject({ hive_id: 'target', device: 'cuda:0' });
  // Not started: the afterEach check holds for this test too.
});
