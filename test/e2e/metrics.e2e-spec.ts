/** GET /metrics: Prometheus text with the fleet, heartbeat, placement and catalog figures. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { CatalogWriteBehind } from '../../src/catalog/catalog-write-behind';
import { TestQueen } from '../support/queen';
import { iso, sendHeartbeat } from '../support/heartbeats';

const GiB = 2 ** 30;
const PROMTOOL = '/usr/bin/promtool';

/** The value of one sample line, e.g. `queen_hives{status="online"}`; undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('GET /metrics', () => {
  let queen: TestQueen;
  let token: string;

  beforeAll(async () => {
    queen = await TestQueen.start({ env: { CATALOG_FLUSH_MS: '600000', QUEEN_API_TOKEN: 'metrics-admin-token-0123' } });
    const admin = { Authorization: 'Bearer metrics-admin-token-0123' };
    token = (await queen.http().post('/v1/hives').set(admin).send({ id: 'm1', host: '127.0.0.1', port: 1 }).expect(201)).body
      .heartbeat_token;
    await queen.http().post('/v1/hives').set(admin).send({ id: 'm2', host: '127.0.0.1', port: 2 }).expect(201);
  });
  afterAll(() => queen.destroy());

  const beat = (body: Record<string, unknown>, withToken = token) =>
    sendHeartbeat(queen, withToken, { hive_id: 'm1', timestamp: iso(queen), workers: [], ...body });

  it('is public, in Prometheus text format, and counts heartbeats, hives, workers and VRAM', async () => {
    await beat({
      sequence: 2,
      capabilities: { cpu_cores: 8, ram_bytes: 64 * GiB, gpus: [{ index: 0, name: 'L4', vram_bytes: 24 * GiB, backend: 'cuda' }] },
      workers: [{ worker_id: 'w1', state: 'Busy', backend: 'cuda', device_id: 0, vram_bytes: 8 * GiB }],
    }).expect(200);
    await beat({ sequence: 1 }).expect(200); // older: stale
    await beat({}, 'wrong').expect(401);
    await beat({ workers: 'none' }).expect(400);
    await queen.get(CatalogWriteBehind).flush();

    const res = await queen.http().get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain;.*version=0\.0\.4/);
    const text = res.text;
    expect(sample(text, 'queen_heartbeats_total{result="applied"}')).toBe(1);
    expect(sample(text, 'queen_heartbeats_total{result="stale"}')).toBe(1);
    expect(sample(text, 'queen_heartbeats_total{result="unauthorized"}')).toBe(1);
    expect(sample(text, 'queen_heartbeats_total{result="invalid"}')).toBe(1);
    expect(sample(text, 'queen_heartbeat_duration_seconds_count')).toBe(4);
    expect(sample(text, 'queen_hives{status="online"}')).toBe(1);
    expect(sample(text, 'queen_hives{status="unknown"}')).toBe(1);
    expect(sample(text, 'queen_workers{state="busy"}')).toBe(1);
    expect(sample(text, 'queen_vram_bytes{kind="total"}')).toBe(24 * GiB);
    expect(sample(text, 'queen_vram_bytes{kind="used"}')).toBe(8 * GiB);
    expect(sample(text, 'queen_vram_bytes{kind="reserved"}')).toBe(0);
    expect(sample(text, 'queen_catalog_flush_batch_hives_count')).toBe(1);
    expect(sample(text, 'queen_sql_statements_total')).toBe(queen.sqlStatements);
    expect(sample(text, 'queen_event_clients')).toBe(0);
    expect(text).toContain('# TYPE queen_placements_total counter');
    expect(text).toContain('\nprocess_resident_memory_bytes ');
    expect(text).toContain('\nnodejs_heap_size_used_bytes ');
  });

  it('passes promtool check metrics', async () => {
    if (!existsSync(PROMTOOL)) {
      throw new Error(`this test needs promtool at ${PROMTOOL}; install it with: apt-get update && apt-get install -y prometheus`);
    }
    const text = (await queen.http().get('/metrics').expect(200)).text;
    const lint = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect({ status: lint.status, problems: `${lint.stdout}${lint.stderr}` }).toEqual({ status: 0, problems: '' });
  });

  it('counts placement decisions by result', async () => {
    const admin = { Authorization: 'Bearer metrics-admin-token-0123' };
    await queen.http().post('/v1/placements').set(admin).send({ model_id: 'm', vram_bytes: 4 * GiB }).expect(200);
    await queen.http().post('/v1/placements').set(admin).send({ model_id: 'm', vram_bytes: 40 * GiB }).expect(409);
    const text = (await queen.http().get('/metrics').expect(200)).text;
    expect(sample(text, 'queen_placements_total{route="plan",result="placed"}')).toBe(1);
    expect(sample(text, 'queen_placements_total{route="plan",result="rejected"}')).toBe(1);
  });
});
