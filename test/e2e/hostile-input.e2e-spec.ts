/**
 * Requests a hostile client would send: shapes that look right and are not,
 * bodies built to exhaust the stack, lies in Content-Encoding, keys that
 * objects cannot hold, times that are not RFC 3339. Each is refused with a
 * 4xx problem naming what is wrong, and nothing stored changes.
 */
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { CatalogWriteBehind } from '../../src/catalog/catalog-write-behind';
import { beat, Body, iso, registerHive, sendHeartbeat, TestHive } from '../support/heartbeats';
import { expectProblem } from '../support/problem';
import { TestQueen } from '../support/queen';

const GiB = 2 ** 30;
const CAPABILITIES = { cpu_cores: 8, ram_bytes: 64 * GiB, gpus: [{ index: 0, name: 'L4', vram_bytes: 24 * GiB, backend: 'cuda' }] };

/** Every route that takes a JSON body, with a body it would accept. */
const JSON_ROUTES: { method: 'post' | 'patch'; path: string; body: Body }[] = [
  { method: 'post', path: '/v1/hives', body: { id: 'new-hive', host: '10.0.0.9', port: 7835 } },
  { method: 'patch', path: '/v1/hives/target', body: { cordoned: true } },
  { method: 'post', path: '/v1/heartbeat', body: { hive_id: 'target', timestamp: '2026-11-27T10:00:00Z', workers: [] } },
  { method: 'post', path: '/v1/placements', body: { model_id: 'm', vram_bytes: 1 } },
  { method: 'post', path: '/v1/workers', body: { model_id: 'm', vram_bytes: 1 } },
];

describe('hostile input', () => {
  let queen: TestQueen;
  let hive: TestHive;
  let stored: () => Promise<unknown>;

  beforeAll(async () => {
    queen = await TestQueen.start({ env: { CATALOG_FLUSH_MS: '600000' } });
    hive = await registerHive(queen, 'target');
    await beat(queen, hive, { sequence: 1, capabilities: CAPABILITIES, workers: [{ worker_id: 'w-1', state: 'idle', backend: 'cuda', device_id: 0, vram_bytes: GiB }] });
    await queen.get(CatalogWriteBehind).flush();
    // What is stored, and what the routes show of it.
    stored = async () => ({
      rows: await queen.dataSource.query('SELECT * FROM hives ORDER BY id'),
      state: (await queen.http().get('/v1/hives/target/state').expect(200)).body,
      workers: (await queen.http().get('/v1/workers?hive_id=target').expect(200)).body,
    });
  });
  afterAll(async () => {
    await queen?.destroy();
  });

  /** Sends a request that must be refused with `status`, and checks that nothing stored or shown changed. */
  async function expectRefused(send: () => Promise<import('supertest').Response>, status: number, fields?: string[]) {
    const before = await stored();
    const problem = expectProblem(await send(), status, fields);
    await queen.get(CatalogWriteBehind).flush();
    expect(await stored()).toEqual(before);
    return problem;
  }

  describe('arrays where objects belong', () => {
    it.each<[string, Body, string]>([
      ['a worker that is an array', { workers: [[]] }, 'workers.0'],
      ['capabilities that are an array', { capabilities: [] }, 'capabilities'],
      ['a GPU that is an array', { capabilities: { ...CAPABILITIES, gpus: [[]] } }, 'capabilities.gpus.0'],
      ['workers that are an object', { workers: {} }, 'workers'],
      ['a worker that is a string', { workers: ['w-2'] }, 'workers.0'],
    ])('refuses %s in a heartbeat', async (_name, change, field) => {
      await expectRefused(() => sendHeartbeat(queen, hive.token, { hive_id: hive.id, timestamp: iso(queen), sequence: 2, ...change }), 400, [field]);
    });

    it.each<[string, Body, string]>([
      ['ssh settings that are an array', { ssh: [] }, 'ssh'],
      ['labels that are an array', { labels: ['zone'] }, 'labels'],
    ])('refuses %s in an admin body', async (_name, change, field) => {
      await expectRefused(() => queen.http().patch('/v1/hives/target').send(change), 400, [field]);
    });
  });

  describe('times that are not RFC 3339', () => {
    it.each(['2026-W48-5', '20261127T100000Z', '2026-11-27T10:00:00', '2026-02-30T10:00:00Z', 'tomorrow', '1795773600000'])(
      'refuses %s as a heartbeat timestamp and as a worker\'s last_heartbeat',
      async (time) => {
        await expectRefused(() => sendHeartbeat(queen, hive.token, { hive_id: hive.id, timestamp: time, sequence: 2, workers: [] }), 400, ['timestamp']);
        const worker = { worker_id: 'w-1', state: 'idle', last_heartbeat: time };
        await expectRefused(() => sendHeartbeat(queen, hive.token, { hive_id: hive.id, timestamp: iso(queen), sequence: 2, workers: [worker] }), 400, [
          'workers.0.last_heartbeat',
        ]);
      },
    );
  });

  describe('keys an object cannot hold', () => {
    it.each<[string, string, string, string]>([
      ['a label named constructor', 'patch', '/v1/hives/target', '{"labels":{"constructor":"x"}}'],
      ['a label named __proto__', 'patch', '/v1/hives/target', '{"labels":{"__proto__":"x"}}'],
      ['a top-level __proto__', 'post', '/v1/hives', '{"id":"proto-hive","host":"10.0.0.1","port":1,"__proto__":{"cordoned":true}}'],
      ['an ssh.prototype', 'post', '/v1/hives', '{"id":"proto-hive","host":"10.0.0.1","port":1,"ssh":{"user":"u","prototype":1}}'],
      ['a placement asking for label constructor', 'post', '/v1/placements', '{"model_id":"m","vram_bytes":1,"labels":{"constructor":"x"}}'],
    ])('refuses %s (400, not dropped)', async (_name, method, path, raw) => {
      const problem = await expectRefused(
        () => (method === 'post' ? queen.http().post(path) : queen.http().patch(path)).set('content-type', 'application/json').send(raw),
        400,
      );
      expect(problem.errors!.some((error) => /__proto__|constructor|prototype/.test(error.field))).toBe(true);
    });
  });

  describe('bodies built to cost the queen', () => {
    const deep = `{"a":${'['.repeat(2000)}${']'.repeat(2000)}}`;

    it.each(JSON_ROUTES)('refuses a body nested 2,000 deep on $method $path, without a token, before anything else', async ({ method, path }) => {
      const problem = await expectRefused(() => queen.http()[method](path).set('content-type', 'application/json').send(deep), 400);
      expect(problem.type).toBe('/problems/body-too-deep');
    });

    it.each(JSON_ROUTES)('refuses a gzip Content-Encoding over a body that is not gzip on $method $path', async ({ method, path }) => {
      const problem = await expectRefused(
        () => queen.http()[method](path).set('content-type', 'application/json').set('content-encoding', 'gzip').send('{"not":"gzip"}'),
        400,
      );
      expect(problem.type).toBe('/problems/unreadable-body');
    });

    it('takes a body that really is gzip', async () => {
      const { port } = queen.app.getHttpServer().address() as AddressInfo;
      const res = await fetch(`http://127.0.0.1:${port}/v1/placements`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        body: gzipSync(JSON.stringify({ model_id: 'm', vram_bytes: GiB })),
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ hive_id: 'target', device: 'cuda:0' });
    });

    it('takes a body nested as deep as the limit (32), in a field a heartbeat ignores', async () => {
      const nested = JSON.parse(`${'['.repeat(31)}${']'.repeat(31)}`);
      expect((await beat(queen, hive, { sequence: 3, workers: [{ worker_id: 'w-1', state: 'idle', backend: 'cuda', device_id: 0, vram_bytes: GiB }], extra: nested })).body.applied).toBe(true);
      await expectRefused(() => sendHeartbeat(queen, hive.token, { hive_id: hive.id, timestamp: iso(queen), workers: [], extra: [nested] }), 400);
    });
  });
});
