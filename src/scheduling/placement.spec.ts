import fc from 'fast-check';
import type { GpuBackend, HiveCapabilities, WorkerBackend } from '../domain/fleet';
import { isLive } from '../domain/liveness';
import { HiveRegistry } from '../registry/hive-registry';
import type { HiveView, WorkerReport } from '../registry/registry.types';
import { FleetCapacity, place, PlacementRequest, PlacementResult, RejectionReason, Rejections } from './placement';

const GiB = 2 ** 30;
const T0 = Date.parse('2026-11-27T10:00:00Z');
const TIMEOUT_MS = 15_000;

/** A GPU as [backend, index, total GiB, free GiB]. */
type Gpu = [GpuBackend, number, number, number];

interface HiveSpec {
  gpus?: Gpu[];
  ramGiB?: number;
  ramFreeGiB?: number;
  /** `live` (default): heard just now; `stale`: silent past the timeout, not yet swept; `swept`; `never`: never heard from. */
  liveness?: 'live' | 'stale' | 'swept' | 'never';
  cordoned?: boolean;
  /** False: the hive's devices are unknown. */
  capabilities?: boolean;
  labels?: Record<string, string>;
}

function claim(workerId: string, backend: WorkerBackend, deviceId: number | null, vramBytes: number, ramBytes: number): WorkerReport {
  return {
    workerId,
    modelId: 'm',
    state: 'ready',
    backend,
    deviceId,
    device: deviceId === null ? 'cpu' : `${backend}:${deviceId}`,
    vramBytes,
    ramBytes,
    url: null,
    healthStatus: null,
    lastHeartbeat: null,
    cpuPercent: null,
    gpuPercent: null,
  };
}

/**
 * A registry holding the hives as specified, read at `T0 + TIMEOUT_MS / 2`:
 * each GPU's used VRAM and the host's used RAM are claimed by reported workers.
 */
function fleetOf(hives: Record<string, HiveSpec>): FleetCapacity {
  const registry = new HiveRegistry(TIMEOUT_MS, T0 - 60_000);
  const now = T0 + TIMEOUT_MS / 2;
  for (const [id, spec] of Object.entries(hives)) {
    const gpus = spec.gpus ?? [];
    const ramGiB = spec.ramGiB ?? 64;
    const capabilities: HiveCapabilities = {
      cpuCores: 16,
      ramBytes: ramGiB * GiB,
      gpus: gpus.map(([backend, index, total]) => ({ index, name: 'GPU', vramBytes: total * GiB, backend })),
    };
    registry.track({ id, cordoned: spec.cordoned ?? false, labels: spec.labels ?? {}, capabilities: spec.capabilities === false ? null : capabilities, status: 'unknown' });
    const workers = gpus.map(([backend, index, total, free], i) => claim(`${id}-w${i}`, backend, index, (total - free) * GiB, 0));
    workers.push(claim(`${id}-host`, 'cpu', null, 0, (ramGiB - (spec.ramFreeGiB ?? ramGiB)) * GiB));
    const liveness = spec.liveness ?? 'live';
    if (liveness === 'never') continue;
    const heardAt = liveness === 'live' ? now : now - TIMEOUT_MS - 1;
    registry.applyHeartbeat(id, { stamp: { sequence: 1, timestamp: heardAt }, workers, receivedAt: heardAt });
    if (liveness === 'swept') registry.sweep(now);
  }
  return {
    now,
    liveness: registry.liveness,
    index: registry.capacityIndex(now),
    hive: (hiveId) => registry.view(hiveId, now),
    hives: () => registry.hives(now),
  };
}

function request(overrides: Partial<PlacementRequest> = {}): PlacementRequest {
  return { modelId: 'llama-3-8b', vramBytes: 8 * GiB, ramBytes: 2 * GiB, ...overrides };
}

/** `hiveId device` of the chosen placement, or the rejections: what a test asserts on. */
function outcome(result: PlacementResult): string | Record<string, RejectionReason> {
  return result.ok ? `${result.placement.hiveId} ${result.placement.device}` : result.rejections.toJSON();
}

const decide = (overrides: Partial<PlacementRequest>, hives: Record<string, HiveSpec>, exclude?: Set<string>) =>
  outcome(place(request(overrides), fleetOf(hives), exclude));

describe('place', () => {
  describe('fit', () => {
    it.each<[string, Partial<PlacementRequest>, Record<string, HiveSpec>, string | Record<string, RejectionReason>]>([
      ['one GPU with enough free VRAM', { vramBytes: 12 * GiB }, { a: { gpus: [['cuda', 0, 24, 12], ['cuda', 1, 24, 12]] } }, 'a cuda:0'],
      [
        'only the sum of two GPUs would fit: refused',
        { vramBytes: 20 * GiB },
        { a: { gpus: [['cuda', 0, 24, 12], ['cuda', 1, 24, 12]] } },
        { a: 'insufficient_vram' },
      ],
      ['the one GPU that fits, not the first one', { vramBytes: 20 * GiB }, { a: { gpus: [['cuda', 0, 24, 12], ['cuda', 1, 24, 22]] } }, 'a cuda:1'],
      ['exactly the free VRAM fits', { vramBytes: 12 * GiB }, { a: { gpus: [['cuda', 0, 24, 12]] } }, 'a cuda:0'],
      ['a hive without GPUs for a GPU model', {}, { a: {} }, { a: 'insufficient_vram' }],
      ['VRAM fits, host RAM does not', { ramBytes: 65 * GiB }, { a: { gpus: [['cuda', 0, 24, 24]] } }, { a: 'insufficient_ram' }],
    ])('%s', (_name, overrides, hives, expected) => {
      expect(decide(overrides, hives)).toEqual(expected);
    });
  });

  describe('strategy', () => {
    const fleet: Record<string, HiveSpec> = {
      roomy: { gpus: [['cuda', 0, 24, 20]] },
      tight: { gpus: [['cuda', 0, 24, 10], ['cuda', 1, 24, 9]] },
      full: { gpus: [['cuda', 0, 24, 4]] },
    };

    it.each<[PlacementRequest['strategy'], string, number]>([
      [undefined, 'tight cuda:1', 1 - 1 / 24],
      ['binpack', 'tight cuda:1', 1 - 1 / 24],
      ['spread', 'roomy cuda:0', 12 / 24],
    ])('%s → %s', (strategy, expected, score) => {
      const result = place(request({ strategy }), fleetOf(fleet));
      expect(outcome(result)).toBe(expected);
      expect(result.ok && result.placement.score).toBeCloseTo(score, 10);
    });

    it.each<[PlacementRequest['strategy'], string]>([
      ['binpack', 'tight cuda:0'],
      ['spread', 'roomy cuda:0'],
    ])('%s breaks ties by hive id, then device index', (strategy, expected) => {
      const twins: Record<string, HiveSpec> = {
        'zz-tight': { gpus: [['cuda', 0, 24, 10]] },
        tight: { gpus: [['cuda', 1, 24, 10], ['cuda', 0, 24, 10]] },
        roomy: { gpus: [['cuda', 1, 24, 20], ['cuda', 0, 24, 20]] },
        'zz-roomy': { gpus: [['cuda', 0, 24, 20]] },
      };
      expect(decide({ strategy }, twins)).toBe(expected);
    });

    it.each<[PlacementRequest['strategy'], string[]]>([
      ['binpack', ['a cuda:1', 'b cuda:0', 'd cuda:0', 'c cuda:0']],
      ['spread', ['a cuda:0', 'c cuda:0', 'b cuda:0', 'd cuda:0']],
    ])('%s: excluding the hives already chosen gives the next best, one device per hive', (strategy, expected) => {
      const fleet = fleetOf({
        c: { gpus: [['cuda', 0, 24, 14]] },
        a: { gpus: [['cuda', 0, 24, 20], ['cuda', 1, 24, 10]] },
        e: { gpus: [['cuda', 0, 24, 4]] },
        b: { gpus: [['cuda', 0, 24, 12]] },
        d: { gpus: [['cuda', 0, 24, 12]] },
      });
      const chosen: string[] = [];
      const tried = new Set<string>();
      for (let result = place(request({ strategy }), fleet); result.ok; result = place(request({ strategy }), fleet, tried)) {
        chosen.push(`${result.placement.hiveId} ${result.placement.device}`);
        tried.add(result.placement.hiveId);
      }
      // e, with 4 GiB free, never fits 8.
      expect(chosen).toEqual(expected);
    });
  });

  describe('backends', () => {
    const mixed: Record<string, HiveSpec> = {
      apple: { gpus: [['metal', 0, 64, 40]] },
      nvidia: { gpus: [['cuda', 0, 24, 20]] },
      both: { gpus: [['cuda', 0, 24, 10], ['metal', 0, 32, 12]] },
    };

    it.each<[string, Partial<PlacementRequest>, string | Record<string, RejectionReason>]>([
      ['metal only on metal GPUs', { backend: 'metal', strategy: 'spread' }, 'apple metal:0'],
      ['metal binpack skips the tighter cuda GPU of a mixed hive', { backend: 'metal' }, 'both metal:0'],
      ['cuda only on cuda GPUs', { backend: 'cuda', strategy: 'spread' }, 'nvidia cuda:0'],
      ['cuda binpack picks the cuda GPU of a mixed hive', { backend: 'cuda' }, 'both cuda:0'],
      ['no backend: any GPU, binpack', {}, 'both cuda:0'],
      ['no backend: any GPU, spread', { strategy: 'spread' }, 'apple metal:0'],
      [
        'a backend no hive has enough of',
        { backend: 'metal', vramBytes: 48 * GiB },
        { apple: 'insufficient_vram', nvidia: 'insufficient_vram', both: 'insufficient_vram' },
      ],
    ])('%s', (_name, overrides, expected) => {
      expect(decide(overrides, mixed)).toEqual(expected);
    });
  });

  describe('CPU workers', () => {
    const fleet: Record<string, HiveSpec> = {
      'gpu-box': { gpus: [['cuda', 0, 24, 0]], ramGiB: 128, ramFreeGiB: 100 },
      'cpu-box': { ramGiB: 64, ramFreeGiB: 40 },
    };

    it.each<[string, Partial<PlacementRequest>, string | Record<string, RejectionReason>]>([
      ['vram 0 needs RAM only (binpack: least RAM left)', { vramBytes: 0, ramBytes: 16 * GiB }, 'cpu-box cpu'],
      ['spread: most RAM left', { vramBytes: 0, ramBytes: 16 * GiB, strategy: 'spread' }, 'gpu-box cpu'],
      ['backend cpu ignores VRAM', { backend: 'cpu', vramBytes: 80 * GiB, ramBytes: 16 * GiB }, 'cpu-box cpu'],
      ['not enough RAM anywhere', { vramBytes: 0, ramBytes: 101 * GiB }, { 'gpu-box': 'insufficient_ram', 'cpu-box': 'insufficient_ram' }],
    ])('%s', (_name, overrides, expected) => {
      expect(decide(overrides, fleet)).toEqual(expected);
    });

    it('reports backend cpu, no device id, and a RAM-based score', () => {
      expect(place(request({ vramBytes: 0, ramBytes: 24 * GiB }), fleetOf(fleet))).toEqual({
        ok: true,
        placement: { hiveId: 'cpu-box', device: 'cpu', backend: 'cpu', deviceId: null, score: 1 - 16 / 64 },
      });
    });
  });

  describe('admission and rejections', () => {
    const gpu: Gpu[] = [['cuda', 0, 24, 24]];

    it('names the first failing check of every hive', () => {
      const fleet: Record<string, HiveSpec> = {
        offline: { gpus: gpu, liveness: 'swept', cordoned: true, capabilities: false },
        'silent-not-swept': { gpus: gpu, liveness: 'stale' },
        'never-heard': { gpus: gpu, liveness: 'never' },
        cordoned: { gpus: gpu, cordoned: true, capabilities: false },
        'no-caps': { gpus: gpu, capabilities: false, labels: { zone: 'b' } },
        'wrong-zone': { gpus: [['cuda', 0, 24, 0]], labels: { zone: 'b', tier: 'gold' } },
        'no-zone': { gpus: gpu, labels: { tier: 'gold' } },
        // No RAM free either: VRAM is checked first.
        'no-vram': { gpus: [['cuda', 0, 24, 4]], ramFreeGiB: 0, labels: { zone: 'a', tier: 'gold' } },
        'no-ram': { gpus: gpu, ramFreeGiB: 1, labels: { zone: 'a', tier: 'gold' } },
      };

      expect(decide({ labels: { zone: 'a', tier: 'gold' } }, fleet)).toEqual({
        offline: 'offline',
        'silent-not-swept': 'offline',
        'never-heard': 'offline',
        cordoned: 'cordoned',
        'no-caps': 'no_capabilities',
        'wrong-zone': 'label_mismatch',
        'no-zone': 'label_mismatch',
        'no-vram': 'insufficient_vram',
        'no-ram': 'insufficient_ram',
      });
    });

    it('places on the hive whose labels all match, whatever its other labels', () => {
      const fleet = { a: { gpus: gpu, labels: { zone: 'a' } }, b: { gpus: gpu, labels: { zone: 'b', tier: 'gold', extra: 'x' } } };
      expect(decide({ labels: { zone: 'b', tier: 'gold' } }, fleet)).toBe('b cuda:0');
    });

    it('a pin to a full hive is refused even though another hive has room', () => {
      const fleet: Record<string, HiveSpec> = { full: { gpus: [['cuda', 0, 24, 2]] }, empty: { gpus: gpu } };
      expect(decide({ hiveId: 'full' }, fleet)).toEqual({ full: 'insufficient_vram' });
      expect(decide({ hiveId: 'empty' }, fleet)).toBe('empty cuda:0');
    });

    it('a pin to a hive that is not tracked, or already tried, names no hive', () => {
      expect(decide({ hiveId: 'nowhere' }, { a: { gpus: gpu } })).toEqual({});
      expect(decide({ hiveId: 'a' }, { a: { gpus: gpu } }, new Set(['a']))).toEqual({});
    });

    it('leaves the hives already tried out of the rejections', () => {
      expect(decide({ vramBytes: 40 * GiB }, { a: { gpus: gpu }, b: { gpus: gpu } }, new Set(['a']))).toEqual({ b: 'insufficient_vram' });
    });

    it('names no reason when not asked to explain, and still places what fits', () => {
      const fleet = fleetOf({ a: { gpus: gpu }, b: { gpus: gpu } });
      expect(outcome(place(request({ vramBytes: 40 * GiB }), fleet, undefined, false))).toEqual({});
      expect(outcome(place(request(), fleet, undefined, false))).toBe('a cuda:0');
    });
  });
});

describe('Rejections', () => {
  it('writes the same JSON as JSON.stringify of the plain object, in the order added', () => {
    const rejections = new Rejections();
    rejections.add('gpu-node-01', 'offline');
    rejections.add('b.2_x-3', 'insufficient_vram');
    expect(rejections.toJSONText()).toBe(JSON.stringify({ 'gpu-node-01': 'offline', 'b.2_x-3': 'insufficient_vram' }));
    expect(JSON.parse(JSON.stringify({ rejections }))).toEqual({ rejections: rejections.toJSON() });
    expect(rejections.reasonOf('b.2_x-3')).toBe('insufficient_vram');
    expect(rejections.reasonOf('nowhere')).toBeUndefined();
    expect(new Rejections().toJSONText()).toBe('{}');
  });
});

/**
 * The placement rule, written as plainly as possible: every hive checked in
 * turn, every fit collected, the best picked by sorting. `place` must decide
 * exactly as this does, however its index gets there.
 */
function referencePlacement(req: PlacementRequest, fleet: FleetCapacity, exclude: ReadonlySet<string>): string | Record<string, RejectionReason> {
  const spread = req.strategy === 'spread';
  const gpu = req.vramBytes > 0 && req.backend !== 'cpu';
  const considered = [...fleet.hives()].filter((hive) => (req.hiveId === undefined || hive.hiveId === req.hiveId) && !exclude.has(hive.hiveId));
  const fits: { hiveId: string; device: string; freeAfter: number; position: number }[] = [];
  const rejections: Record<string, RejectionReason> = {};
  const reasonOf = (hive: HiveView): RejectionReason | null => {
    if (!isLive(hive, fleet.liveness, fleet.now)) return 'offline';
    if (hive.cordoned) return 'cordoned';
    if (hive.capabilities === null) return 'no_capabilities';
    if (Object.entries(req.labels ?? {}).some(([key, value]) => hive.labels[key] !== value)) return 'label_mismatch';
    return null;
  };
  for (const hive of considered) {
    const reason = reasonOf(hive);
    if (reason) {
      rejections[hive.hiveId] = reason;
      continue;
    }
    const { devices, ram } = hive.resources;
    let best: { device: string; freeAfter: number; position: number } | null = null;
    if (gpu) {
      devices.forEach((device, position) => {
        if ((req.backend !== undefined && device.backend !== req.backend) || device.freeBytes < req.vramBytes) return;
        const freeAfter = device.freeBytes - req.vramBytes;
        if (best === null || (spread ? freeAfter > best.freeAfter : freeAfter < best.freeAfter)) best = { device: device.device, freeAfter, position };
      });
      if (best === null) {
        rejections[hive.hiveId] = 'insufficient_vram';
        continue;
      }
    }
    if (ram.freeBytes < req.ramBytes) {
      rejections[hive.hiveId] = 'insufficient_ram';
      continue;
    }
    const chosen: { device: string; freeAfter: number; position: number } = best ?? { device: 'cpu', freeAfter: ram.freeBytes - req.ramBytes, position: -1 };
    fits.push({ hiveId: hive.hiveId, ...chosen });
  }
  if (fits.length === 0) return rejections;
  fits.sort((a, b) => (a.freeAfter !== b.freeAfter ? (spread ? b.freeAfter - a.freeAfter : a.freeAfter - b.freeAfter) : a.hiveId < b.hiveId ? -1 : a.hiveId > b.hiveId ? 1 : a.position - b.position));
  return `${fits[0].hiveId} ${fits[0].device}`;
}

describe('place against the reference rule', () => {
  const gib = (values: number[]) => fc.constantFrom(...values);
  const gpuArb = fc.record({ backend: fc.constantFrom<GpuBackend>('cuda', 'cuda', 'metal'), total: gib([8, 16, 24, 48]), usedEighths: fc.integer({ min: 0, max: 8 }) });
  const hiveArb = fc.record({
    gpus: fc.array(gpuArb, { maxLength: 4 }),
    ramGiB: gib([16, 64, 128]),
    ramUsedQuarters: fc.integer({ min: 0, max: 4 }),
    liveness: fc.constantFrom<HiveSpec['liveness']>('live', 'live', 'live', 'stale', 'swept', 'never'),
    cordoned: fc.constantFrom(false, false, false, true),
    capabilities: fc.constantFrom(true, true, true, true, false),
    zone: fc.constantFrom(undefined, 'a', 'b'),
  });
  const fleetArb = fc.uniqueArray(fc.tuple(fc.stringMatching(/^[a-z][a-z0-9-]{0,6}$/), hiveArb), { minLength: 0, maxLength: 25, selector: ([id]) => id });
  const requestArb = fc.record({
    vram: gib([0, 4, 8, 12, 16, 24, 40]),
    ram: gib([0, 2, 8, 32, 100]),
    backend: fc.constantFrom<PlacementRequest['backend']>(undefined, undefined, 'cuda', 'metal', 'cpu'),
    strategy: fc.constantFrom<PlacementRequest['strategy']>('binpack', 'spread'),
    zone: fc.constantFrom(undefined, undefined, 'a', 'b'),
    pin: fc.option(fc.nat(30), { nil: undefined }),
    excluded: fc.array(fc.nat(30), { maxLength: 4 }),
  });

  it('decides as the reference does, for fleets and requests of every kind (fixed seed)', () => {
    fc.assert(
      fc.property(fleetArb, requestArb, (hives, req) => {
        const ids = hives.map(([id]) => id);
        const fleet = fleetOf(
          Object.fromEntries(
            hives.map(([id, spec]): [string, HiveSpec] => [
              id,
              {
                gpus: spec.gpus.map((g, index): Gpu => [g.backend, index, g.total, (g.total * (8 - g.usedEighths)) / 8]),
                ramGiB: spec.ramGiB,
                ramFreeGiB: (spec.ramGiB * (4 - spec.ramUsedQuarters)) / 4,
                liveness: spec.liveness,
                cordoned: spec.cordoned,
                capabilities: spec.capabilities,
                labels: spec.zone ? { zone: spec.zone } : {},
              },
            ]),
          ),
        );
        const placementRequest = request({
          vramBytes: req.vram * GiB,
          ramBytes: req.ram * GiB,
          backend: req.backend,
          strategy: req.strategy,
          labels: req.zone ? { zone: req.zone } : undefined,
          hiveId: req.pin === undefined ? undefined : (ids[req.pin] ?? 'not-registered'),
        });
        const exclude = new Set(req.excluded.flatMap((i) => (ids[i] === undefined ? [] : [ids[i]])));
        expect(outcome(place(placementRequest, fleet, exclude))).toEqual(referencePlacement(placementRequest, fleet, exclude));
      }),
      { seed: 20261127, numRuns: 400 },
    );
  });
});
