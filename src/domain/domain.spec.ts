import { HiveCapabilities, HiveStatus, sameCapabilities } from './fleet';
import { isLive, LivenessRule, liveStatus } from './liveness';
import { isRfc3339 } from './time';

const GiB = 2 ** 30;

describe('liveStatus', () => {
  const rule: LivenessRule = { heartbeatTimeoutMs: 15_000, startedAt: 1_000_000 };
  const at = (offsetMs: number) => rule.startedAt + offsetMs;

  it.each<[string, number | null, HiveStatus, number, HiveStatus]>([
    ['heard just now', at(5000), 'unknown', at(5000), 'online'],
    ['heard exactly one timeout ago', at(5000), 'offline', at(20_000), 'online'],
    ['heard one timeout and 1 ms ago', at(5000), 'online', at(20_001), 'offline'],
    ['heard long ago, whatever was stored', at(0), 'online', at(3_600_000), 'offline'],
    ['not heard since the start, stored online, inside the grace', null, 'online', at(15_000), 'unknown'],
    ['not heard since the start, stored online, after the grace', null, 'online', at(15_001), 'offline'],
    ['not heard since the start, stored offline', null, 'offline', at(0), 'offline'],
    ['never heard from at all', null, 'unknown', at(3_600_000), 'unknown'],
  ])('%s → %s', (_name, lastHeartbeatAt, statusAtStart, now, expected) => {
    expect(liveStatus({ lastHeartbeatAt, statusAtStart }, rule, now)).toBe(expected);
    expect(isLive({ lastHeartbeatAt, statusAtStart }, rule, now)).toBe(expected === 'online');
  });
});

describe('sameCapabilities', () => {
  const hive = (ramGiB: number, gpuGiB: number[], name = 'RTX 4090'): HiveCapabilities => ({
    cpuCores: 16,
    ramBytes: ramGiB * GiB,
    gpus: gpuGiB.map((vram, index) => ({ index, name, vramBytes: vram * GiB, backend: 'cuda' })),
  });

  it.each<[string, boolean, HiveCapabilities | null, HiveCapabilities | null]>([
    ['both unknown', true, null, null],
    ['one unknown', false, null, hive(64, [24])],
    ['identical', true, hive(64, [24]), hive(64, [24])],
    ['other core count', false, hive(64, [24]), { ...hive(64, [24]), cpuCores: 64 }],
    ['other GPU name', false, hive(64, [24]), hive(64, [24], 'L4')],
    ['more RAM', false, hive(64, [24]), hive(128, [24])],
    ['another GPU', false, hive(64, [24]), hive(64, [24, 24])],
    ['bigger GPU', false, hive(64, [24]), hive(64, [48])],
  ])('%s → %s', (_name, same, a, b) => {
    expect(sameCapabilities(a, b)).toBe(same);
  });
});

describe('isRfc3339', () => {
  it.each([
    ['2026-11-27T10:00:00Z', true],
    ['2026-11-27t10:00:00z', true],
    ['2026-11-27 10:00:00Z', true],
    ['2026-11-27T10:00:00.123456+05:30', true],
    ['2024-02-29T23:59:60-12:00', true],
    ['2026-W48-5', false],
    ['20261127T100000Z', false],
    ['2026-11-27T10:00:00', false],
    ['2026-02-29T10:00:00Z', false],
    ['2026-04-31T10:00:00Z', false],
    ['2026-13-01T10:00:00Z', false],
    ['2026-11-27T24:00:00Z', false],
    ['2026-11-27T10:60:00Z', false],
    ['2026-11-27T10:00:00+24:00', false],
    ['+002026-11-27T10:00:00Z', false],
    [`2026-11-27T10:00:00.${'1'.repeat(60)}Z`, false],
    ['', false],
  ])('%s → %s', (text, valid) => {
    expect(isRfc3339(text)).toBe(valid);
  });
});
