import { AvailableResources, DeviceUsage, GpuBackend } from '../registry/registry.types';
import {
  choosePlacement,
  PlacementCandidate,
  PlacementRequest,
  PlacementResult,
  rankPlacements,
  RejectionReason,
} from './placement';

const GiB = 2 ** 30;

/** A GPU as [backend, index, total GiB, free GiB]. */
type Gpu = [GpuBackend, number, number, number];

/** Usage as `computeResources` lays it out: devices sorted by backend then index, free bytes packed alongside. */
function resources(gpus: Gpu[], ramTotalGiB: number, ramFreeGiB: number): AvailableResources {
  const sorted = [...gpus].sort(([backendA, indexA], [backendB, indexB]) =>
    backendA === backendB ? indexA - indexB : backendA < backendB ? -1 : 1,
  );
  const devices = sorted.map(
    ([backend, index, total, free]): DeviceUsage => ({
      device: `${backend}:${index}`,
      backend,
      deviceId: index,
      totalBytes: total * GiB,
      usedBytes: (total - free) * GiB,
      reservedBytes: 0,
      freeBytes: free * GiB,
    }),
  );
  const ram = {
    totalBytes: ramTotalGiB * GiB,
    usedBytes: (ramTotalGiB - ramFreeGiB) * GiB,
    reservedBytes: 0,
    freeBytes: ramFreeGiB * GiB,
  };
  return { devices, deviceFreeBytes: Float64Array.from(devices, (device) => device.freeBytes), ram };
}

/** A schedulable hive (online, uncordoned, known capabilities, 64 GiB RAM free) unless overridden. */
function hive(hiveId: string, gpus: Gpu[], overrides: Partial<PlacementCandidate> = {}): PlacementCandidate {
  return {
    hiveId,
    online: true,
    cordoned: false,
    labels: {},
    hasCapabilities: true,
    resources: resources(gpus, 64, 64),
    ...overrides,
  };
}

function request(overrides: Partial<PlacementRequest> = {}): PlacementRequest {
  return { modelId: 'llama-3-8b', vramBytes: 8 * GiB, ramBytes: 2 * GiB, ...overrides };
}

/** `hiveId device` of the chosen placement, or the rejections: what a test asserts on. */
function outcome(result: PlacementResult): string | Record<string, RejectionReason> {
  return result.ok ? `${result.placement.hiveId} ${result.placement.device}` : result.rejections;
}

describe('choosePlacement', () => {
  describe('fit', () => {
    it.each<[string, Partial<PlacementRequest>, PlacementCandidate[], string | Record<string, RejectionReason>]>([
      [
        'one GPU with enough free VRAM',
        { vramBytes: 12 * GiB },
        [hive('a', [['cuda', 0, 24, 12], ['cuda', 1, 24, 12]])],
        'a cuda:0',
      ],
      [
        'only the sum of two GPUs would fit: refused',
        { vramBytes: 20 * GiB },
        [hive('a', [['cuda', 0, 24, 12], ['cuda', 1, 24, 12]])],
        { a: 'insufficient_vram' },
      ],
      [
        'the one GPU that fits, not the first one',
        { vramBytes: 20 * GiB },
        [hive('a', [['cuda', 0, 24, 12], ['cuda', 1, 24, 22]])],
        'a cuda:1',
      ],
      ['exactly the free VRAM fits', { vramBytes: 12 * GiB }, [hive('a', [['cuda', 0, 24, 12]])], 'a cuda:0'],
      ['a hive without GPUs for a GPU model', {}, [hive('a', [])], { a: 'insufficient_vram' }],
      [
        'VRAM fits, host RAM does not',
        { ramBytes: 65 * GiB },
        [hive('a', [['cuda', 0, 24, 24]])],
        { a: 'insufficient_ram' },
      ],
    ])('%s', (_name, overrides, candidates, expected) => {
      expect(outcome(choosePlacement(request(overrides), candidates))).toEqual(expected);
    });
  });

  describe('strategy', () => {
    const fleet = [
      hive('roomy', [['cuda', 0, 24, 20]]),
      hive('tight', [['cuda', 0, 24, 10], ['cuda', 1, 24, 9]]),
      hive('full', [['cuda', 0, 24, 4]]),
    ];

    it.each<[PlacementRequest['strategy'], string, number]>([
      [undefined, 'tight cuda:1', 1 - 1 / 24],
      ['binpack', 'tight cuda:1', 1 - 1 / 24],
      ['spread', 'roomy cuda:0', 12 / 24],
    ])('%s → %s', (strategy, expected, score) => {
      const result = choosePlacement(request({ strategy }), fleet);
      expect(outcome(result)).toBe(expected);
      expect(result.ok && result.placement.score).toBeCloseTo(score, 10);
    });

    it.each<[PlacementRequest['strategy'], string]>([
      ['binpack', 'tight cuda:0'],
      ['spread', 'roomy cuda:0'],
    ])('%s breaks ties by hive id, then device index', (strategy, expected) => {
      const twins = [
        hive('zz-tight', [['cuda', 0, 24, 10]]),
        hive('tight', [['cuda', 1, 24, 10], ['cuda', 0, 24, 10]]),
        hive('roomy', [['cuda', 1, 24, 20], ['cuda', 0, 24, 20]]),
        hive('zz-roomy', [['cuda', 0, 24, 20]]),
      ];
      expect(outcome(choosePlacement(request({ strategy }), twins))).toBe(expected);
    });
  });

  describe('backends', () => {
    const mixed = [
      hive('apple', [['metal', 0, 64, 40]]),
      hive('nvidia', [['cuda', 0, 24, 20]]),
      hive('both', [['cuda', 0, 24, 10], ['metal', 0, 32, 12]]),
    ];

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
      expect(outcome(choosePlacement(request(overrides), mixed))).toEqual(expected);
    });
  });

  describe('CPU workers', () => {
    const fleet = [
      { ...hive('gpu-box', [['cuda', 0, 24, 0]]), resources: resources([['cuda', 0, 24, 0]], 128, 100) },
      { ...hive('cpu-box', []), resources: resources([], 64, 40) },
    ];

    it.each<[string, Partial<PlacementRequest>, string | Record<string, RejectionReason>]>([
      ['vram 0 needs RAM only (binpack: least RAM left)', { vramBytes: 0, ramBytes: 16 * GiB }, 'cpu-box cpu'],
      ['spread: most RAM left', { vramBytes: 0, ramBytes: 16 * GiB, strategy: 'spread' }, 'gpu-box cpu'],
      ['backend cpu ignores VRAM', { backend: 'cpu', vramBytes: 80 * GiB, ramBytes: 16 * GiB }, 'cpu-box cpu'],
      [
        'not enough RAM anywhere',
        { vramBytes: 0, ramBytes: 101 * GiB },
        { 'gpu-box': 'insufficient_ram', 'cpu-box': 'insufficient_ram' },
      ],
    ])('%s', (_name, overrides, expected) => {
      expect(outcome(choosePlacement(request(overrides), fleet))).toEqual(expected);
    });

    it('reports backend cpu, no device id, and a RAM-based score', () => {
      expect(choosePlacement(request({ vramBytes: 0, ramBytes: 24 * GiB }), fleet)).toEqual({
        ok: true,
        placement: { hiveId: 'cpu-box', device: 'cpu', backend: 'cpu', deviceId: null, score: 1 - 16 / 64 },
      });
    });
  });

  describe('rejections', () => {
    const gpu: Gpu[] = [['cuda', 0, 24, 24]];

    it('names the first failing check of every hive', () => {
      const fleet = [
        hive('offline', gpu, { online: false, cordoned: true, hasCapabilities: false }),
        hive('cordoned', gpu, { cordoned: true, hasCapabilities: false }),
        hive('no-caps', gpu, { hasCapabilities: false, labels: { zone: 'b' } }),
        hive('wrong-zone', [['cuda', 0, 24, 0]], { labels: { zone: 'b', tier: 'gold' } }),
        hive('no-zone', gpu, { labels: { tier: 'gold' } }),
        // No RAM free either: VRAM is checked first.
        hive('no-vram', [], { labels: { zone: 'a', tier: 'gold' }, resources: resources([['cuda', 0, 24, 4]], 64, 0) }),
        hive('no-ram', gpu, { labels: { zone: 'a', tier: 'gold' }, resources: resources(gpu, 64, 1) }),
      ];

      expect(choosePlacement(request({ labels: { zone: 'a', tier: 'gold' } }), fleet)).toEqual({
        ok: false,
        rejections: {
          offline: 'offline',
          cordoned: 'cordoned',
          'no-caps': 'no_capabilities',
          'wrong-zone': 'label_mismatch',
          'no-zone': 'label_mismatch',
          'no-vram': 'insufficient_vram',
          'no-ram': 'insufficient_ram',
        },
      });
    });

    it('places on the hive whose labels all match, whatever its other labels', () => {
      const fleet = [
        hive('a', gpu, { labels: { zone: 'a' } }),
        hive('b', gpu, { labels: { zone: 'b', tier: 'gold', extra: 'x' } }),
      ];
      expect(outcome(choosePlacement(request({ labels: { zone: 'b', tier: 'gold' } }), fleet))).toBe('b cuda:0');
    });

    it('a pin to a full hive is refused even though another hive has room', () => {
      const fleet = [hive('full', [['cuda', 0, 24, 2]]), hive('empty', gpu)];
      expect(outcome(choosePlacement(request({ hiveId: 'full' }), fleet))).toEqual({ full: 'insufficient_vram' });
      expect(outcome(choosePlacement(request({ hiveId: 'empty' }), fleet))).toBe('empty cuda:0');
    });

    it('a pin to a hive that is not a candidate has no rejections', () => {
      expect(choosePlacement(request({ hiveId: 'nowhere' }), [hive('a', gpu)])).toEqual({ ok: false, rejections: {} });
    });
  });
});

describe('rankPlacements', () => {
  const fleet = [
    hive('c', [['cuda', 0, 24, 14]]),
    hive('a', [['cuda', 0, 24, 20], ['cuda', 1, 24, 10]]),
    hive('e', [['cuda', 0, 24, 4]]),
    hive('b', [['cuda', 0, 24, 12]]),
    hive('d', [['cuda', 0, 24, 12]]),
  ];

  it.each<[PlacementRequest['strategy'], number, string[]]>([
    ['binpack', 3, ['a cuda:1', 'b cuda:0', 'd cuda:0']],
    ['binpack', 10, ['a cuda:1', 'b cuda:0', 'd cuda:0', 'c cuda:0']],
    ['spread', 2, ['a cuda:0', 'c cuda:0']],
    ['spread', 1, ['a cuda:0']],
  ])('%s, limit %s → distinct hives, best first', (strategy, limit, expected) => {
    const ranked = rankPlacements(request({ strategy }), fleet, limit);
    expect(ranked.ok && ranked.placements.map((p) => `${p.hiveId} ${p.device}`)).toEqual(expected);
  });

  it('reads each candidate only while iterating, so the scheduler may reuse one object', () => {
    const reused = hive('', []);
    function* candidates(): Generator<PlacementCandidate> {
      for (const { hiveId, resources: usage } of fleet) {
        reused.hiveId = hiveId;
        reused.resources = usage;
        yield reused;
      }
    }
    const ranked = rankPlacements(request(), candidates(), 2);
    expect(ranked.ok && ranked.placements.map((p) => `${p.hiveId} ${p.device}`)).toEqual(['a cuda:1', 'b cuda:0']);
  });

  it.each([0, -1, 1.5])('refuses limit %s', (limit) => {
    expect(() => rankPlacements(request(), fleet, limit)).toThrow(RangeError);
  });
});
