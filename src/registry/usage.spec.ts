import type { HiveCapabilities, WorkerBackend } from '../domain/fleet';
import type { HeartbeatStamp, Reservation, WorkerReport } from './registry.types';
import { claimSameCapacity, computeResources, isOlderHeartbeat } from './usage';

const GiB = 2 ** 30;

/** backend, deviceId and device consistent with each other: cuda:0 unless overridden, cpu without a device id. */
function placedOn(overrides: { backend?: WorkerBackend; deviceId?: number | null }) {
  const backend = overrides.backend ?? 'cuda';
  const deviceId = backend === 'cpu' ? null : (overrides.deviceId ?? 0);
  return { backend, deviceId, device: deviceId === null ? 'cpu' : `${backend}:${deviceId}` };
}

function worker(overrides: Partial<WorkerReport> & Pick<WorkerReport, 'workerId'>): WorkerReport {
  return {
    modelId: 'llama-3-8b',
    state: 'ready',
    ...placedOn(overrides),
    vramBytes: 0,
    ramBytes: 0,
    url: null,
    healthStatus: null,
    lastHeartbeat: null,
    cpuPercent: null,
    gpuPercent: null,
    ...overrides,
  };
}

function reservation(overrides: Partial<Reservation> & Pick<Reservation, 'id'>): Reservation {
  return {
    hiveId: 'hive-a',
    workerId: `worker-of-${overrides.id}`,
    modelId: 'llama-3-8b',
    ...placedOn(overrides),
    vramBytes: 0,
    ramBytes: 0,
    createdAt: 0,
    expiresAt: Number.MAX_SAFE_INTEGER,
    ...overrides,
  };
}

/** `ramGiB` of RAM and one CUDA GPU per entry of `gpuGiB`, indexed from 0. */
function cudaHive(ramGiB: number, gpuGiB: number[]): HiveCapabilities {
  return {
    cpuCores: 16,
    ramBytes: ramGiB * GiB,
    gpus: gpuGiB.map((vram, index) => ({ index, name: 'RTX 4090', vramBytes: vram * GiB, backend: 'cuda' })),
  };
}

/** Device usage as [device, total, used, reserved, free] in GiB: one line per device reads like a table. */
type DeviceRow = [string, number, number, number, number];
/** RAM usage as [total, used, reserved, free] in GiB. */
type RamRow = [number, number, number, number];

function summarise(capabilities: HiveCapabilities | null, workers: WorkerReport[], reservations: Reservation[] = []) {
  const { devices, ram } = computeResources(capabilities, workers, reservations);
  return {
    devices: devices.map((d): DeviceRow => [
      d.device,
      d.totalBytes / GiB,
      d.usedBytes / GiB,
      d.reservedBytes / GiB,
      d.freeBytes / GiB,
    ]),
    ram: [ram.totalBytes / GiB, ram.usedBytes / GiB, ram.reservedBytes / GiB, ram.freeBytes / GiB] as RamRow,
  };
}

describe('computeResources', () => {
  const twoGpus = cudaHive(64, [24, 24]);

  it.each<{ name: string; workers: WorkerReport[]; reservations?: Reservation[]; devices: DeviceRow[]; ram: RamRow }>([
    {
      name: 'idle hive: everything free',
      workers: [],
      devices: [
        ['cuda:0', 24, 0, 0, 24],
        ['cuda:1', 24, 0, 0, 24],
      ],
      ram: [64, 0, 0, 64],
    },
    {
      name: 'VRAM counts on the worker’s own GPU, RAM on the host',
      workers: [
        worker({ workerId: 'w1', deviceId: 0, vramBytes: 8 * GiB, ramBytes: 2 * GiB }),
        worker({ workerId: 'w2', deviceId: 0, vramBytes: 4 * GiB, ramBytes: 1 * GiB }),
        worker({ workerId: 'w3', deviceId: 1, vramBytes: 20 * GiB, ramBytes: 4 * GiB }),
      ],
      devices: [
        ['cuda:0', 24, 12, 0, 12],
        ['cuda:1', 24, 20, 0, 4],
      ],
      ram: [64, 7, 0, 57],
    },
    {
      name: 'stopped and failed workers hold nothing',
      workers: [
        worker({ workerId: 'w1', deviceId: 0, vramBytes: 8 * GiB, ramBytes: 2 * GiB, state: 'stopped' }),
        worker({ workerId: 'w2', deviceId: 1, vramBytes: 8 * GiB, ramBytes: 2 * GiB, state: 'failed' }),
        worker({ workerId: 'w3', deviceId: 1, vramBytes: 6 * GiB, ramBytes: 1 * GiB, state: 'stopping' }),
      ],
      devices: [
        ['cuda:0', 24, 0, 0, 24],
        ['cuda:1', 24, 6, 0, 18],
      ],
      ram: [64, 1, 0, 63],
    },
    {
      name: 'reservations are held apart from use and reduce free',
      workers: [worker({ workerId: 'w1', deviceId: 1, vramBytes: 8 * GiB, ramBytes: 2 * GiB })],
      reservations: [
        reservation({ id: 'r1', deviceId: 1, vramBytes: 10 * GiB, ramBytes: 3 * GiB }),
        reservation({ id: 'r2', backend: 'cpu', ramBytes: 5 * GiB }),
      ],
      devices: [
        ['cuda:0', 24, 0, 0, 24],
        ['cuda:1', 24, 8, 10, 6],
      ],
      ram: [64, 2, 8, 54],
    },
    {
      name: 'over-use clamps free at 0 and keeps used visible',
      workers: [worker({ workerId: 'w1', deviceId: 0, vramBytes: 20 * GiB, ramBytes: 60 * GiB })],
      reservations: [reservation({ id: 'r1', deviceId: 0, vramBytes: 10 * GiB, ramBytes: 10 * GiB })],
      devices: [
        ['cuda:0', 24, 20, 10, 0],
        ['cuda:1', 24, 0, 0, 24],
      ],
      ram: [64, 60, 10, 0],
    },
    {
      name: 'a worker or reservation on an unlisted GPU appears with total 0',
      workers: [worker({ workerId: 'w1', deviceId: 5, vramBytes: 8 * GiB })],
      reservations: [reservation({ id: 'r1', backend: 'metal', vramBytes: 2 * GiB })],
      devices: [
        ['cuda:0', 24, 0, 0, 24],
        ['cuda:1', 24, 0, 0, 24],
        ['cuda:5', 0, 8, 0, 0],
        ['metal:0', 0, 0, 2, 0],
      ],
      ram: [64, 0, 0, 64],
    },
    {
      name: 'a CPU worker uses RAM only',
      workers: [worker({ workerId: 'w1', backend: 'cpu', ramBytes: 16 * GiB })],
      devices: [
        ['cuda:0', 24, 0, 0, 24],
        ['cuda:1', 24, 0, 0, 24],
      ],
      ram: [64, 16, 0, 48],
    },
  ])('$name', ({ workers, reservations, devices, ram }) => {
    expect(summarise(twoGpus, workers, reservations)).toEqual({ devices, ram });
  });

  it('gives totals of 0 when capabilities are unknown, still showing use', () => {
    const usage = summarise(null, [worker({ workerId: 'w1', deviceId: 0, vramBytes: 4 * GiB, ramBytes: 1 * GiB })]);
    expect(usage).toEqual({ devices: [['cuda:0', 0, 4, 0, 0]], ram: [0, 1, 0, 0] });
  });

  it('sorts devices by backend, then index (numerically)', () => {
    const capabilities: HiveCapabilities = {
      cpuCores: 8,
      ramBytes: 0,
      gpus: [
        { index: 10, name: 'M', vramBytes: 1, backend: 'metal' },
        { index: 10, name: 'A', vramBytes: 1, backend: 'cuda' },
        { index: 2, name: 'A', vramBytes: 1, backend: 'cuda' },
        { index: 0, name: 'M', vramBytes: 1, backend: 'metal' },
      ],
    };
    const devices = computeResources(capabilities, [], []).devices.map((d) => d.device);
    expect(devices).toEqual(['cuda:2', 'cuda:10', 'metal:0', 'metal:10']);
  });
});

describe('isOlderHeartbeat', () => {
  const T = Date.parse('2026-11-27T10:00:00Z');
  const HOUR = 3_600_000;
  const TOLERANCE = 15_000;
  const stamp = (sequence: number | null, timestamp: number): HeartbeatStamp => ({ sequence, timestamp });

  // The last applied heartbeat arrived at T (queen clock) unless said otherwise.
  it.each<[string, boolean, HeartbeatStamp | null, HeartbeatStamp, number?]>([
    ['nothing applied yet', false, null, stamp(1, T)],
    ['higher sequence', false, stamp(5, T), stamp(6, T)],
    ['lower sequence, earlier timestamp: a late beat', true, stamp(5, T), stamp(4, T - 5000)],
    ['lower sequence, same timestamp', true, stamp(5, T), stamp(4, T)],
    ['equal sequence (resend)', false, stamp(5, T), stamp(5, T)],
    ['higher sequence with the hive clock an hour behind', false, stamp(5, T), stamp(6, T - HOUR)],
    ['sequence started again, hive clock moved on: a restarted agent', false, stamp(500, T), stamp(1, T + 5000)],
    ['sequence started again with a clock an hour off, moving on', false, stamp(500, T - HOUR), stamp(1, T - HOUR + 5000)],
    ['timestamp decides when the next lacks a sequence: earlier', true, stamp(5, T), stamp(null, T - 1)],
    ['timestamp decides when the next lacks a sequence: later', false, stamp(5, T), stamp(null, T + 1)],
    ['timestamp decides when the last lacks a sequence: earlier', true, stamp(null, T), stamp(9, T - 1)],
    ['neither has a sequence: later', false, stamp(null, T), stamp(null, T + 1000)],
    ['neither has a sequence: equal', false, stamp(null, T), stamp(null, T)],
    ['neither has a sequence: earlier', true, stamp(null, T), stamp(null, T - 1000)],
    ['the last timestamp was an hour ahead of the queen: it does not hold the next back', false, stamp(null, T + HOUR), stamp(null, T + 5000)],
    ['the last timestamp was ahead by the tolerance exactly: it still orders', true, stamp(null, T + TOLERANCE), stamp(null, T + 5000)],
    ['a hive clock an hour behind, steadily: ordering as usual', true, stamp(null, T - HOUR), stamp(null, T - HOUR - 1)],
  ])('%s → older: %s', (_name, older, last, next, lastReceivedAt = T) => {
    expect(isOlderHeartbeat(last, lastReceivedAt, next, TOLERANCE)).toBe(older);
  });
});

describe('claimSameCapacity', () => {
  const base = [worker({ workerId: 'w1', vramBytes: GiB, ramBytes: GiB, state: 'idle' })];

  it.each<[string, boolean, WorkerReport[]]>([
    ['identical', true, [worker({ workerId: 'w1', vramBytes: GiB, ramBytes: GiB, state: 'idle' })]],
    ['state change that still holds capacity', true, [{ ...base[0], state: 'busy', gpuPercent: 90 }]],
    ['state change that releases capacity', false, [{ ...base[0], state: 'stopped' }]],
    ['different VRAM', false, [{ ...base[0], vramBytes: 2 * GiB }]],
    ['different device', false, [{ ...base[0], ...placedOn({ deviceId: 1 }) }]],
    ['a worker more', false, [...base, worker({ workerId: 'w2' })]],
  ])('%s → %s', (_name, same, next) => {
    expect(claimSameCapacity(base, next)).toBe(same);
  });
});
