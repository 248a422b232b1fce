/**
 * Liveness on the queen's clock, the start-up grace, and restarts, end to end
 * on SQLite. Time only moves through the ManualClock; sweeps and flushes are
 * driven explicitly (the background flush is ten minutes away; a background
 * sweep reads the same ManualClock, so it can only repeat what an explicit
 * sweep at the same time decides).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../src/platform/clock/clock';
import type { FleetEvent } from '../../src/platform/events/fleet-event';
import { FleetEvents } from '../../src/platform/events/fleet-events';
import { CatalogWriteBehind } from '../../src/catalog/catalog-write-behind';
import { LivenessSweeper } from '../../src/heartbeat/liveness-sweeper';
import { createScratchDatabase, ScratchDatabase } from '../support/databases';
import { activeHives, asIso, beat, Body, catalogHive, iso, liveState, registerHive } from '../support/heartbeats';
import { TestQueen } from '../support/queen';

const GiB = 2 ** 30;
const TIMEOUT_MS = 15_000;
const ENV = {
  CATALOG_FLUSH_MS: '600000',
  HEARTBEAT_INTERVAL_MS: '5000',
  HEARTBEAT_TIMEOUT_MS: String(TIMEOUT_MS),
  LIVENESS_SWEEP_MS: '1000',
};

/** Moves the clock and sweeps in one synchronous step, so no background sweep runs in between. */
function advanceAndSweep(queen: TestQueen, ms: number): string[] {
  queen.clock.advance(ms);
  return [...queen.get(LivenessSweeper).sweep()].sort();
}

/**
 * A database and data dir that outlive one queen, for restarts. Each queen on
 * them is closed exactly once; the files are dropped at the end.
 */
async function persistentPlace(): Promise<{ place: { databaseUrl: string; dataDir: string }; drop: () => Promise<void> }> {
  const database: ScratchDatabase = await createScratchDatabase('sqlite');
  const dataDir = mkdtempSync(join(tmpdir(), 'queen-data-'));
  return {
    place: { databaseUrl: database.url, dataDir },
    drop: async () => {
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The status the catalog has written for a hive (not what routes answer). */
async function storedStatus(queen: TestQueen, id: string): Promise<string> {
  return (await queen.dataSource.query('SELECT status FROM hives WHERE id = ?', [id]))[0].status;
}

/** The heartbeat time the catalog has written for a hive. */
async function storedHeartbeatAt(queen: TestQueen, id: string): Promise<string | null> {
  return asIso((await queen.dataSource.query('SELECT last_heartbeat_at FROM hives WHERE id = ?', [id]))[0].last_heartbeat_at);
}

/** Events published from now until the queen closes. */
function recordEvents(queen: TestQueen): FleetEvent[] {
  const events: FleetEvent[] = [];
  queen.get(FleetEvents).stream.subscribe((event) => events.push(event));
  return events;
}

const CAPABILITIES = {
  cpu_cores: 32,
  ram_bytes: 128 * GiB,
  gpus: [
    { index: 0, name: 'RTX 4090', vram_bytes: 24 * GiB, backend: 'cuda' },
    { index: 1, name: 'RTX 4090', vram_bytes: 24 * GiB, backend: 'cuda' },
  ],
};
const WORKERS = [
  { worker_id: 'w-0', state: 'Idle', backend: 'cuda', device_id: 0, vram_bytes: 8 * GiB, ram_bytes: 2 * GiB, model_id: 'llama-3-8b' },
  { worker_id: 'w-1', state: 'Busy', backend: 'cuda', device_id: 1, vram_bytes: 12 * GiB, ram_bytes: 3 * GiB, model_id: 'qwen-14b' },
  { worker_id: 'w-cpu', state: 'Idle', backend: 'cpu', ram_bytes: 4 * GiB, model_id: 'phi-3-mini' },
];

describe('heartbeat liveness (SQLite)', () => {
  let queen: TestQueen;
  let writeBehind: CatalogWriteBehind;

  beforeAll(async () => {
    queen = await TestQueen.start({ database: 'sqlite', env: ENV });
    writeBehind = queen.get(CatalogWriteBehind);
  });

  afterAll(async () => {
    await queen?.destroy();
  });

  it('marks a silent hive offline after HEARTBEAT_TIMEOUT_MS and online again on its next beat', async () => {
    const events = recordEvents(queen);
    const hive = await registerHive(queen, 'live-1');
    const firstBeatAt = iso(queen);
    await beat(queen, hive, { sequence: 1, workers: WORKERS, capabilities: CAPABILITIES });
    await writeBehind.flush();
    expect(await liveState(queen, hive.id)).toMatchObject({ online: true, last_heartbeat_at: firstBeatAt });
    expect(await activeHives(queen)).toEqual([hive.id]);
    expect(await catalogHive(queen, hive.id)).toMatchObject({ status: 'online', last_heartbeat_at: firstBeatAt });

    // Silent for exactly the timeout: still online.
    expect(advanceAndSweep(queen, TIMEOUT_MS)).toEqual([]);
    expect(await liveState(queen, hive.id)).toMatchObject({ online: true });
    expect(await activeHives(queen)).toEqual([hive.id]);

    // One millisecond more: offline, once.
    expect(advanceAndSweep(queen, 1)).toEqual([hive.id]);
    expect(advanceAndSweep(queen, 1000)).toEqual([]);
    const offline = await liveState(queen, hive.id);
    expect(offline).toMatchObject({ online: false, last_heartbeat_at: firstBeatAt });
    expect(await activeHives(queen)).toEqual([]);
    await writeBehind.flush();
    expect(await catalogHive(queen, hive.id)).toMatchObject({ status: 'offline', last_heartbeat_at: firstBeatAt });
    expect((await queen.http().get('/v1/hives?status=offline')).body.items.map((item: Body) => item.id)).toEqual([hive.id]);

    // Back: online in the registry at once, in the catalog after the (prompt) status write.
    queen.clock.advance(60_000);
    const backAt = iso(queen);
    const ack = await beat(queen, hive, { sequence: 2, workers: WORKERS.slice(0, 1) });
    expect(ack.body).toMatchObject({ applied: true, capabilities_required: false });
    expect(await liveState(queen, hive.id)).toMatchObject({
      online: true,
      last_heartbeat_at: backAt,
      workers: [{ worker_id: 'w-0' }],
    });
    expect(await activeHives(queen)).toEqual([hive.id]);
    await writeBehind.flush();
    expect(await catalogHive(queen, hive.id)).toMatchObject({ status: 'online', last_heartbeat_at: backAt });

    const transitions = events.filter((event) => event.type === 'hive.online' || event.type === 'hive.offline');
    expect(transitions.map((event) => event.type)).toEqual(['hive.online', 'hive.offline', 'hive.online']);
  });

  it('keeps liveness on the queen clock when the hive clock is an hour off (with sequences)', async () => {
    const hour = 3_600_000;
    const past = await registerHive(queen, 'skew-past');
    const future = await registerHive(queen, 'skew-future');
    queen.clock.advance(1000);
    const beatAt = iso(queen);
    expect((await beat(queen, past, { sequence: 1, timestamp: iso(queen, -hour) })).body.applied).toBe(true);
    expect((await beat(queen, future, { sequence: 1, timestamp: iso(queen, hour) })).body.applied).toBe(true);
    for (const hive of [past, future]) {
      expect(await liveState(queen, hive.id)).toMatchObject({ online: true, last_heartbeat_at: beatAt });
    }
    expect(await activeHives(queen)).toEqual(expect.arrayContaining([past.id, future.id]));

    // A timestamp an hour ahead does not keep a hive alive, nor one an hour behind make it look dead.
    const swept = advanceAndSweep(queen, TIMEOUT_MS - 1);
    expect(swept).not.toContain(past.id);
    expect(swept).not.toContain(future.id);
    expect(await activeHives(queen)).toEqual(expect.arrayContaining([past.id, future.id]));
    const later = iso(queen);
    expect((await beat(queen, past, { sequence: 2, timestamp: iso(queen, -hour) })).body.applied).toBe(true);
    expect((await beat(queen, future, { sequence: 2, timestamp: iso(queen, -hour) })).body.applied).toBe(true);
    expect(advanceAndSweep(queen, TIMEOUT_MS)).toEqual([]);
    expect(advanceAndSweep(queen, 1)).toEqual([future.id, past.id].sort());
    await writeBehind.flush();
    for (const hive of [past, future]) {
      expect(await catalogHive(queen, hive.id)).toMatchObject({ status: 'offline', last_heartbeat_at: later });
    }
  });
});

describe('ordering never wedges a hive that keeps beating (SQLite)', () => {
  let queen: TestQueen;
  beforeAll(async () => {
    queen = await TestQueen.start({ database: 'sqlite', env: ENV });
  });
  afterAll(async () => {
    await queen?.destroy();
  });

  /** Beats every 5 s for two timeouts with `stampOf(i)`, sweeping after each; returns what was applied. */
  async function beatThroughTwoTimeouts(hive: { id: string; token: string }, stampOf: (i: number) => Record<string, unknown>): Promise<boolean[]> {
    const applied: boolean[] = [];
    for (let i = 0; i < (2 * TIMEOUT_MS) / 5000; i++) {
      queen.clock.advance(5000);
      applied.push((await beat(queen, hive, stampOf(i))).body.applied as boolean);
      expect(advanceAndSweep(queen, 0)).not.toContain(hive.id);
    }
    return applied;
  }

  it('an agent restart (its sequence starts again) costs no beat, and never an offline mark', async () => {
    const hive = await registerHive(queen, 'restarting-agent');
    await beat(queen, hive, { sequence: 500 });
    expect(await beatThroughTwoTimeouts(hive, (i) => ({ sequence: 1 + i, timestamp: iso(queen) }))).toEqual(Array(6).fill(true));
    expect(await liveState(queen, hive.id)).toMatchObject({ online: true, last_heartbeat_at: iso(queen) });
  });

  it('one timestamp an hour ahead (no sequence) costs no beat, and never an offline mark', async () => {
    const hive = await registerHive(queen, 'skewed-once');
    await beat(queen, hive, { timestamp: iso(queen, 3_600_000) });
    expect(await beatThroughTwoTimeouts(hive, () => ({ timestamp: iso(queen) }))).toEqual(Array(6).fill(true));
    expect((await catalogHive(queen, hive.id)).status).toBe('online');
  });

  it('still refuses late and replayed beats', async () => {
    const hive = await registerHive(queen, 'replayed');
    const late = { sequence: 7, timestamp: iso(queen) };
    queen.clock.advance(5000);
    await beat(queen, hive, { sequence: 8, timestamp: iso(queen) });
    expect((await beat(queen, hive, late)).body.applied).toBe(false);
    const noSequence = { timestamp: iso(queen, -1000) };
    await beat(queen, hive, { timestamp: iso(queen) });
    expect((await beat(queen, hive, noSequence)).body.applied).toBe(false);
  });
});

describe('start-up grace (SQLite)', () => {
  it('marks no hive offline during the first timeout, then the catalog-online hives that never beat', async () => {
    const { place, drop } = await persistentPlace();
    const first = await TestQueen.start({ ...place, env: ENV });
    const silent = await registerHive(first, 'grace-silent');
    const returning = await registerHive(first, 'grace-returning');
    const never = await registerHive(first, 'grace-never');
    await beat(first, silent, { sequence: 1 });
    await beat(first, returning, { sequence: 1 });
    await first.get(CatalogWriteBehind).flush();
    await first.close();

    const clock = new ManualClock(first.clock.now() + 3_600_000);
    const queen = await TestQueen.start({ ...place, env: ENV, clock });
    const writeBehind = queen.get(CatalogWriteBehind);
    try {
      const events = recordEvents(queen);
      // The catalog stored both as online, but this queen has heard from neither: unknown, not offline.
      expect(await storedStatus(queen, silent.id)).toBe('online');
      expect(await catalogHive(queen, silent.id)).toMatchObject({ status: 'unknown' });
      expect(await catalogHive(queen, returning.id)).toMatchObject({ status: 'unknown' });
      expect(await catalogHive(queen, never.id)).toMatchObject({ status: 'unknown' });

      // Inside the grace: the registry is empty after the restart, and that is no hive's fault.
      expect(advanceAndSweep(queen, 1000)).toEqual([]);
      await beat(queen, returning, { sequence: 1 });
      expect(await catalogHive(queen, returning.id)).toMatchObject({ status: 'online' });
      expect(advanceAndSweep(queen, TIMEOUT_MS - 1001)).toEqual([]); // one timeout minus 1 ms since the start
      await writeBehind.flush();
      expect(await catalogHive(queen, silent.id)).toMatchObject({ status: 'unknown' });
      expect(await liveState(queen, silent.id)).toMatchObject({ online: false, last_heartbeat_at: null });

      // Grace over: the one that never beat since the start goes offline; the other stays.
      expect(advanceAndSweep(queen, 2)).toEqual([silent.id]); // one timeout plus 1 ms
      expect(advanceAndSweep(queen, 1)).toEqual([]);
      await writeBehind.flush();
      expect(await catalogHive(queen, silent.id)).toMatchObject({ status: 'offline' });
      expect(await catalogHive(queen, returning.id)).toMatchObject({ status: 'online' });
      expect(await catalogHive(queen, never.id)).toMatchObject({ status: 'unknown' });
      expect(events.filter((event) => event.type === 'hive.offline').map((event) => event.data.hive_id)).toEqual([silent.id]);

      // And it comes back like any other hive.
      await beat(queen, silent, { sequence: 1 });
      await writeBehind.flush();
      expect(await catalogHive(queen, silent.id)).toMatchObject({ status: 'online', last_heartbeat_at: iso(queen) });
    } finally {
      await queen.close();
      await drop();
    }
  });
});

describe('restart (SQLite)', () => {
  it('keeps the catalog, flushes at shutdown, and rebuilds live state from the next heartbeat', async () => {
    const { place, drop } = await persistentPlace();
    const first = await TestQueen.start({ ...place, env: ENV });
    const hive = await registerHive(first, 'restart-1', { rack: 'r1' });
    const patched = await first.http().patch(`/v1/hives/${hive.id}`).send({ cordoned: true, labels: { rack: 'r2' } });
    expect(patched.status).toBe(200);
    await beat(first, hive, { sequence: 1, capabilities: CAPABILITIES, workers: WORKERS });
    await first.get(CatalogWriteBehind).flush();
    // A last beat that only the shutdown flush writes.
    first.clock.advance(4000);
    const lastBeatAt = iso(first);
    await beat(first, hive, { sequence: 2, workers: WORKERS });
    expect(first.get(CatalogWriteBehind).pendingHeartbeats).toBe(1);
    const before = await catalogHive(first, hive.id);
    expect(before.last_heartbeat_at).toBe(lastBeatAt);
    expect(await storedHeartbeatAt(first, hive.id)).not.toBe(lastBeatAt);
    await first.close();

    const clock = new ManualClock(first.clock.now() + 60_000);
    const queen = await TestQueen.start({ ...place, env: ENV, clock });
    try {
      // The shutdown flush wrote the last beat; not heard from since the restart, the hive is unknown.
      const after = await catalogHive(queen, hive.id);
      expect(after).toEqual({ ...before, status: 'unknown' });
      expect(after).toMatchObject({
        host: '127.0.0.1',
        port: 1,
        labels: { rack: 'r2' },
        cordoned: true,
        last_heartbeat_at: lastBeatAt,
        capabilities: CAPABILITIES,
      });

      // Not heard from since the start: nothing live, capacity from the catalog.
      expect(await liveState(queen, hive.id)).toEqual({
        hive_id: hive.id,
        online: false,
        last_heartbeat_at: null,
        workers: [],
        devices: [
          { device: 'cuda:0', total_bytes: 24 * GiB, used_bytes: 0, reserved_bytes: 0, free_bytes: 24 * GiB },
          { device: 'cuda:1', total_bytes: 24 * GiB, used_bytes: 0, reserved_bytes: 0, free_bytes: 24 * GiB },
        ],
        ram: { total_bytes: 128 * GiB, used_bytes: 0, reserved_bytes: 0, free_bytes: 128 * GiB },
      });
      expect(await activeHives(queen)).toEqual([]);

      // The same token, a sequence that restarted at 1, and no capabilities: the catalog's are used.
      const ack = await beat(queen, hive, { sequence: 1, workers: WORKERS });
      expect(ack.body).toEqual({ acknowledged: true, applied: true, next_heartbeat_ms: 5000, capabilities_required: false });
      const state = await liveState(queen, hive.id);
      expect(state).toEqual({
        hive_id: hive.id,
        online: true,
        last_heartbeat_at: iso(queen),
        workers: expect.any(Array),
        devices: [
          { device: 'cuda:0', total_bytes: 24 * GiB, used_bytes: 8 * GiB, reserved_bytes: 0, free_bytes: 16 * GiB },
          { device: 'cuda:1', total_bytes: 24 * GiB, used_bytes: 12 * GiB, reserved_bytes: 0, free_bytes: 12 * GiB },
        ],
        ram: { total_bytes: 128 * GiB, used_bytes: 9 * GiB, reserved_bytes: 0, free_bytes: 119 * GiB },
      });
      expect((state.workers as Body[]).map((worker) => worker.worker_id)).toEqual(['w-0', 'w-1', 'w-cpu']);
      expect(await activeHives(queen)).toEqual([hive.id]);
      await queen.get(CatalogWriteBehind).flush();
      expect(await catalogHive(queen, hive.id)).toMatchObject({ status: 'online', last_heartbeat_at: iso(queen) });
    } finally {
      await queen.close();
      await drop();
    }
  });
});
