/**
 * POST /v1/heartbeat end to end: rbee-shaped payloads, validation, hive-token
 * auth, ordering, capabilities and deletion, over real HTTP on a real SQLite
 * catalog. Liveness and restarts: heartbeat-liveness.e2e-spec.ts; coalesced
 * catalog writes: heartbeat-coalescing.e2e-spec.ts.
 *
 * The background flush never fires (CATALOG_FLUSH_MS is ten minutes); tests
 * flush explicitly and move the ManualClock instead of sleeping.
 */
import { CatalogWriteBehind } from '../../src/catalog/catalog-write-behind';
import { FleetEvents } from '../../src/platform/events/fleet-events';
import { activeHives, asIso, beat, Body, catalogHive, iso, liveState, registerHive, sendHeartbeat, TestHive } from '../support/heartbeats';
import { expectProblem } from '../support/problem';
import { TestQueen } from '../support/queen';

const GiB = 2 ** 30;
/**
 * How far tests move the clock at a time. The liveness sweeper's own timer runs
 * in real time on the ManualClock, so the clock must stay well inside the
 * 15 s timeout over the whole file: a background sweep marking a hive offline
 * would write its status in the middle of a statement count.
 */
const STEP_MS = 100;
const ENV = { CATALOG_FLUSH_MS: '600000', HEARTBEAT_INTERVAL_MS: '5000', HEARTBEAT_TIMEOUT_MS: '15000', LIVENESS_SWEEP_MS: '1000' };

/** The hive's row as the database holds it (not the catalog's in-memory mirror). */
async function catalogRow(queen: TestQueen, id: string): Promise<Body | undefined> {
  const param = queen.config.database.type === 'postgres' ? '$1' : '?';
  const rows = (await queen.dataSource.query(`SELECT * FROM hives WHERE id = ${param}`, [id])) as Body[];
  if (rows.length === 0) return undefined;
  const row = rows[0];
  return {
    ...row,
    last_heartbeat_at: asIso(row.last_heartbeat_at),
    created_at: asIso(row.created_at),
    updated_at: asIso(row.updated_at),
    capabilities: row.capabilities === null ? null : JSON.parse(String(row.capabilities)),
  };
}

const capabilitiesOf = (ramGiB: number, gpus: { index: number; vramGiB: number; backend?: string; name?: string }[], cpuCores = 32) => ({
  cpu_cores: cpuCores,
  ram_bytes: ramGiB * GiB,
  gpus: gpus.map((gpu) => ({
    index: gpu.index,
    name: gpu.name ?? 'RTX 4090',
    vram_bytes: gpu.vramGiB * GiB,
    backend: gpu.backend ?? 'cuda',
  })),
});

describe('POST /v1/heartbeat (SQLite)', () => {
  let queen: TestQueen;
  let writeBehind: CatalogWriteBehind;

  beforeAll(async () => {
    queen = await TestQueen.start({ database: 'sqlite', env: ENV });
    writeBehind = queen.get(CatalogWriteBehind);
  });

  afterAll(async () => {
    await queen?.destroy();
  });

  afterEach(() => {
    jest.restoreAllMocks();
  });

  describe('rbee-shaped payloads', () => {
    it('accepts them and reports per-GPU and RAM usage in /state, ignoring unknown fields', async () => {
      const gpuHive = await registerHive(queen, 'rbee-gpu');
      const macHive = await registerHive(queen, 'rbee-mac');

      const ack = await beat(queen, gpuHive, {
        sequence: 1,
        agent_version: '0.9.1',
        hive_extra: { nested: [1, 2, 3] },
        capabilities: { ...capabilitiesOf(128, [{ index: 0, vramGiB: 24 }, { index: 1, vramGiB: 24 }]), os: 'linux' },
        workers: [
          {
            worker_id: 'w-gpu0',
            state: 'Idle',
            last_heartbeat: '2026-11-27T09:59:58Z',
            health_status: 'healthy',
            url: 'http://10.0.0.5:9001',
            model_id: 'llama-3-8b',
            backend: 'cuda',
            device_id: 0,
            vram_bytes: 8 * GiB,
            ram_bytes: 2 * GiB,
            cpu_percent: 3.5,
            gpu_percent: 0.0,
            pid: 4242,
          },
          {
            worker_id: 'w-gpu1-busy',
            state: 'Busy',
            last_heartbeat: '2026-11-27T09:59:59Z',
            health_status: 'healthy',
            url: 'http://10.0.0.5:9002',
            model_id: 'qwen-14b',
            backend: 'cuda',
            device_id: 1,
            vram_bytes: 10 * GiB,
            ram_bytes: 3 * GiB,
            cpu_percent: 55,
            gpu_percent: 97.5,
          },
          {
            worker_id: 'w-gpu1-loading',
            state: 'Loading',
            last_heartbeat: null,
            health_status: null,
            url: null,
            model_id: null,
            backend: 'cuda',
            device_id: 1,
            vram_bytes: 4 * GiB,
            ram_bytes: 1 * GiB,
            cpu_percent: null,
            gpu_percent: null,
          },
          {
            worker_id: 'w-cpu',
            state: 'Idle',
            url: 'http://10.0.0.5:9003',
            model_id: 'phi-3-mini',
            backend: 'cpu',
            device_id: null,
            // Reported, but a CPU worker holds no GPU memory: only its RAM counts.
            vram_bytes: 2 * GiB,
            ram_bytes: 6 * GiB,
          },
          // Everything optional left out: a CPU worker counting RAM only.
          { worker_id: 'w-bare', state: 'idle', ram_bytes: 1 * GiB },
        ],
      });
      expect(ack.body).toEqual({ acknowledged: true, applied: true, next_heartbeat_ms: 5000, capabilities_required: false });

      await beat(queen, macHive, {
        capabilities: capabilitiesOf(64, [{ index: 0, vramGiB: 48, backend: 'metal', name: 'Apple M2 Max' }], 12),
        workers: [
          {
            worker_id: 'w-metal',
            state: 'Busy',
            last_heartbeat: '2026-11-27T09:59:57Z',
            health_status: 'healthy',
            url: 'http://10.0.0.6:9001',
            model_id: 'mistral-7b',
            backend: 'metal',
            device_id: 0,
            vram_bytes: 20 * GiB,
            ram_bytes: 4 * GiB,
            cpu_percent: 12,
            gpu_percent: 80,
          },
        ],
      });

      const gpuState = await liveState(queen, gpuHive.id);
      expect(gpuState).toEqual({
        hive_id: 'rbee-gpu',
        online: true,
        last_heartbeat_at: iso(queen),
        workers: expect.any(Array),
        devices: [
          { device: 'cuda:0', total_bytes: 24 * GiB, used_bytes: 8 * GiB, reserved_bytes: 0, free_bytes: 16 * GiB },
          { device: 'cuda:1', total_bytes: 24 * GiB, used_bytes: 14 * GiB, reserved_bytes: 0, free_bytes: 10 * GiB },
        ],
        ram: { total_bytes: 128 * GiB, used_bytes: 13 * GiB, reserved_bytes: 0, free_bytes: 115 * GiB },
      });
      const workers = gpuState.workers as Body[];
      expect(workers.map((worker) => worker.worker_id)).toEqual(['w-gpu0', 'w-gpu1-busy', 'w-gpu1-loading', 'w-cpu', 'w-bare']);
      // Exactly these fields: the unknown `pid` was dropped, states are lower-cased.
      expect(workers[0]).toEqual({
        worker_id: 'w-gpu0',
        hive_id: 'rbee-gpu',
        model_id: 'llama-3-8b',
        state: 'idle',
        backend: 'cuda',
        device_id: 0,
        device: 'cuda:0',
        vram_bytes: 8 * GiB,
        ram_bytes: 2 * GiB,
        url: 'http://10.0.0.5:9001',
        health_status: 'healthy',
        last_heartbeat: '2026-11-27T09:59:58Z',
        cpu_percent: 3.5,
        gpu_percent: 0,
      });
      expect(workers[1]).toMatchObject({ state: 'busy', device: 'cuda:1', gpu_percent: 97.5 });
      expect(workers[2]).toEqual({
        worker_id: 'w-gpu1-loading',
        hive_id: 'rbee-gpu',
        model_id: null,
        state: 'loading',
        backend: 'cuda',
        device_id: 1,
        device: 'cuda:1',
        vram_bytes: 4 * GiB,
        ram_bytes: 1 * GiB,
        url: null,
        health_status: null,
        last_heartbeat: null,
        cpu_percent: null,
        gpu_percent: null,
      });
      expect(workers[3]).toMatchObject({ backend: 'cpu', device_id: null, device: 'cpu', ram_bytes: 6 * GiB });
      expect(workers[4]).toEqual({
        worker_id: 'w-bare',
        hive_id: 'rbee-gpu',
        model_id: null,
        state: 'idle',
        backend: 'cpu',
        device_id: null,
        device: 'cpu',
        vram_bytes: 0,
        ram_bytes: 1 * GiB,
        url: null,
        health_status: null,
        last_heartbeat: null,
        cpu_percent: null,
        gpu_percent: null,
      });

      const macState = await liveState(queen, macHive.id);
      expect(macState).toMatchObject({
        online: true,
        devices: [{ device: 'metal:0', total_bytes: 48 * GiB, used_bytes: 20 * GiB, reserved_bytes: 0, free_bytes: 28 * GiB }],
        ram: { total_bytes: 64 * GiB, used_bytes: 4 * GiB, reserved_bytes: 0, free_bytes: 60 * GiB },
        workers: [{ worker_id: 'w-metal', state: 'busy', backend: 'metal', device_id: 0, device: 'metal:0' }],
      });

      expect(await activeHives(queen)).toEqual(expect.arrayContaining(['rbee-gpu', 'rbee-mac']));

      // Unknown fields never reach the catalog either.
      await writeBehind.flush();
      expect((await catalogHive(queen, gpuHive.id)).capabilities).toEqual(
        capabilitiesOf(128, [{ index: 0, vramGiB: 24 }, { index: 1, vramGiB: 24 }]),
      );
    });

    it('recomputes usage when a later heartbeat moves, stops or drops workers', async () => {
      const hive = await registerHive(queen, 'rbee-churn');
      const caps = capabilitiesOf(64, [{ index: 0, vramGiB: 24 }, { index: 1, vramGiB: 24 }]);
      await beat(queen, hive, {
        sequence: 1,
        capabilities: caps,
        workers: [
          { worker_id: 'a', state: 'Idle', backend: 'cuda', device_id: 0, vram_bytes: 8 * GiB, ram_bytes: 1 * GiB },
          { worker_id: 'b', state: 'Idle', backend: 'cuda', device_id: 1, vram_bytes: 8 * GiB, ram_bytes: 1 * GiB },
        ],
      });
      queen.clock.advance(STEP_MS);
      await beat(queen, hive, {
        sequence: 2,
        workers: [
          // a is gone; b stopped (holds nothing); c is new on GPU 0.
          { worker_id: 'b', state: 'Stopped', backend: 'cuda', device_id: 1, vram_bytes: 8 * GiB, ram_bytes: 1 * GiB },
          { worker_id: 'c', state: 'Starting', backend: 'cuda', device_id: 0, vram_bytes: 2 * GiB, ram_bytes: 1 * GiB },
        ],
      });
      const state = await liveState(queen, hive.id);
      expect((state.workers as Body[]).map((worker) => [worker.worker_id, worker.state])).toEqual([
        ['b', 'stopped'],
        ['c', 'starting'],
      ]);
      expect(state.devices).toEqual([
        { device: 'cuda:0', total_bytes: 24 * GiB, used_bytes: 2 * GiB, reserved_bytes: 0, free_bytes: 22 * GiB },
        { device: 'cuda:1', total_bytes: 24 * GiB, used_bytes: 0, reserved_bytes: 0, free_bytes: 24 * GiB },
      ]);
      expect(state.ram).toEqual({ total_bytes: 64 * GiB, used_bytes: 1 * GiB, reserved_bytes: 0, free_bytes: 63 * GiB });
    });
  });

  describe('malformed heartbeats', () => {
    let hive: TestHive;
    let next: Body;

    beforeAll(async () => {
      hive = await registerHive(queen, 'malformed');
      await beat(queen, hive, {
        sequence: 1,
        capabilities: capabilitiesOf(64, [{ index: 0, vramGiB: 24 }]),
        workers: [{ worker_id: 'w-1', state: 'Idle', backend: 'cuda', device_id: 0, vram_bytes: 8 * GiB, ram_bytes: 1 * GiB }],
      });
      await writeBehind.flush();
      queen.clock.advance(STEP_MS);
      // What every malformed variant starts from: valid, newer, and different in every way that shows.
      next = {
        hive_id: hive.id,
        timestamp: iso(queen),
        sequence: 2,
        capabilities: capabilitiesOf(128, [{ index: 0, vramGiB: 48 }]),
        workers: [{ worker_id: 'w-2', state: 'Busy', backend: 'cuda', device_id: 0, vram_bytes: 4 * GiB, ram_bytes: 2 * GiB }],
      };
    });

    const worker = (overrides: Body): Body => ({
      worker_id: 'w-2',
      state: 'Busy',
      backend: 'cuda',
      device_id: 0,
      vram_bytes: 4 * GiB,
      ram_bytes: 2 * GiB,
      ...overrides,
    });
    const without = (field: string) => (body: Body): Body => {
      const copy = { ...body };
      delete copy[field];
      return copy;
    };

    // Rows always have four cells: jest.each hands a `done` callback to a test with more parameters than cells.
    const cases: [string, (body: Body) => Body | string, number, string | null][] = [
      ['hive_id a number', (body) => ({ ...body, hive_id: 42 }), 400, 'hive_id'],
      ['workers not an array', (body) => ({ ...body, workers: { 'w-2': worker({}) } }), 400, 'workers'],
      ['a worker not an object', (body) => ({ ...body, workers: ['w-2'] }), 400, 'workers.0'],
      ['vram_bytes a string', (body) => ({ ...body, workers: [worker({ vram_bytes: '4294967296' })] }), 400, 'workers.0.vram_bytes'],
      ['negative ram_bytes', (body) => ({ ...body, workers: [worker({ ram_bytes: -1 })] }), 400, 'workers.0.ram_bytes'],
      ['negative vram_bytes', (body) => ({ ...body, workers: [worker({ vram_bytes: -4 * GiB })] }), 400, 'workers.0.vram_bytes'],
      ['fractional vram_bytes', (body) => ({ ...body, workers: [worker({ vram_bytes: 1.5 })] }), 400, 'workers.0.vram_bytes'],
      ['fractional ram_bytes', (body) => ({ ...body, workers: [worker({ ram_bytes: 1024.25 })] }), 400, 'workers.0.ram_bytes'],
      ['an unknown state', (body) => ({ ...body, workers: [worker({ state: 'Sleeping' })] }), 400, 'workers.0.state'],
      ['a missing state', (body) => ({ ...body, workers: [worker({ state: undefined })] }), 400, 'workers.0.state'],
      ['device_id -1', (body) => ({ ...body, workers: [worker({ device_id: -1 })] }), 400, 'workers.0.device_id'],
      ['an unknown backend', (body) => ({ ...body, workers: [worker({ backend: 'rocm' })] }), 400, 'workers.0.backend'],
      ['an empty worker_id', (body) => ({ ...body, workers: [worker({ worker_id: '' })] }), 400, 'workers.0.worker_id'],
      [
        '2,000 workers',
        (body) => ({ ...body, workers: Array.from({ length: 2000 }, (_, i) => ({ worker_id: `w-${i}`, state: 'idle' })) }),
        400,
        'workers',
      ],
      ['a missing hive_id', without('hive_id'), 400, 'hive_id'],
      ['a missing timestamp', without('timestamp'), 400, 'timestamp'],
      ['missing workers', without('workers'), 400, 'workers'],
      ['a timestamp that is no time', (body) => ({ ...body, timestamp: 'yesterday' }), 400, 'timestamp'],
      ['a timestamp that is a number', (body) => ({ ...body, timestamp: Date.now() }), 400, 'timestamp'],
      ['a negative sequence', (body) => ({ ...body, sequence: -1 }), 400, 'sequence'],
      ['a sequence as a string', (body) => ({ ...body, sequence: '3' }), 400, 'sequence'],
      [
        'negative GPU VRAM in capabilities',
        (body) => ({ ...body, capabilities: { ...capabilitiesOf(128, []), gpus: [{ index: 0, name: 'x', vram_bytes: -1, backend: 'cuda' }] } }),
        400,
        'capabilities.gpus.0.vram_bytes',
      ],
      ['capabilities.gpus not an array', (body) => ({ ...body, capabilities: { ...capabilitiesOf(128, []), gpus: 'all' } }), 400, 'capabilities.gpus'],
      [
        'two GPUs with one index',
        (body) => ({ ...body, capabilities: capabilitiesOf(128, [{ index: 0, vramGiB: 24 }, { index: 0, vramGiB: 24 }]) }),
        400,
        'capabilities.gpus.1.index',
      ],
      ['duplicate worker ids', (body) => ({ ...body, workers: [worker({}), worker({ device_id: 0, vram_bytes: 1 })] }), 400, 'workers.1.worker_id'],
      ['a body over 1 MiB (2 MiB)', (body) => JSON.stringify({ ...body, padding: 'x'.repeat(2 * 1024 * 1024) }), 413, null],
      ['a body that is not JSON', (body) => JSON.stringify(body).slice(0, -7), 400, null],
      ['a JSON array body', (body) => JSON.stringify([body]), 400, null],
      ['a JSON string body', () => '"heartbeat"', 400, null],
      ['a JSON null body', () => 'null', 400, null],
    ];

    it.each(cases)('refuses %s with problem JSON and changes nothing', async (_name, mutate, status, field) => {
      const stateBefore = await liveState(queen, hive.id);
      const rowBefore = await catalogRow(queen, hive.id);
      const statements = queen.sqlStatements;

      const res = await sendHeartbeat(queen, hive.token, mutate(next));
      expectProblem(res, status, field ? [field] : undefined);

      await writeBehind.flush();
      expect(queen.sqlStatements).toBe(statements);
      expect(await liveState(queen, hive.id)).toEqual(stateBefore);
      expect(await catalogRow(queen, hive.id)).toEqual(rowBefore);
    });

    it('refuses a body that is not JSON at all (form data)', async () => {
      const stateBefore = await liveState(queen, hive.id);
      const res = await queen
        .http()
        .post('/v1/heartbeat')
        .set('Authorization', `Bearer ${hive.token}`)
        .type('form')
        .send({ hive_id: hive.id });
      expectProblem(res, res.status);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(await liveState(queen, hive.id)).toEqual(stateBefore);
    });

    it('lists every bad field of one heartbeat from its hive', async () => {
      const res = await sendHeartbeat(queen, hive.token, { ...next, timestamp: 'soon', workers: [worker({ ram_bytes: -1, state: 'nap' }), []] });
      const fields = expectProblem(res, 400).errors!.map((error) => error.field);
      expect(fields).toEqual(expect.arrayContaining(['timestamp', 'workers.0.ram_bytes', 'workers.0.state', 'workers.1']));
    });

    it('checks the hive id and the token before the rest of the body', async () => {
      // A sender without the token learns nothing about the body, and costs no more than a look at hive_id.
      const bad = { ...next, timestamp: 'soon', workers: [[]] };
      expect(expectProblem(await sendHeartbeat(queen, null, bad), 401).errors).toBeUndefined();
      expect(expectProblem(await sendHeartbeat(queen, 'qh_not-a-token', bad), 401).errors).toBeUndefined();
      expectProblem(await sendHeartbeat(queen, hive.token, { ...bad, hive_id: 'no-such-hive' }), 404);
      expectProblem(await sendHeartbeat(queen, hive.token, { ...bad, hive_id: 7 }), 400, ['hive_id']);
    });

    // Last: proves the variants above would have shown, had any of them been applied.
    it('applies the valid heartbeat all those variants were made from', async () => {
      const before = await liveState(queen, hive.id);
      const res = await sendHeartbeat(queen, hive.token, next);
      expect(res.status).toBe(200);
      expect(res.body.applied).toBe(true);
      const after = await liveState(queen, hive.id);
      expect(after).not.toEqual(before);
      expect(after).toMatchObject({
        last_heartbeat_at: iso(queen),
        workers: [{ worker_id: 'w-2' }],
        devices: [{ device: 'cuda:0', total_bytes: 48 * GiB, used_bytes: 4 * GiB }],
      });
    });
  });

  describe('hive token auth', () => {
    let alpha: TestHive;
    let beta: TestHive;

    beforeAll(async () => {
      alpha = await registerHive(queen, 'auth-alpha');
      beta = await registerHive(queen, 'auth-beta');
      await beat(queen, alpha, { sequence: 1, workers: [{ worker_id: 'alpha-w', state: 'idle' }] });
      await beat(queen, beta, { sequence: 1, workers: [{ worker_id: 'beta-w', state: 'idle' }] });
      await writeBehind.flush();
      queen.clock.advance(STEP_MS);
    });

    const intruding = (hive: TestHive): Body => ({
      hive_id: hive.id,
      timestamp: '2026-11-27T11:00:00Z',
      sequence: 99,
      workers: [{ worker_id: 'intruder', state: 'busy', ram_bytes: 1 }],
    });

    async function expectUntouched(action: () => Promise<unknown>): Promise<void> {
      const before = [await liveState(queen, alpha.id), await liveState(queen, beta.id)];
      const rows = [await catalogRow(queen, alpha.id), await catalogRow(queen, beta.id)];
      const statements = queen.sqlStatements;
      await action();
      await writeBehind.flush();
      expect(queen.sqlStatements).toBe(statements);
      expect([await liveState(queen, alpha.id), await liveState(queen, beta.id)]).toEqual(before);
      expect([await catalogRow(queen, alpha.id), await catalogRow(queen, beta.id)]).toEqual(rows);
    }

    it('refuses a heartbeat without a token: 401', async () => {
      await expectUntouched(async () => expectProblem(await sendHeartbeat(queen, null, intruding(beta)), 401));
    });

    it('refuses a heartbeat with a garbage token or another scheme: 401', async () => {
      await expectUntouched(async () => {
        expectProblem(await sendHeartbeat(queen, 'qh_not-a-token', intruding(beta)), 401);
        const basic = await queen.http().post('/v1/heartbeat').set('Authorization', `Basic ${beta.token}`).send(intruding(beta));
        expectProblem(basic, 401);
      });
    });

    it("refuses hive alpha's token used for hive beta: 403, nothing changed", async () => {
      await expectUntouched(async () => expectProblem(await sendHeartbeat(queen, alpha.token, intruding(beta)), 403));
    });

    it('answers 404 for a hive id that is not registered', async () => {
      await expectUntouched(async () => {
        expectProblem(await sendHeartbeat(queen, alpha.token, intruding({ id: 'no-such-hive', token: '' })), 404);
        expectProblem(await sendHeartbeat(queen, null, intruding({ id: 'no-such-hive', token: '' })), 404);
      });
      expect((await queen.http().get('/v1/hives/no-such-hive/state')).status).toBe(404);
    });

    it('after token rotation refuses the old token (401) and accepts the new one', async () => {
      const rotated = await queen.http().post(`/v1/hives/${alpha.id}/token`);
      expect(rotated.status).toBe(200);
      const newToken = rotated.body.heartbeat_token as string;
      expect(newToken).not.toBe(alpha.token);

      await expectUntouched(async () => expectProblem(await sendHeartbeat(queen, alpha.token, intruding(alpha)), 401));

      const res = await sendHeartbeat(queen, newToken, intruding(alpha));
      expect(res.status).toBe(200);
      expect(res.body.applied).toBe(true);
      expect((await liveState(queen, alpha.id)).workers).toEqual([expect.objectContaining({ worker_id: 'intruder' })]);
      // The token of another hive is still told apart from garbage.
      expectProblem(await sendHeartbeat(queen, newToken, intruding(beta)), 403);
    });
  });

  describe('ordering', () => {
    it('does not apply a heartbeat with a lower sequence', async () => {
      const hive = await registerHive(queen, 'order-seq');
      await beat(queen, hive, { sequence: 10, workers: [{ worker_id: 'first', state: 'idle', ram_bytes: GiB }] });
      const appliedAt = iso(queen);
      await writeBehind.flush();
      const before = await liveState(queen, hive.id);
      const rowBefore = await catalogRow(queen, hive.id);

      queen.clock.advance(2 * STEP_MS);
      // A late beat: an earlier sequence and an earlier hive time.
      const stale = await beat(queen, hive, {
        sequence: 9,
        timestamp: iso(queen, -60_000),
        workers: [{ worker_id: 'second', state: 'busy', ram_bytes: 2 * GiB }],
      });
      expect(stale.body).toMatchObject({ acknowledged: true, applied: false });
      const after = await liveState(queen, hive.id);
      expect(after).toEqual(before);
      expect(after.last_heartbeat_at).toBe(appliedAt);
      expect(writeBehind.pendingHeartbeats).toBe(0);
      await writeBehind.flush();
      expect(await catalogRow(queen, hive.id)).toEqual(rowBefore);

      // A repeat of the last sequence is harmless and applied; a higher one too.
      const repeat = await beat(queen, hive, { sequence: 10, workers: [{ worker_id: 'first', state: 'idle', ram_bytes: GiB }] });
      expect(repeat.body.applied).toBe(true);
      queen.clock.advance(STEP_MS);
      await beat(queen, hive, { sequence: 11, workers: [{ worker_id: 'third', state: 'idle' }] });
      expect(await liveState(queen, hive.id)).toMatchObject({ last_heartbeat_at: iso(queen), workers: [{ worker_id: 'third' }] });
    });

    it('without sequences, does not apply a heartbeat with an older timestamp', async () => {
      const hive = await registerHive(queen, 'order-ts');
      const hiveTime = iso(queen);
      await beat(queen, hive, { timestamp: hiveTime, workers: [{ worker_id: 'first', state: 'idle' }] });
      const before = await liveState(queen, hive.id);

      queen.clock.advance(2 * STEP_MS);
      const stale = await beat(queen, hive, {
        timestamp: new Date(Date.parse(hiveTime) - 1).toISOString(),
        workers: [{ worker_id: 'second', state: 'idle' }],
      });
      expect(stale.body.applied).toBe(false);
      expect(await liveState(queen, hive.id)).toEqual(before);

      // One side without a sequence: the timestamp still decides.
      const mixed = await beat(queen, hive, {
        sequence: 1_000_000,
        timestamp: new Date(Date.parse(hiveTime) - 1000).toISOString(),
        workers: [{ worker_id: 'third', state: 'idle' }],
      });
      expect(mixed.body.applied).toBe(false);
      expect(await liveState(queen, hive.id)).toEqual(before);

      const newer = await beat(queen, hive, {
        timestamp: new Date(Date.parse(hiveTime) + 1).toISOString(),
        workers: [{ worker_id: 'fourth', state: 'idle' }],
      });
      expect(newer.body.applied).toBe(true);
      expect(await liveState(queen, hive.id)).toMatchObject({ last_heartbeat_at: iso(queen), workers: [{ worker_id: 'fourth' }] });
    });

    it('with sequences, ignores a hive clock that is an hour off either way', async () => {
      const hive = await registerHive(queen, 'order-skew');
      const hour = 3_600_000;
      for (const [sequence, skew] of [
        [1, -hour],
        [2, +hour],
        [3, -hour],
        [4, -2 * hour],
      ]) {
        queen.clock.advance(STEP_MS);
        const res = await beat(queen, hive, {
          sequence,
          timestamp: iso(queen, skew),
          workers: [{ worker_id: `w-${sequence}`, state: 'idle' }],
        });
        expect(res.body.applied).toBe(true);
        const state = await liveState(queen, hive.id);
        // Liveness is on the queen's receive time, never the hive's timestamp.
        expect(state).toMatchObject({ online: true, last_heartbeat_at: iso(queen), workers: [{ worker_id: `w-${sequence}` }] });
      }
      await writeBehind.flush();
      expect((await catalogRow(queen, hive.id))?.last_heartbeat_at).toBe(iso(queen));
    });
  });

  describe('capabilities', () => {
    it('asks for them until given, stores them, and writes each change once', async () => {
      const hive = await registerHive(queen, 'caps');
      let sequence = 0;
      const send = (capabilities?: Body) => beat(queen, hive, { sequence: ++sequence, ...(capabilities && { capabilities }) });

      const first = await send();
      expect(first.body).toMatchObject({ applied: true, capabilities_required: true });
      expect((await send()).body.capabilities_required).toBe(true);
      await writeBehind.flush();
      expect((await catalogHive(queen, hive.id)).capabilities).toBeNull();

      const v1 = capabilitiesOf(256, [{ index: 0, vramGiB: 80, name: 'A100' }, { index: 1, vramGiB: 80, name: 'A100' }], 64);
      let statements = queen.sqlStatements;
      queen.clock.advance(STEP_MS / 10);
      expect((await send(v1)).body.capabilities_required).toBe(false);
      await writeBehind.flush();
      // The capabilities in one transaction (BEGIN, UPDATE, COMMIT), then the same three for the heartbeat times.
      expect(queen.sqlStatements - statements).toBe(6);
      expect((await catalogHive(queen, hive.id)).capabilities).toEqual(v1);
      expect((await catalogRow(queen, hive.id))?.capabilities).toEqual({
        cpuCores: 64,
        ramBytes: 256 * GiB,
        gpus: [
          { index: 0, name: 'A100', vramBytes: 80 * GiB, backend: 'cuda' },
          { index: 1, name: 'A100', vramBytes: 80 * GiB, backend: 'cuda' },
        ],
      });
      expect((await liveState(queen, hive.id)).devices).toEqual([
        { device: 'cuda:0', total_bytes: 80 * GiB, used_bytes: 0, reserved_bytes: 0, free_bytes: 80 * GiB },
        { device: 'cuda:1', total_bytes: 80 * GiB, used_bytes: 0, reserved_bytes: 0, free_bytes: 80 * GiB },
      ]);

      // Known now: not asked for again, and repeating them writes nothing.
      expect((await send()).body.capabilities_required).toBe(false);
      // Each change is announced once, with the write it stands for.
      const announced: unknown[] = [];
      queen.get(FleetEvents).stream.subscribe((event) => event.type === 'hive.capabilities' && announced.push(event.data));
      const capabilityWrites = () => announced.length;
      statements = queen.sqlStatements;
      for (let i = 0; i < 20; i++) {
        queen.clock.advance(STEP_MS / 10);
        expect((await send(v1)).body.capabilities_required).toBe(false);
      }
      expect(queen.sqlStatements).toBe(statements);
      await writeBehind.flush();
      expect(queen.sqlStatements - statements).toBe(3);
      expect(capabilityWrites()).toBe(0);

      // More RAM, GPUs sent in another order: one write.
      const v2 = capabilitiesOf(512, [{ index: 1, vramGiB: 80, name: 'A100' }, { index: 0, vramGiB: 80, name: 'A100' }], 64);
      statements = queen.sqlStatements;
      for (let i = 0; i < 20; i++) {
        queen.clock.advance(STEP_MS / 10);
        await send(v2);
      }
      await writeBehind.flush();
      expect(capabilityWrites()).toBe(1);
      // The capability change (BEGIN, UPDATE, COMMIT) and the heartbeat flush (the same three).
      expect(queen.sqlStatements - statements).toBe(6);
      const stored = (await catalogHive(queen, hive.id)).capabilities as Body;
      expect(stored.ram_bytes).toBe(512 * GiB);
      expect((stored.gpus as Body[]).map((gpu) => gpu.index)).toEqual([0, 1]);

      // A change that does not alter capacity (a new GPU name, more cores) is still a change to store.
      const v3 = capabilitiesOf(512, [{ index: 0, vramGiB: 80, name: 'H100' }, { index: 1, vramGiB: 80, name: 'H100' }], 96);
      for (let i = 0; i < 5; i++) await send(v3);
      await writeBehind.flush();
      expect(capabilityWrites()).toBe(2);
      expect((await catalogHive(queen, hive.id)).capabilities).toEqual(v3);
    });

    it('ignores the capabilities of a heartbeat that is not applied', async () => {
      const hive = await registerHive(queen, 'caps-stale');
      await beat(queen, hive, { sequence: 5, capabilities: capabilitiesOf(32, [{ index: 0, vramGiB: 16 }]) });
      const stale = await beat(queen, hive, { sequence: 4, capabilities: capabilitiesOf(64, [{ index: 0, vramGiB: 48 }]) });
      expect(stale.body.applied).toBe(false);
      await writeBehind.flush();
      expect(((await catalogHive(queen, hive.id)).capabilities as Body).ram_bytes).toBe(32 * GiB);
      expect((await liveState(queen, hive.id)).devices).toEqual([expect.objectContaining({ total_bytes: 16 * GiB })]);
    });
  });

  describe('deleting a hive', () => {
    it('removes it from /v1/hives/active and its live state', async () => {
      const hive = await registerHive(queen, 'doomed');
      await beat(queen, hive, { sequence: 1, workers: [{ worker_id: 'doomed-w', state: 'busy', ram_bytes: GiB }] });
      await writeBehind.flush();
      expect(await activeHives(queen)).toContain(hive.id);

      // A heartbeat time still waiting for the flush when the hive goes.
      queen.clock.advance(STEP_MS);
      await beat(queen, hive, { sequence: 2, workers: [{ worker_id: 'doomed-w', state: 'busy', ram_bytes: GiB }] });

      expect((await queen.http().delete(`/v1/hives/${hive.id}`)).status).toBe(204);
      expect(await activeHives(queen)).not.toContain(hive.id);
      expectProblem(await queen.http().get(`/v1/hives/${hive.id}/state`), 404);
      expectProblem(await sendHeartbeat(queen, hive.token, { hive_id: hive.id, timestamp: iso(queen), sequence: 3, workers: [] }), 404);
      expect(await catalogRow(queen, hive.id)).toBeUndefined();

      // The id registered again is a new hive: nothing of the old one shows.
      queen.clock.advance(STEP_MS);
      const reborn = await registerHive(queen, hive.id);
      expect(await liveState(queen, reborn.id)).toEqual({
        hive_id: hive.id,
        online: false,
        last_heartbeat_at: null,
        workers: [],
        devices: [],
        ram: { total_bytes: 0, used_bytes: 0, reserved_bytes: 0, free_bytes: 0 },
      });
      await writeBehind.flush();
      expect(await catalogRow(queen, reborn.id)).toMatchObject({ status: 'unknown', last_heartbeat_at: null });
      expectProblem(await sendHeartbeat(queen, hive.token, { hive_id: hive.id, timestamp: iso(queen), workers: [] }), 401);
    });
  });
});
