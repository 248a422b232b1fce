import type { HiveCapabilities } from '../domain/fleet';
import type { CapacityKind } from './capacity-index';
import { HiveRegistry } from './hive-registry';
import type { HeartbeatStamp, ReservationRequest, TrackedHive, WorkerReport } from './registry.types';

const GiB = 2 ** 30;
const T0 = Date.parse('2026-11-27T10:00:00Z');
const TIMEOUT_MS = 15_000;
const HIVE = 'hive-a';

function worker(workerId: string, overrides: Partial<WorkerReport> = {}): WorkerReport {
  const deviceId = overrides.deviceId ?? 0;
  return {
    workerId,
    modelId: 'llama-3-8b',
    state: 'ready',
    backend: 'cuda',
    deviceId,
    device: `cuda:${deviceId}`,
    vramBytes: 8 * GiB,
    ramBytes: 2 * GiB,
    url: null,
    healthStatus: 'healthy',
    lastHeartbeat: null,
    cpuPercent: null,
    gpuPercent: null,
    ...overrides,
  };
}

function holdFor(workerId: string, overrides: Partial<ReservationRequest> = {}): ReservationRequest {
  return {
    hiveId: HIVE,
    workerId,
    modelId: 'llama-3-8b',
    backend: 'cuda',
    deviceId: 0,
    device: 'cuda:0',
    vramBytes: 8 * GiB,
    ramBytes: 2 * GiB,
    ...overrides,
  };
}

/** 64 GiB of RAM and two 24 GiB CUDA GPUs. */
const CAPABILITIES: HiveCapabilities = {
  cpuCores: 16,
  ramBytes: 64 * GiB,
  gpus: [
    { index: 0, name: 'RTX 4090', vramBytes: 24 * GiB, backend: 'cuda' },
    { index: 1, name: 'RTX 4090', vramBytes: 24 * GiB, backend: 'cuda' },
  ],
};

const stamp = (sequence: number | null, timestamp = T0): HeartbeatStamp => ({ sequence, timestamp });

const tracked = (id: string, overrides: Partial<TrackedHive> = {}): TrackedHive => ({
  id,
  cordoned: false,
  labels: {},
  capabilities: CAPABILITIES,
  status: 'unknown',
  ...overrides,
});

describe('HiveRegistry', () => {
  let registry: HiveRegistry;

  beforeEach(() => {
    registry = new HiveRegistry(TIMEOUT_MS, T0);
    registry.track(tracked(HIVE));
  });

  const beat = (workers: WorkerReport[], hiveStamp: HeartbeatStamp, receivedAt: number, hiveId = HIVE) =>
    registry.applyHeartbeat(hiveId, { stamp: hiveStamp, workers, receivedAt });

  /** [used, reserved, free] of cuda:0 in GiB at `now`. */
  const gpu0 = (now: number) => {
    const device = registry.view(HIVE, now)?.resources.devices.find((d) => d.device === 'cuda:0');
    return device && [device.usedBytes / GiB, device.reservedBytes / GiB, device.freeBytes / GiB];
  };

  /** What the capacity index holds for one kind, as `hive/position:free GiB`, fewest free first. */
  const indexed = (kind: CapacityKind, now = T0): string[] => {
    const slots: string[] = [];
    registry.capacityIndex(now).ascending(kind, 0, (slot) => {
      slots.push(`${slot.hive.hiveId}/${slot.device}:${slot.free / GiB}`);
      return false;
    });
    return slots;
  };

  describe('applyHeartbeat', () => {
    it('applies the first heartbeat: online, workers recorded, all of them added', () => {
      const outcome = beat([worker('w1'), worker('w2')], stamp(1), T0);

      expect(outcome).toEqual({ applied: true, cameOnline: true, addedWorkers: [worker('w1'), worker('w2')], removedWorkers: [] });
      expect(registry.view(HIVE, T0)).toMatchObject({
        hiveId: HIVE,
        lastHeartbeatAt: T0,
        lastStamp: stamp(1),
        workers: [worker('w1'), worker('w2')],
      });
      expect(registry.status(HIVE, T0)).toBe('online');
    });

    it('diffs workers by id against the previous report; a state change is neither added nor removed', () => {
      beat([worker('w1'), worker('w2')], stamp(1), T0);
      const outcome = beat([worker('w2', { state: 'busy' }), worker('w3')], stamp(2), T0 + 5000);

      expect(outcome.cameOnline).toBe(false);
      expect(outcome.addedWorkers.map((w) => w.workerId)).toEqual(['w3']);
      expect(outcome.removedWorkers).toEqual([worker('w1')]);
      expect(registry.view(HIVE, T0 + 5000)?.workers.map((w) => w.state)).toEqual(['busy', 'ready']);
    });

    it.each<[string, boolean, HeartbeatStamp, HeartbeatStamp]>([
      ['lower sequence', false, stamp(5), stamp(4)],
      ['equal sequence', true, stamp(5), stamp(5)],
      ['higher sequence with the hive clock an hour behind', true, stamp(5), stamp(6, T0 - 3_600_000)],
      ['lower sequence with an earlier timestamp (a late beat)', false, stamp(5), stamp(4, T0 - 1000)],
      ['lower sequence with a later timestamp (a restarted agent)', true, stamp(5), stamp(1, T0 + 1000)],
      ['no sequence, after a timestamp an hour ahead of the queen', true, stamp(null, T0 + 3_600_000), stamp(null, T0 + 1000)],
      ['no sequence, earlier timestamp', false, stamp(null), stamp(null, T0 - 1)],
      ['sequence only on the new one, earlier timestamp', false, stamp(null), stamp(7, T0 - 1)],
      ['sequence only on the old one, later timestamp', true, stamp(7), stamp(null, T0 + 1)],
    ])('orders by %s → applied: %s', (_name, applied, first, second) => {
      beat([worker('w1')], first, T0);
      expect(beat([worker('w2')], second, T0 + 1000).applied).toBe(applied);
    });

    it('changes nothing, liveness included, when not applied', () => {
      beat([worker('w1')], stamp(5), T0);
      const before = { ...registry.view(HIVE, T0) };

      const outcome = beat([worker('w2')], stamp(4), T0 + 10_000);

      expect(outcome).toEqual({ applied: false, cameOnline: false, addedWorkers: [], removedWorkers: [] });
      expect({ ...registry.view(HIVE, T0 + 10_000) }).toEqual(before);
      // Liveness still dates from T0: the refused heartbeat did not keep the hive online.
      expect(registry.sweep(T0 + TIMEOUT_MS + 1)).toEqual([HIVE]);
    });

    it('resets the ordering once the last applied heartbeat is older than a timeout (restarted agent)', () => {
      beat([worker('w1')], stamp(500), T0);

      expect(beat([], stamp(1), T0 + TIMEOUT_MS).applied).toBe(false);
      const restarted = beat([worker('w9')], stamp(1), T0 + TIMEOUT_MS + 1);

      expect(restarted.applied).toBe(true);
      expect(registry.view(HIVE, T0 + TIMEOUT_MS + 1)?.lastStamp).toEqual(stamp(1));
      // The restarted sequence now orders normally again.
      expect(beat([], stamp(2), T0 + TIMEOUT_MS + 2).applied).toBe(true);
    });

    it('refuses a heartbeat of a hive it does not track: the catalog and the registry are out of step', () => {
      expect(() => beat([], stamp(1), T0, 'nowhere')).toThrow(/not tracked/);
    });
  });

  describe('usage', () => {
    it('follows worker reports: stopped and failed workers hold nothing', () => {
      beat([worker('w1'), worker('w2', { vramBytes: 4 * GiB })], stamp(1), T0);
      expect(gpu0(T0)).toEqual([12, 0, 12]);

      beat([worker('w1', { state: 'stopped' }), worker('w2', { vramBytes: 4 * GiB, state: 'failed' })], stamp(2), T0);
      expect(gpu0(T0)).toEqual([0, 0, 24]);
      expect(registry.view(HIVE, T0)?.resources.ram).toEqual({ totalBytes: 64 * GiB, usedBytes: 0, reservedBytes: 0, freeBytes: 64 * GiB });
    });

    it('follows capability changes', () => {
      beat([worker('w1')], stamp(1), T0);
      expect(gpu0(T0)).toEqual([8, 0, 16]);
      registry.setCapabilities(HIVE, { ...CAPABILITIES, gpus: [{ ...CAPABILITIES.gpus[0], vramBytes: 48 * GiB }] });

      expect(registry.view(HIVE, T0)?.resources.devices.map((d) => [d.device, d.freeBytes / GiB])).toEqual([['cuda:0', 40]]);
      expect(indexed('cuda')).toEqual([`${HIVE}/0:40`]);
    });

    it('keeps the usage it computed while the claims stay the same, and freezes it', () => {
      beat([worker('w1')], stamp(1), T0);
      const first = registry.view(HIVE, T0)?.resources;
      beat([worker('w1', { state: 'busy', gpuPercent: 97 })], stamp(2), T0 + 5000);

      expect(registry.view(HIVE, T0 + 5000)?.resources).toBe(first);
      expect(Object.isFrozen(first?.devices[0])).toBe(true);
    });

    it('counts a reservation until its TTL passes, and then ends it', () => {
      const held = registry.reserve(holdFor('w-new'), T0, 30_000);

      expect(held).toMatchObject({ hiveId: HIVE, workerId: 'w-new', createdAt: T0, expiresAt: T0 + 30_000 });
      expect(held.id).toMatch(/^r-[0-9a-f]{12}$/);
      expect(gpu0(T0 + 29_999)).toEqual([0, 8, 16]);
      expect([...registry.reservations(T0 + 29_999)].map((r) => r.id)).toEqual([held.id]);
      expect(gpu0(T0 + 30_000)).toEqual([0, 0, 24]);
      expect([...registry.reservations(T0 + 30_000)]).toEqual([]);
      expect(registry.reservationOfWorker('w-new', T0 + 30_000)).toBeUndefined();
      expect(registry.release(held.id)).toBeUndefined();
    });

    it('ends the reservations that expired and keeps the others', () => {
      const short = registry.reserve(holdFor('w-short'), T0, 10_000);
      const long = registry.reserve(holdFor('w-long'), T0, 60_000);

      expect(registry.reservationCount(T0 + 9_999)).toBe(2);
      expect(registry.reservationCount(T0 + 10_000)).toBe(1);
      expect(registry.reservationOfWorker(short.workerId, T0 + 10_000)).toBeUndefined();
      expect(registry.reservationOfWorker(long.workerId, T0 + 10_000)).toEqual(long);
      expect(gpu0(T0 + 10_000)).toEqual([0, 8, 16]);
    });

    it('ends a reservation when its worker is reported, counting its usage once', () => {
      const first = registry.reserve(holdFor('w-new'), T0, 60_000);
      const second = registry.reserve(holdFor('w-later', { deviceId: 1, device: 'cuda:1' }), T0, 60_000);
      expect(gpu0(T0)).toEqual([0, 8, 16]);

      beat([worker('w-new', { state: 'loading' })], stamp(1), T0 + 1000);

      expect(gpu0(T0 + 1000)).toEqual([8, 0, 16]);
      expect(registry.release(first.id)).toBeUndefined();
      expect([...(registry.view(HIVE, T0 + 1000)?.reservations.keys() ?? [])]).toEqual([second.id]);
    });

    it('ends a reservation even when its worker is reported failed: the spawn has an answer', () => {
      const held = registry.reserve(holdFor('w-new'), T0, 60_000);
      beat([worker('w-new', { state: 'failed' })], stamp(1), T0);

      expect(registry.reservationOfWorker('w-new', T0)).toBeUndefined();
      expect(registry.release(held.id)).toBeUndefined();
      expect(gpu0(T0)).toEqual([0, 0, 24]);
    });

    it('release frees the capacity once', () => {
      const held = registry.reserve(holdFor('w1'), T0, 60_000);

      expect(registry.release(held.id)?.id).toBe(held.id);
      expect(registry.release(held.id)).toBeUndefined();
      expect(gpu0(T0)).toEqual([0, 0, 24]);
    });

    it('refuses a reservation on a hive it does not track', () => {
      expect(() => registry.reserve(holdFor('w1', { hiveId: 'nowhere' }), T0, 60_000)).toThrow(/not tracked/);
    });
  });

  describe('capacity index', () => {
    it('holds a hive once it is heard from, online, not cordoned and of known capabilities', () => {
      registry.track(tracked('no-caps', { capabilities: null }));
      registry.track(tracked('cordoned', { cordoned: true }));
      expect(indexed('cuda')).toEqual([]);

      beat([worker('w1', { deviceId: 1, device: 'cuda:1' })], stamp(1), T0);
      beat([], stamp(1), T0, 'no-caps');
      beat([], stamp(1), T0, 'cordoned');

      expect(indexed('cuda')).toEqual([`${HIVE}/1:16`, `${HIVE}/0:24`]);
      expect(indexed('ram')).toEqual([`${HIVE}/-1:62`]);
      expect(indexed('metal')).toEqual([]);
    });

    it('follows cordon, reservations, workers and liveness', () => {
      beat([], stamp(1), T0);
      registry.setAdmission(HIVE, { cordoned: true, labels: {} });
      expect(indexed('cuda')).toEqual([]);
      registry.setAdmission(HIVE, { cordoned: false, labels: { zone: 'a' } });
      expect(indexed('cuda')).toEqual([`${HIVE}/0:24`, `${HIVE}/1:24`]);

      const held = registry.reserve(holdFor('w1', { vramBytes: 20 * GiB }), T0, 10_000);
      expect(indexed('cuda')).toEqual([`${HIVE}/0:4`, `${HIVE}/1:24`]);
      registry.release(held.id);
      beat([worker('w2', { deviceId: 1, device: 'cuda:1', vramBytes: 4 * GiB })], stamp(2), T0 + 1000);
      expect(indexed('cuda')).toEqual([`${HIVE}/1:20`, `${HIVE}/0:24`]);

      expect(registry.sweep(T0 + 1000 + TIMEOUT_MS + 1)).toEqual([HIVE]);
      expect(indexed('cuda', T0 + 1000 + TIMEOUT_MS + 1)).toEqual([]);
      beat([], stamp(3), T0 + 20_000);
      expect(indexed('cuda', T0 + 20_000)).toEqual([`${HIVE}/0:24`, `${HIVE}/1:24`]);
    });

    it('ends expired reservations before it is read', () => {
      beat([], stamp(1), T0);
      registry.reserve(holdFor('w1', { vramBytes: 20 * GiB }), T0, 10_000);

      expect(indexed('cuda', T0 + 9_999)).toEqual([`${HIVE}/0:4`, `${HIVE}/1:24`]);
      expect(indexed('cuda', T0 + 10_000)).toEqual([`${HIVE}/0:24`, `${HIVE}/1:24`]);
    });

    it('orders equal free capacity by hive id, then device', () => {
      registry.track(tracked('hive-0'));
      beat([], stamp(1), T0);
      beat([], stamp(1), T0, 'hive-0');

      expect(indexed('cuda')).toEqual(['hive-0/0:24', 'hive-0/1:24', `${HIVE}/0:24`, `${HIVE}/1:24`]);
    });
  });

  describe('liveness', () => {
    it('sweep reports a silent hive once, keeps its workers, and the next heartbeat brings it back', () => {
      registry.track(tracked('hive-b'));
      beat([worker('w1')], stamp(1), T0);
      beat([], stamp(1), T0 + 5000, 'hive-b');

      expect(registry.sweep(T0 + TIMEOUT_MS)).toEqual([]);
      expect(registry.sweep(T0 + TIMEOUT_MS + 1)).toEqual([HIVE]);
      expect(registry.sweep(T0 + TIMEOUT_MS + 2000)).toEqual([]);
      expect(registry.status(HIVE, T0 + TIMEOUT_MS + 2000)).toBe('offline');
      expect(registry.status('hive-b', T0 + TIMEOUT_MS + 2000)).toBe('online');
      expect(registry.view(HIVE, T0 + TIMEOUT_MS + 2000)?.workers.map((w) => w.workerId)).toEqual(['w1']);

      const back = beat([worker('w1')], stamp(2), T0 + 18_000);
      expect(back).toMatchObject({ applied: true, cameOnline: true, addedWorkers: [], removedWorkers: [] });
      expect(registry.status(HIVE, T0 + 18_000)).toBe('online');
    });

    it('calls a hive offline by the rule at once, whether or not a sweep has announced it', () => {
      beat([], stamp(1), T0);
      expect(registry.status(HIVE, T0 + TIMEOUT_MS + 1)).toBe('offline');
      expect(registry.activeHiveIds(T0 + TIMEOUT_MS + 1)).toEqual([]);
    });

    it('lists the hives online at a time', () => {
      registry.track(tracked('old'));
      registry.track(tracked('recent'));
      beat([], stamp(1), T0, 'old');
      beat([], stamp(1), T0 + 5000, 'recent');

      expect(registry.activeHiveIds(T0 + TIMEOUT_MS).sort()).toEqual(['old', 'recent']);
      expect(registry.activeHiveIds(T0 + TIMEOUT_MS + 1)).toEqual(['recent']);
    });

    it('sweeps only what went stale, however many hives stay online', () => {
      for (let i = 0; i < 1000; i++) {
        registry.track(tracked(`h-${i}`));
        beat([], stamp(1), T0 + i, `h-${i}`);
      }
      // Ten went silent: a sweep at that instant names those ten and no other.
      expect(registry.sweep(T0 + 9 + TIMEOUT_MS + 1)).toEqual(Array.from({ length: 10 }, (_, i) => `h-${i}`));
      expect(registry.sweep(T0 + 9 + TIMEOUT_MS + 1)).toEqual([]);
    });

    it('after a restart: unknown during the first timeout for hives the catalog held online, then offline, once', () => {
      const restarted = new HiveRegistry(TIMEOUT_MS, T0);
      restarted.track(tracked('was-online', { status: 'online' }));
      restarted.track(tracked('was-offline', { status: 'offline' }));
      restarted.track(tracked('never-heard', { status: 'unknown' }));
      restarted.track(tracked('returns', { status: 'online' }));

      expect(restarted.status('was-online', T0)).toBe('unknown');
      expect(restarted.status('was-offline', T0)).toBe('offline');
      expect(restarted.status('never-heard', T0)).toBe('unknown');
      expect(restarted.sweep(T0 + TIMEOUT_MS)).toEqual([]);
      expect(restarted.applyHeartbeat('returns', { stamp: stamp(1), workers: [], receivedAt: T0 + 1000 }).cameOnline).toBe(true);

      expect(restarted.status('was-online', T0 + TIMEOUT_MS + 1)).toBe('offline');
      expect(restarted.sweep(T0 + TIMEOUT_MS + 1)).toEqual(['was-online']);
      expect(restarted.sweep(T0 + TIMEOUT_MS + 2)).toEqual([]);
      expect(restarted.status('never-heard', T0 + 3_600_000)).toBe('unknown');
      expect(restarted.status('returns', T0 + TIMEOUT_MS + 1)).toBe('online');
    });

    it('counts the grace from when the queen started listening', () => {
      const restarted = new HiveRegistry(TIMEOUT_MS, T0);
      restarted.track(tracked('was-online', { status: 'online' }));
      restarted.markStarted(T0 + 60_000);

      expect(restarted.sweep(T0 + 60_000 + TIMEOUT_MS)).toEqual([]);
      expect(restarted.sweep(T0 + 60_000 + TIMEOUT_MS + 1)).toEqual(['was-online']);
    });

    it('knows nothing of hives it does not track', () => {
      expect(registry.view('nowhere', T0)).toBeUndefined();
      expect(registry.status('nowhere', T0)).toBeUndefined();
    });
  });

  describe('workers and forgetting', () => {
    beforeEach(() => {
      registry.track(tracked('hive-b'));
      beat([worker('w1'), worker('w2', { modelId: 'qwen' })], stamp(1), T0, 'hive-a');
      beat([worker('w3', { modelId: 'qwen' })], stamp(1), T0, 'hive-b');
    });

    it('finds a worker by id with its hive, and forgets it once its hive stops reporting it', () => {
      expect(registry.findWorker('w3')).toEqual({ hiveId: 'hive-b', worker: worker('w3', { modelId: 'qwen' }) });

      beat([], stamp(2), T0 + 1000, 'hive-b');
      expect(registry.findWorker('w3')).toBeUndefined();
    });

    it('finds the latest report of a worker', () => {
      beat([worker('w1', { state: 'busy' }), worker('w2')], stamp(2), T0 + 1000, 'hive-a');
      expect(registry.findWorker('w1')?.worker.state).toBe('busy');
    });

    it.each<[string, { hiveId?: string; modelId?: string }, string[]]>([
      ['everything', {}, ['w1', 'w2', 'w3']],
      ['one hive', { hiveId: 'hive-a' }, ['w1', 'w2']],
      ['one model', { modelId: 'qwen' }, ['w2', 'w3']],
      ['one hive and one model', { hiveId: 'hive-b', modelId: 'qwen' }, ['w3']],
      ['an unknown hive', { hiveId: 'nowhere' }, []],
    ])('lists workers of %s', (_name, filter, workerIds) => {
      expect(registry.listWorkers(filter).map((located) => located.worker.workerId)).toEqual(workerIds);
    });

    it('forget drops the hive, its workers, its reservations and its capacity', () => {
      const held = registry.reserve(holdFor('w-starting'), T0, 60_000);

      expect(registry.forget('hive-a')).toBe(true);
      expect(registry.forget('hive-a')).toBe(false);
      expect(registry.view('hive-a', T0)).toBeUndefined();
      expect(registry.findWorker('w1')).toBeUndefined();
      expect(registry.release(held.id)).toBeUndefined();
      expect(registry.listWorkers().map((located) => located.worker.workerId)).toEqual(['w3']);
      expect(indexed('cuda').some((slot) => slot.startsWith('hive-a/'))).toBe(false);
      expect(registry.sweep(T0 + 3_600_000)).toEqual(['hive-b']);
    });
  });
});
