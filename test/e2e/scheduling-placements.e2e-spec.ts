/**
 * POST /v1/placements end to end: which hive and device the queen picks, and why it
 * refuses, over real HTTP against a queen on SQLite with fake hives on loopback.
 */
import { LivenessSweeper } from '../../src/heartbeat/liveness-sweeper';
import { DeviceDetection } from '../../src/heartbeat/device-detection';
import { expectStatus, GIB, SchedulingWorld } from './scheduling-support';
import { expectProblem } from '../support/problem';

let world: SchedulingWorld | undefined;

afterEach(async () => {
  await world?.close();
  world = undefined;
});

const plan = async (body: object) => world!.http().post('/v1/placements').send({ model_id: 'tiny-model', ...body });

const placed = async (body: object) => expectStatus(await plan(body), 200).body as Record<string, unknown>;

const rejections = async (body: object, status = 409) => expectProblem(await plan(body), status).rejections;

describe('placement by free VRAM', () => {
  it('needs one GPU with room: two GPUs whose sum would fit are refused', async () => {
    world = await SchedulingWorld.start([{ id: 'twin', gpus: [{ vramGb: 12 }, { vramGb: 12 }] }]);

    expect(await rejections({ vram_bytes: 16 * GIB })).toEqual({ twin: 'insufficient_vram' });
    expect(await rejections({ vram_bytes: 12 * GIB + 1 })).toEqual({ twin: 'insufficient_vram' });
    expect(await placed({ vram_bytes: 12 * GIB })).toEqual({
      hive_id: 'twin',
      device: 'cuda:0',
      backend: 'cuda',
      device_id: 0,
      score: 1,
    });
  });

  it('binpack fills the fullest device that fits, spread the emptiest', async () => {
    world = await SchedulingWorld.start([
      { id: 'mixed', gpus: [{ vramGb: 24 }, { vramGb: 12 }] },
      { id: 'large', gpus: [{ vramGb: 48 }] },
    ]);
    const need = { vram_bytes: 8 * GIB };

    const binpack = await placed({ ...need, strategy: 'binpack' });
    expect(binpack).toMatchObject({ hive_id: 'mixed', device: 'cuda:1', device_id: 1 });
    expect(binpack.score).toBeCloseTo(1 - 4 / 12);
    const spread = await placed({ ...need, strategy: 'spread' });
    expect(spread).toMatchObject({ hive_id: 'large', device: 'cuda:0', device_id: 0 });
    expect(spread.score).toBeCloseTo(40 / 48);
    // binpack is the default.
    expect(await placed(need)).toEqual(binpack);

    // Within one hive too.
    expect(await placed({ ...need, hive_id: 'mixed', strategy: 'spread' })).toMatchObject({ hive_id: 'mixed', device: 'cuda:0' });
    expect(await placed({ ...need, hive_id: 'mixed', strategy: 'binpack' })).toMatchObject({ hive_id: 'mixed', device: 'cuda:1' });
  });

  it('counts what heartbeats report and what is reserved against the device', async () => {
    world = await SchedulingWorld.start([
      { id: 'a', gpus: [{ vramGb: 8 }] },
      { id: 'b', gpus: [{ vramGb: 16 }] },
    ]);
    const need = { vram_bytes: 4 * GIB, ram_bytes: 2 * GIB };
    expect(await placed(need)).toMatchObject({ hive_id: 'a' });
    // A worker started on a (reserved) and one reported by a heartbeat fill it.
    expectStatus(await world.http().post('/v1/workers').send({ model_id: 'tiny-model', ...need, hive_id: 'a' }), 202);
    await world.beat('a');
    expectStatus(await world.http().post('/v1/workers').send({ model_id: 'tiny-model', ...need, hive_id: 'a' }), 202);
    expect(await world.gpu('a')).toMatchObject({ used_bytes: 4 * GIB, reserved_bytes: 4 * GIB, free_bytes: 0 });
    expect(await placed(need)).toMatchObject({ hive_id: 'b' });
  });

  it('does not reserve anything', async () => {
    world = await SchedulingWorld.start([{ id: 'only', gpus: [{ vramGb: 8 }] }]);
    for (let i = 0; i < 5; i++) expect(await placed({ vram_bytes: 8 * GIB })).toMatchObject({ hive_id: 'only' });
    expect(await world.totalReserved()).toBe(0);
    expect(await world.workers()).toEqual([]);
    expect(world.fleet.calls).toEqual([]);
  });
});

describe('placement of a CPU worker', () => {
  it('places vram_bytes 0 / backend cpu by host RAM only', async () => {
    world = await SchedulingWorld.start([
      { id: 'gpu-box', gpus: [{ vramGb: 1 }], ramBytes: 64 * GIB },
      { id: 'cpu-box', gpus: [], ramBytes: 32 * GIB },
    ]);
    const cpu = { vram_bytes: 0, backend: 'cpu', ram_bytes: 16 * GIB };

    expect(await placed(cpu)).toEqual({ hive_id: 'cpu-box', device: 'cpu', backend: 'cpu', device_id: null, score: 0.5 });
    expect(await placed({ ...cpu, strategy: 'spread' })).toMatchObject({ hive_id: 'gpu-box', device: 'cpu' });
    expect(await rejections({ ...cpu, ram_bytes: 65 * GIB })).toEqual({ 'cpu-box': 'insufficient_ram', 'gpu-box': 'insufficient_ram' });

    // Started, it holds RAM and no VRAM; rbee's spawn body still carries an integer device.
    const started = expectStatus(await world.http().post('/v1/workers').send({ model_id: 'tiny-model', ...cpu }), 202).body;
    expect(started).toMatchObject({ hive_id: 'cpu-box', device: 'cpu' });
    expect(world.fleet.spawnCalls('cpu-box')).toStrictEqual([
      { worker_id: started.worker_id, model_ref: 'tiny-model', backend: 'cpu', device: 0 },
    ]);
    const state = await world.state('cpu-box');
    expect(state.ram).toMatchObject({ reserved_bytes: 16 * GIB, free_bytes: 16 * GIB });
    expect(state.devices).toEqual([]);
  });
});

describe('placement filters', () => {
  it('matches labels (label_mismatch otherwise)', async () => {
    world = await SchedulingWorld.start([{ id: 'a' }, { id: 'b' }], {
      labels: { a: { zone: 'a', tier: 'gold' }, b: { zone: 'b' } },
    });
    const need = { vram_bytes: 4 * GIB };
    expect(await placed({ ...need, labels: { zone: 'b' } })).toMatchObject({ hive_id: 'b' });
    expect(await placed({ ...need, labels: { zone: 'a', tier: 'gold' } })).toMatchObject({ hive_id: 'a' });
    expect(await rejections({ ...need, labels: { zone: 'c' } })).toEqual({ a: 'label_mismatch', b: 'label_mismatch' });
    expect(await rejections({ ...need, labels: { zone: 'b', tier: 'gold' } })).toEqual({
      a: 'label_mismatch',
      b: 'label_mismatch',
    });
  });

  it('pins to one hive: 409 naming it when it is full (though others have room), 404 when it does not exist', async () => {
    world = await SchedulingWorld.start([
      { id: 'full', gpus: [{ vramGb: 4 }] },
      { id: 'roomy', gpus: [{ vramGb: 48 }] },
    ]);
    expectStatus(await world.http().post('/v1/workers').send({ model_id: 'tiny-model', vram_bytes: 4 * GIB, hive_id: 'full' }), 202);

    const problem = expectProblem(await plan({ vram_bytes: 4 * GIB, hive_id: 'full' }), 409);
    expect(problem.rejections).toEqual({ full: 'insufficient_vram' });
    expect(problem.detail).toContain('full');
    expect(await placed({ vram_bytes: 4 * GIB, hive_id: 'roomy' })).toMatchObject({ hive_id: 'roomy' });

    const missing = expectProblem(await plan({ vram_bytes: 4 * GIB, hive_id: 'no-such-hive' }), 404);
    expect(missing.detail).toContain('no-such-hive');
    expectProblem(await world.http().post('/v1/workers').send({ model_id: 'm', vram_bytes: 1, hive_id: 'no-such-hive' }), 404);
    expect(world.fleet.spawnCalls()).toHaveLength(1);
  });

  it('skips a cordoned hive, across a restart, without touching its running workers', async () => {
    world = await SchedulingWorld.start([{ id: 'cordon-me' }, { id: 'other', gpus: [{ vramGb: 8 }] }]);
    const need = { vram_bytes: 4 * GIB, ram_bytes: 2 * GIB };
    // A running worker on the hive to be cordoned.
    const started = expectStatus(
      await world.http().post('/v1/workers').send({ model_id: 'tiny-model', ...need, hive_id: 'cordon-me' }),
      202,
    ).body as { worker_id: string };
    await world.beat('cordon-me');

    const patched = expectStatus(await world.http().patch('/v1/hives/cordon-me').send({ cordoned: true }), 200).body;
    expect(patched).toMatchObject({ id: 'cordon-me', cordoned: true });
    expect(await rejections({ ...need, hive_id: 'cordon-me' })).toEqual({ 'cordon-me': 'cordoned' });
    expect(await placed(need)).toMatchObject({ hive_id: 'other' });
    const before = await world.state('cordon-me');
    expect(before.workers.map((w) => w.worker_id)).toEqual([started.worker_id]);
    expect(world.fleet.deleteCalls()).toEqual([]);

    await world.restartQueen();
    expect(expectStatus(await world.http().get('/v1/hives/cordon-me'), 200).body).toMatchObject({ cordoned: true });
    await world.beat('cordon-me');
    await world.beat('other');
    expect((await world.state('cordon-me')).workers.map((w) => w.worker_id)).toEqual([started.worker_id]);
    expect(await world.gpu('cordon-me')).toMatchObject({ used_bytes: 4 * GIB });
    expect(await rejections({ ...need, hive_id: 'cordon-me' })).toEqual({ 'cordon-me': 'cordoned' });
    expect(await rejections({ vram_bytes: 16 * GIB })).toEqual({ 'cordon-me': 'cordoned', other: 'insufficient_vram' });
    expect(world.fleet.deleteCalls()).toEqual([]);

    expectStatus(await world.http().patch('/v1/hives/cordon-me').send({ cordoned: false }), 200);
    expect(await placed({ vram_bytes: 16 * GIB })).toMatchObject({ hive_id: 'cordon-me' });
  });

  it('refuses hives not heard from within HEARTBEAT_TIMEOUT_MS (offline)', async () => {
    world = await SchedulingWorld.start([{ id: 'silent' }, { id: 'alive', gpus: [{ vramGb: 48 }] }, { id: 'never-beat' }], {
      beat: false,
    });
    await world.beat('silent');
    await world.beat('alive');
    const need = { vram_bytes: 4 * GIB };
    expect(await placed(need)).toMatchObject({ hive_id: 'silent' });

    const timeoutMs = world.queen.config.heartbeatTimeoutMs;
    world.clock.advance(timeoutMs);
    await world.beat('alive');
    world.clock.advance(1);
    expect(world.queen.get(LivenessSweeper).sweep()).toEqual(['silent']);
    expect(await rejections({ ...need, hive_id: 'silent' })).toEqual({ silent: 'offline' });
    expect(await rejections({ vram_bytes: 64 * GIB })).toEqual({
      silent: 'offline',
      alive: 'insufficient_vram',
      'never-beat': 'offline',
    });
    expect(await placed(need)).toMatchObject({ hive_id: 'alive' });

    // Its next heartbeat brings it back.
    await world.beat('silent');
    expect(await placed(need)).toMatchObject({ hive_id: 'silent' });
  });

  it('refuses a silent hive even before the periodic sweep has marked it offline', async () => {
    world = await SchedulingWorld.start([{ id: 'silent' }]);
    world.clock.advance(world.queen.config.heartbeatTimeoutMs + 1);
    expect((await world.state('silent')).online).toBe(false);
    expect(await rejections({ vram_bytes: 4 * GIB })).toEqual({ silent: 'offline' });
  });

  it('refuses an online hive whose devices are unknown (no_capabilities)', async () => {
    world = await SchedulingWorld.start([{ id: 'mystery', capabilities: 'never' }, { id: 'known', gpus: [{ vramGb: 8 }] }], {
      beat: false,
    });
    // Its agent beats but its API is down, so device detection cannot pull GET /v1/devices.
    await world.fleet.hive('mystery').stop();
    expect(await world.beat('mystery')).toMatchObject({ applied: true, capabilities_required: true });
    await world.queen.get(DeviceDetection).detect('mystery');
    expect(expectStatus(await world.http().get('/v1/hives/mystery'), 200).body.capabilities).toBeNull();
    await world.beat('known');

    expect(await rejections({ vram_bytes: 16 * GIB })).toEqual({ mystery: 'no_capabilities', known: 'insufficient_vram' });
    expect(await rejections({ vram_bytes: 0, backend: 'cpu', ram_bytes: GIB, hive_id: 'mystery' })).toEqual({
      mystery: 'no_capabilities',
    });
  });
});

describe('device detection', () => {
  it('pulls GET /v1/devices from a hive that beats without capabilities and stores them in bytes', async () => {
    world = await SchedulingWorld.start(
      [{ id: 'rbee', capabilities: 'never', cpuCores: 12, ramBytes: 96 * GIB, gpus: [{ name: 'A100', vramGb: 40 }, { name: 'L4', vramGb: 23.5 }] }],
      { beat: false },
    );
    expect(await world.beat('rbee')).toMatchObject({ applied: true, capabilities_required: true });
    await world.queen.get(DeviceDetection).detect('rbee');
    expect(world.fleet.devicesCalls('rbee')).toBe(1);

    const hive = expectStatus(await world.http().get('/v1/hives/rbee'), 200).body;
    expect(hive.capabilities).toEqual({
      cpu_cores: 12,
      ram_bytes: 96 * GIB,
      gpus: [
        { index: 0, name: 'A100', vram_bytes: 40 * GIB, backend: 'cuda' },
        { index: 1, name: 'L4', vram_bytes: 23.5 * GIB, backend: 'cuda' },
      ],
    });
    expect(await world.beat('rbee')).toMatchObject({ capabilities_required: false });
    expect(world.fleet.devicesCalls('rbee')).toBe(1);

    expect(await placed({ vram_bytes: 20 * GIB })).toMatchObject({ hive_id: 'rbee', device: 'cuda:1' });
    expect(await placed({ vram_bytes: 30 * GIB })).toMatchObject({ hive_id: 'rbee', device: 'cuda:0' });
    const started = expectStatus(await world.http().post('/v1/workers').send({ model_id: 'tiny-model', vram_bytes: 4 * GIB }), 202).body;
    expect(started).toMatchObject({ hive_id: 'rbee', device: 'cuda:1' });
    expect(world.fleet.spawnCalls('rbee')).toEqual([expect.objectContaining({ device: 1 })]);
  });
});
