import { HiveRegistry } from './hive-registry';
import { HeartbeatStamp, HiveCapabilities, Reservation, WorkerReport } from './registry.types';

const GiB = 2 ** 30;
const T0 = Date.parse('2026-11-27T10:00:00Z');
const STALE_AFTER_MS = 15_000;
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

function reservation(id: string, overrides: Partial<Reservation> = {}): Reservation {
  return {
    id,
    hiveId: HIVE,
    workerId: `w-${id}`,
    modelId: 'llama-3-8b',
    backend: 'cuda',
    deviceId: 0,
    device: 'cuda:0',
    vramBytes: 8 * GiB,
    ramBytes: 2 * GiB,
    createdAt: T0,
    expiresAt: T0 + 60_000,
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

describe('HiveRegistry', () => {
  let registry: HiveRegistry;

  beforeEach(() => {
    registry = new HiveRegistry();
  });

  const beat = (workers: WorkerReport[], hiveStamp: HeartbeatStamp, receivedAt: number, hiveId = HIVE) =>
    registry.applyHeartbeat(hiveId, { stamp: hiveStamp, workers, receivedAt }, STALE_AFTER_MS);

  /** [used, reserved, free] of cuda:0 in GiB at `now`. */
  const gpu0 = (now: number) => {
    const device = registry.getAvailableResources(HIVE, now)?.devices.find((d) => d.device === 'cuda:0');
    return device && [device.usedBytes / GiB, device.reservedBytes / GiB, device.freeBytes / GiB];
  };

  describe('applyHeartbeat', () => {
    it('applies the first heartbeat: online, workers recorded, all of them added', () => {
      const outcome = beat([worker('w1'), worker('w2')], stamp(1), T0);

      expect(outcome).toEqual({
        applied: true,
        cameOnline: true,
        addedWorkers: [worker('w1'), worker('w2')],
        removedWorkers: [],
        fulfilledReservations: [],
      });
      expect(registry.getHiveState(HIVE)).toEqual({
        hiveId: HIVE,
        online: true,
        lastHeartbeatAt: T0,
        lastStamp: stamp(1),
        capabilities: null,
        workers: [worker('w1'), worker('w2')],
        reservations: [],
      });
    });

    it('diffs workers by id against the previous report; a state change is neither added nor removed', () => {
      beat([worker('w1'), worker('w2')], stamp(1), T0);
      const outcome = beat([worker('w2', { state: 'busy' }), worker('w3')], stamp(2), T0 + 5000);

      expect(outcome.cameOnline).toBe(false);
      expect(outcome.addedWorkers.map((w) => w.workerId)).toEqual(['w3']);
      expect(outcome.removedWorkers).toEqual([worker('w1')]);
      expect(registry.getHiveState(HIVE)?.workers.map((w) => w.state)).toEqual(['busy', 'ready']);
    });

    it.each<[string, HeartbeatStamp, HeartbeatStamp, boolean]>([
      ['lower sequence', stamp(5), stamp(4), false],
      ['equal sequence', stamp(5), stamp(5), true],
      ['higher sequence with the hive clock an hour behind', stamp(5), stamp(6, T0 - 3_600_000), true],
      ['lower sequence with the hive clock an hour ahead', stamp(5), stamp(4, T0 + 3_600_000), false],
      ['no sequence, earlier timestamp', stamp(null), stamp(null, T0 - 1), false],
      ['sequence only on the new one, earlier timestamp', stamp(null), stamp(7, T0 - 1), false],
      ['sequence only on the old one, later timestamp', stamp(7), stamp(null, T0 + 1), true],
    ])('orders by %s → applied: %s', (_name, first, second, applied) => {
      beat([worker('w1')], first, T0);
      expect(beat([worker('w2')], second, T0 + 1000).applied).toBe(applied);
    });

    it('changes nothing, liveness included, when not applied', () => {
      beat([worker('w1')], stamp(5), T0);
      const before = registry.getHiveState(HIVE);

      const outcome = beat([worker('w2')], stamp(4), T0 + 10_000);

      expect(outcome).toEqual({
        applied: false,
        cameOnline: false,
        addedWorkers: [],
        removedWorkers: [],
        fulfilledReservations: [],
      });
      expect(registry.getHiveState(HIVE)).toEqual(before);
      // Liveness still dates from T0: the refused heartbeat did not keep the hive online.
      expect(registry.sweepOffline(T0 + 10_001, 10_000)).toEqual([HIVE]);
    });

    it('resets the ordering once the last applied heartbeat is older than staleAfterMs (restarted agent)', () => {
      beat([worker('w1')], stamp(500), T0);

      expect(beat([], stamp(1), T0 + STALE_AFTER_MS).applied).toBe(false);
      const restarted = beat([worker('w9')], stamp(1), T0 + STALE_AFTER_MS + 1);

      expect(restarted.applied).toBe(true);
      expect(registry.getHiveState(HIVE)?.lastStamp).toEqual(stamp(1));
      // The restarted sequence now orders normally again.
      expect(beat([], stamp(2), T0 + STALE_AFTER_MS + 2).applied).toBe(true);
    });
  });

  describe('usage', () => {
    beforeEach(() => registry.setCapabilities(HIVE, CAPABILITIES));

    it('follows worker reports: stopped and failed workers hold nothing', () => {
      beat([worker('w1'), worker('w2', { vramBytes: 4 * GiB })], stamp(1), T0);
      expect(gpu0(T0)).toEqual([12, 0, 12]);

      beat([worker('w1', { state: 'stopped' }), worker('w2', { vramBytes: 4 * GiB, state: 'failed' })], stamp(2), T0);
      expect(gpu0(T0)).toEqual([0, 0, 24]);
      expect(registry.getAvailableResources(HIVE, T0)?.ram).toEqual({
        totalBytes: 64 * GiB,
        usedBytes: 0,
        reservedBytes: 0,
        freeBytes: 64 * GiB,
      });
    });

    it('follows capability changes', () => {
      beat([worker('w1')], stamp(1), T0);
      expect(gpu0(T0)).toEqual([8, 0, 16]);
      registry.setCapabilities(HIVE, { ...CAPABILITIES, gpus: [{ ...CAPABILITIES.gpus[0], vramBytes: 48 * GiB }] });

      expect(registry.getAvailableResources(HIVE, T0)?.devices.map((d) => [d.device, d.freeBytes / GiB])).toEqual([
        ['cuda:0', 40],
      ]);
    });

    it('returns frozen usage that is reused while nothing changes', () => {
      beat([worker('w1')], stamp(1), T0);
      const first = registry.getAvailableResources(HIVE, T0);
      beat([worker('w1', { state: 'busy', gpuPercent: 97 })], stamp(2), T0 + 5000);
      registry.setCapabilities(HIVE, { ...CAPABILITIES, cpuCores: 32 });

      expect(registry.getAvailableResources(HIVE, T0 + 5000)).toBe(first);
      expect(Object.isFrozen(first?.devices[0])).toBe(true);
    });

    it('counts a reservation until its TTL passes, decided by now', () => {
      registry.reserve(reservation('r1', { expiresAt: T0 + 30_000 }));

      expect(gpu0(T0)).toEqual([0, 8, 16]);
      expect(gpu0(T0 + 29_999)).toEqual([0, 8, 16]);
      expect(gpu0(T0 + 30_000)).toEqual([0, 0, 24]);
      // An earlier instant still sees it: the cache is keyed on the instant, not on the last call.
      expect(gpu0(T0 + 1)).toEqual([0, 8, 16]);
      expect(registry.listReservations(T0 + 29_999).map((r) => r.id)).toEqual(['r1']);
      expect(registry.listReservations(T0 + 30_000)).toEqual([]);
    });

    it('expireReservations removes and returns only the expired ones', () => {
      registry.reserve(reservation('short', { expiresAt: T0 + 10_000 }));
      registry.reserve(reservation('long', { expiresAt: T0 + 60_000 }));

      expect(registry.expireReservations(T0 + 9_999)).toEqual([]);
      expect(registry.expireReservations(T0 + 10_000).map((r) => r.id)).toEqual(['short']);
      expect(registry.findReservation('short')).toBeUndefined();
      expect(registry.findReservation('long')).toBeDefined();
      expect(gpu0(T0)).toEqual([0, 8, 16]);
    });

    it('ends a reservation when its worker is reported, counting its usage once', () => {
      registry.reserve(reservation('r1', { workerId: 'w-new' }));
      registry.reserve(reservation('r2', { workerId: 'w-later', deviceId: 1, device: 'cuda:1' }));
      expect(gpu0(T0)).toEqual([0, 8, 16]);

      const outcome = beat([worker('w-new', { state: 'loading' })], stamp(1), T0 + 1000);

      expect(outcome.fulfilledReservations.map((r) => r.id)).toEqual(['r1']);
      expect(gpu0(T0 + 1000)).toEqual([8, 0, 16]);
      expect(registry.findReservation('r1')).toBeUndefined();
      expect(registry.getHiveState(HIVE)?.reservations.map((r) => r.id)).toEqual(['r2']);
    });

    it('ends a reservation even when its worker is reported failed: the spawn has an answer', () => {
      registry.reserve(reservation('r1', { workerId: 'w-new' }));
      const outcome = beat([worker('w-new', { state: 'failed' })], stamp(1), T0);

      expect(outcome.fulfilledReservations.map((r) => r.id)).toEqual(['r1']);
      expect(gpu0(T0)).toEqual([0, 0, 24]);
    });

    it('releaseReservation frees the capacity once', () => {
      registry.reserve(reservation('r1'));

      expect(registry.releaseReservation('r1')?.id).toBe('r1');
      expect(registry.releaseReservation('r1')).toBeUndefined();
      expect(gpu0(T0)).toEqual([0, 0, 24]);
    });

    it('keeps its own copy of a reservation', () => {
      const held = reservation('r1');
      registry.reserve(held);
      held.vramBytes = 20 * GiB;

      expect(gpu0(T0)).toEqual([0, 8, 16]);
    });

    it.each<[string, Reservation]>([
      ['on a hive not in the registry', reservation('r1', { hiveId: 'nowhere' })],
      ['with an id already held', reservation('r0')],
    ])('refuses a reservation %s', (_name, refused) => {
      registry.reserve(reservation('r0'));
      expect(() => registry.reserve(refused)).toThrow();
    });
  });

  describe('liveness', () => {
    it('sweepOffline reports a silent hive once, keeps its workers, and the next heartbeat brings it back', () => {
      beat([worker('w1')], stamp(1), T0);
      beat([], stamp(1), T0 + 5000, 'hive-b');

      expect(registry.sweepOffline(T0 + 10_000, 10_000)).toEqual([]);
      expect(registry.sweepOffline(T0 + 10_001, 10_000)).toEqual([HIVE]);
      expect(registry.sweepOffline(T0 + 12_000, 10_000)).toEqual([]);
      expect(registry.isOnline(HIVE)).toBe(false);
      expect(registry.isOnline('hive-b')).toBe(true);
      expect(registry.getHiveState(HIVE)?.workers.map((w) => w.workerId)).toEqual(['w1']);

      const back = beat([worker('w1')], stamp(2), T0 + 13_000);
      expect(back).toMatchObject({ applied: true, cameOnline: true, addedWorkers: [], removedWorkers: [] });
      expect(registry.isOnline(HIVE)).toBe(true);
    });

    it('listActiveHives lists hives heard from within maxAgeMs', () => {
      beat([], stamp(1), T0, 'old');
      beat([], stamp(1), T0 + 5000, 'recent');
      registry.setCapabilities('never-heard', CAPABILITIES);

      expect(registry.listActiveHives(5000, T0 + 5000)).toEqual(['old', 'recent']);
      expect(registry.listActiveHives(5000, T0 + 5001)).toEqual(['recent']);
    });

    it('setCapabilities creates a hive that is neither online nor heard from', () => {
      registry.setCapabilities(HIVE, CAPABILITIES);

      expect(registry.getHiveState(HIVE)).toMatchObject({ online: false, lastHeartbeatAt: null, workers: [] });
      expect(registry.getCapabilities(HIVE)).toBe(CAPABILITIES);
      expect(registry.sweepOffline(T0 + 3_600_000, 10_000)).toEqual([]);
      expect(beat([], stamp(1), T0).cameOnline).toBe(true);
    });

    it('knows nothing of hives never seen', () => {
      expect(registry.getHiveState('nowhere')).toBeUndefined();
      expect(registry.getAvailableResources('nowhere', T0)).toBeUndefined();
      expect(registry.getCapabilities('nowhere')).toBeNull();
      expect(registry.isOnline('nowhere')).toBe(false);
    });
  });

  describe('workers and iteration', () => {
    beforeEach(() => {
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

    it('iterates hive ids and live views with usage as of now', () => {
      registry.setCapabilities('hive-a', CAPABILITIES);

      expect([...registry.hiveIds()]).toEqual(['hive-a', 'hive-b']);
      const views = [...registry.entries(T0)].map((view) => ({
        hiveId: view.hiveId,
        online: view.online,
        hasCapabilities: view.capabilities !== null,
        vramUsed: view.resources.devices.map((d) => d.usedBytes / GiB),
      }));
      expect(views).toEqual([
        { hiveId: 'hive-a', online: true, hasCapabilities: true, vramUsed: [16, 0] },
        { hiveId: 'hive-b', online: true, hasCapabilities: false, vramUsed: [8] },
      ]);
      expect(registry.liveView('hive-b', T0)?.resources.ram.usedBytes).toBe(2 * GiB);
    });

    it('removeHive forgets the hive, its workers and its reservations', () => {
      registry.reserve(reservation('r1', { hiveId: 'hive-a' }));

      expect(registry.removeHive('hive-a')).toBe(true);
      expect(registry.removeHive('hive-a')).toBe(false);
      expect(registry.getHiveState('hive-a')).toBeUndefined();
      expect(registry.findWorker('w1')).toBeUndefined();
      expect(registry.findReservation('r1')).toBeUndefined();
      expect(registry.listWorkers().map((located) => located.worker.workerId)).toEqual(['w3']);
    });
  });
});
