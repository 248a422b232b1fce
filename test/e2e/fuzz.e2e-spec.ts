/**
 * Property-based fuzzing of every route that takes a JSON body (and the query
 * strings of the list routes): random JSON, valid bodies with one field
 * broken or dropped or one field added, and text that is not JSON. Whatever
 * comes in, the answer is never a 5xx; a 4xx is problem JSON; and a refused
 * request leaves the stored data byte for byte as it was. Fixed seed, fixed
 * budget: the same cases run every time.
 */
import { get } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { CatalogWriteBehind } from '../../src/catalog/catalog-write-behind';
import { beat, Body, registerHive, TestHive } from '../support/heartbeats';
import { TestQueen } from '../support/queen';

const SEED = 20261201;
const RUNS_PER_ROUTE = 400;

/** What the checks read of an answer. */
interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

interface Route {
  name: string;
  send: (queen: TestQueen, body: unknown) => Promise<Answer>;
  valid: Body;
}

/** An event-stream request: the answer's head, and its body only when it is a refusal (an accepted stream never ends). */
function openStream(queen: TestQueen, path: string): Promise<Answer> {
  const { port } = queen.app.getHttpServer().address() as AddressInfo;
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path }, (res) => {
      if (res.statusCode === 200) {
        res.destroy();
        resolve({ status: 200, headers: res.headers, text: '' });
        return;
      }
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    }).on('error', reject);
  });
}

/** Status counts of the whole suite, printed at the end for the record. */
const counts: Record<string, Record<number, number>> = {};

const json = fc.jsonValue({ maxDepth: 3 });
/** A valid body with one field replaced by anything, removed, or one field added. */
const mutated = (valid: Body) =>
  fc.oneof(
    fc.tuple(fc.constantFrom(...Object.keys(valid)), json).map(([key, value]) => ({ ...valid, [key]: value })),
    fc.constantFrom(...Object.keys(valid)).map((key) => Object.fromEntries(Object.entries(valid).filter(([k]) => k !== key))),
    fc.tuple(fc.string({ maxLength: 12 }), json).map(([key, value]) => ({ ...valid, [key]: value })),
    fc.tuple(fc.constantFrom(...Object.keys(valid)), fc.constantFrom(null, [], {}, '', -1, 1.5, 2 ** 60, 'x'.repeat(300), '__proto__', [[]], true)).map(
      ([key, value]) => ({ ...valid, [key]: value }),
    ),
  );
/** Text that may or may not be JSON, sent as application/json. */
const text = fc.oneof(fc.string({ maxLength: 40 }), json.map((value) => JSON.stringify(value).slice(0, -1)));

describe('fuzzing every JSON route (fixed seed)', () => {
  let queen: TestQueen;
  let beater: TestHive;

  beforeAll(async () => {
    queen = await TestQueen.start({ env: { CATALOG_FLUSH_MS: '600000' } });
    await registerHive(queen, 'target');
    beater = await registerHive(queen, 'beater');
    // Cordoned: what valid heartbeats make of it never takes a placement, so no worker is ever started.
    await queen.http().patch('/v1/hives/beater').send({ cordoned: true }).expect(200);
    await beat(queen, beater, { sequence: 1 });
  });
  afterAll(async () => {
    await queen?.destroy();
    process.stdout.write(`fuzz answers by route and status: ${JSON.stringify(counts)}\n`);
  });

  const snapshot = async (): Promise<string> => {
    await queen.get(CatalogWriteBehind).flush();
    return JSON.stringify(await queen.dataSource.query('SELECT * FROM hives ORDER BY id'));
  };

  async function check(route: string, send: () => Promise<Answer>): Promise<void> {
    const before = await snapshot();
    const res = await send();
    (counts[route] ??= {})[res.status] = (counts[route][res.status] ?? 0) + 1;
    if (res.status >= 500) throw new Error(`${route} answered ${res.status}: ${res.text.slice(0, 300)}`);
    if (res.status >= 400) {
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      const problem = JSON.parse(res.text);
      expect(problem).toMatchObject({ status: res.status, type: expect.any(String), title: expect.any(String), detail: expect.any(String) });
      expect(await snapshot()).toBe(before);
    }
  }

  const ROUTES: Route[] = [
    { name: 'POST /v1/hives', send: (q, body) => q.http().post('/v1/hives').set('content-type', 'application/json').send(body as object), valid: { id: 'fuzzed', host: '10.0.0.5', port: 7835, labels: { zone: 'a' } } },
    { name: 'PATCH /v1/hives/{id}', send: (q, body) => q.http().patch('/v1/hives/target').set('content-type', 'application/json').send(body as object), valid: { host: '10.0.0.6', port: 7836, labels: { zone: 'b' } } },
    {
      name: 'POST /v1/heartbeat',
      send: (q, body) => q.http().post('/v1/heartbeat').set('authorization', `Bearer ${beater.token}`).set('content-type', 'application/json').send(body as object),
      valid: { hive_id: 'beater', timestamp: '2026-11-27T10:00:00Z', sequence: 2, workers: [{ worker_id: 'w', state: 'Idle', backend: 'cuda', device_id: 0, vram_bytes: 1 }] },
    },
    { name: 'POST /v1/placements', send: (q, body) => q.http().post('/v1/placements').set('content-type', 'application/json').send(body as object), valid: { model_id: 'm', vram_bytes: 1, strategy: 'spread', labels: { zone: 'a' } } },
    { name: 'POST /v1/workers', send: (q, body) => q.http().post('/v1/workers').set('content-type', 'application/json').send(body as object), valid: { model_id: 'm', vram_bytes: 1, backend: 'cuda' } },
  ];

  it.each(ROUTES)('$name: never a 5xx, 4xx as problem JSON, nothing stored changed by a refusal', async ({ name, send, valid }) => {
    await fc.assert(
      fc.asyncProperty(fc.oneof({ arbitrary: json, weight: 2 }, { arbitrary: mutated(valid), weight: 5 }, { arbitrary: text, weight: 1 }), async (body) =>
        check(name, () => (typeof body === 'string' ? send(queen, body) : send(queen, body))),
      ),
      { seed: SEED, numRuns: RUNS_PER_ROUTE },
    );
  });

  it.each(['/v1/hives', '/v1/workers', '/v1/events', '/v1/hives/target/state', '/v1/workers/w'])('GET %s with random query strings', async (path) => {
    const query = fc.dictionary(fc.constantFrom('status', 'limit', 'offset', 'hive_id', 'model_id', 'types', 'access_token', 'x', '__proto__'), fc.string({ maxLength: 20 }), { maxKeys: 3 });
    await fc.assert(
      fc.asyncProperty(query, async (params) =>
        check(`GET ${path}`, async () => {
          const target = `${path}?${new URLSearchParams(params as Record<string, string>).toString()}`;
          return path === '/v1/events' ? openStream(queen, target) : queen.http().get(target);
        }),
      ),
      { seed: SEED, numRuns: 60 },
    );
  });
});
