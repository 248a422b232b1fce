/**
 * Every route tells one story: the moment a heartbeat is answered
 * `applied: true`, or a sweep has announced a hive offline, or a PATCH has
 * answered, every read agrees, however far behind the database writes are.
 * No sleeps and no retries: each read follows the change at once.
 */
import { DeviceDetection } from '../../src/heartbeat/device-detection';
import { LivenessSweeper } from '../../src/heartbeat/liveness-sweeper';
import type { FleetEvent } from '../../src/platform/events/fleet-event';
import { FleetEvents } from '../../src/platform/events/fleet-events';
import { DATABASE_KINDS } from '../support/databases';
import { startFakeHives } from '../support/fake-hive';
import { beat, Body, iso, registerHive, TestHive } from '../support/heartbeats';
import { TestQueen } from '../support/queen';

const GiB = 2 ** 30;
const CAPABILITIES = {
  cpu_cores: 32,
  ram_bytes: 128 * GiB,
  gpus: [{ index: 0, name: 'RTX 4090', vram_bytes: 24 * GiB, backend: 'cuda' }],
};

/** What each route says of one hive, read one after the other with nothing in between. */
interface Story {
  hive: { status: string; last_heartbeat_at: string | null; capabilities: unknown; cordoned: boolean; labels: Body };
  listedOnline: boolean;
  state: { online: boolean; last_heartbeat_at: string | null };
  active: boolean;
  /** The pinned plan's answer: the device, or the hive's rejection reason. */
  placement: string;
  fleetOnline: number;
  metricsOnline: number;
}

async function story(queen: TestQueen, id: string, labels: Record<string, string> = {}): Promise<Story> {
  const http = () => queen.http();
  const hive = (await http().get(`/v1/hives/${id}`).expect(200)).body;
  const listed = (await http().get('/v1/hives?status=online&limit=500').expect(200)).body.items.map((item: Body) => item.id);
  const state = (await http().get(`/v1/hives/${id}/state`).expect(200)).body;
  const active = (await http().get('/v1/hives/active').expect(200)).body as string[];
  const plan = await http().post('/v1/placements').send({ model_id: 'probe', vram_bytes: 1, hive_id: id, labels });
  const fleet = (await http().get('/v1/fleet').expect(200)).body;
  const metrics = (await http().get('/metrics').expect(200)).text;
  return {
    hive: { status: hive.status, last_heartbeat_at: hive.last_heartbeat_at, capabilities: hive.capabilities, cordoned: hive.cordoned, labels: hive.labels },
    listedOnline: listed.includes(id),
    state: { online: state.online, last_heartbeat_at: state.last_heartbeat_at },
    active: active.includes(id),
    placement: plan.status === 200 ? plan.body.device : plan.body.rejections?.[id],
    fleetOnline: fleet.hives.online,
    metricsOnline: Number(/^queen_hives\{status="online"\} (\d+)$/m.exec(metrics)?.[1] ?? 0),
  };
}

describe.each(DATABASE_KINDS)('one story on every route (%s)', (database) => {
  let queen: TestQueen;
  let events: FleetEvent[];

  beforeAll(async () => {
    // Heartbeat times are written only every ten minutes: routes must not wait for the database.
    queen = await TestQueen.start({ database, env: { CATALOG_FLUSH_MS: '600000' } });
    events = [];
    queen.get(FleetEvents).stream.subscribe((event) => events.push(event));
  });
  afterAll(async () => {
    await queen?.destroy();
  });

  it('shows a hive online, with the heartbeat time and capabilities, once the heartbeat is applied', async () => {
    const hive = await registerHive(queen, `first-beat-${database}`);
    const before = await story(queen, hive.id);
    expect(before).toMatchObject({ hive: { status: 'unknown', last_heartbeat_at: null, capabilities: null }, listedOnline: false, active: false, placement: 'offline' });

    const beatAt = iso(queen);
    const ack = await beat(queen, hive, { sequence: 1, capabilities: CAPABILITIES });
    expect(ack.body.applied).toBe(true);

    expect(await story(queen, hive.id)).toEqual({
      hive: { status: 'online', last_heartbeat_at: beatAt, capabilities: CAPABILITIES, cordoned: false, labels: {} },
      listedOnline: true,
      state: { online: true, last_heartbeat_at: beatAt },
      active: true,
      placement: 'cuda:0',
      fleetOnline: before.fleetOnline + 1,
      metricsOnline: before.metricsOnline + 1,
    });
  });

  it('moves the heartbeat time on every route with each applied beat', async () => {
    const hive = await registerHive(queen, `later-beat-${database}`);
    await beat(queen, hive, { sequence: 1, capabilities: CAPABILITIES });
    queen.clock.advance(5000);
    const beatAt = iso(queen);
    await beat(queen, hive, { sequence: 2 });

    const now = await story(queen, hive.id);
    expect(now.hive.last_heartbeat_at).toBe(beatAt);
    expect(now.state.last_heartbeat_at).toBe(beatAt);
  });

  it('shows no hive online on any route once the sweep has announced it offline', async () => {
    const hive = await registerHive(queen, `goes-silent-${database}`);
    const beatAt = iso(queen);
    await beat(queen, hive, { sequence: 1, capabilities: CAPABILITIES });
    queen.clock.advance(queen.config.heartbeatTimeoutMs + 1);

    events.length = 0;
    expect(queen.get(LivenessSweeper).sweep()).toContain(hive.id);
    expect(events.filter((event) => event.type === 'hive.offline').map((event) => event.data.hive_id)).toContain(hive.id);

    expect(await story(queen, hive.id)).toMatchObject({
      hive: { status: 'offline', last_heartbeat_at: beatAt },
      listedOnline: false,
      state: { online: false, last_heartbeat_at: beatAt },
      active: false,
      placement: 'offline',
    });
  });

  it('agrees on a cordon and on labels as soon as the PATCH answers', async () => {
    const hive = await registerHive(queen, `patched-${database}`, { zone: 'a' });
    await beat(queen, hive, { sequence: 1, capabilities: CAPABILITIES });
    expect((await story(queen, hive.id, { zone: 'a' })).placement).toBe('cuda:0');

    await queen.http().patch(`/v1/hives/${hive.id}`).send({ cordoned: true }).expect(200);
    expect(await story(queen, hive.id, { zone: 'a' })).toMatchObject({ hive: { cordoned: true, status: 'online' }, placement: 'cordoned' });

    await queen.http().patch(`/v1/hives/${hive.id}`).send({ cordoned: false, labels: { zone: 'b' } }).expect(200);
    expect(await story(queen, hive.id, { zone: 'a' })).toMatchObject({ hive: { cordoned: false, labels: { zone: 'b' } }, placement: 'label_mismatch' });
    expect((await story(queen, hive.id, { zone: 'b' })).placement).toBe('cuda:0');
  });

  it('shows capabilities pulled from the hive on every route once the pull is done', async () => {
    const fleet = await startFakeHives([{ id: `pulled-${database}`, capabilities: 'never', gpus: [{ vramGb: 24 }], ramBytes: 128 * GiB, cpuCores: 32 }]);
    try {
      const id = `pulled-${database}`;
      const res = await queen.http().post('/v1/hives').send(fleet.registration(id)).expect(201);
      const hive: TestHive = { id, token: res.body.heartbeat_token };
      expect((await beat(queen, hive, { sequence: 1 })).body.capabilities_required).toBe(true);
      // The heartbeat started the pull; this joins it rather than starting another.
      await queen.get(DeviceDetection).detect(id);
      expect(fleet.devicesCalls(id)).toBe(1);

      expect(await story(queen, id)).toMatchObject({ hive: { status: 'online', capabilities: CAPABILITIES }, state: { online: true }, placement: 'cuda:0' });
      expect((await beat(queen, hive, { sequence: 2 })).body.capabilities_required).toBe(false);
    } finally {
      await fleet.close();
    }
  });
});
