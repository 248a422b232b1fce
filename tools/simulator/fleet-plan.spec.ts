import { gpuName, planFleet } from './fleet-plan';
import { GIB } from './hive-model';

const BASE = { hives: 6, gpusPerHive: 2, vramMixGb: [24, 48, 80], hiveIdPrefix: 'sim-', slowRate: 0 };

describe('planFleet', () => {
  it('spreads the VRAM mix over the hives, the same card on every GPU of a hive', () => {
    const plan = planFleet(BASE);

    expect(plan.map((hive) => hive.id)).toEqual(['sim-1', 'sim-2', 'sim-3', 'sim-4', 'sim-5', 'sim-6']);
    expect(plan.map((hive) => hive.gpus[0].vramBytes / GIB)).toEqual([24, 48, 80, 24, 48, 80]);
    expect(plan[2].gpus).toEqual([
      { name: 'H100 80GB', vramBytes: 80 * GIB },
      { name: 'H100 80GB', vramBytes: 80 * GIB },
    ]);
    expect(plan[0]).toMatchObject({ cpuCores: 32, ramBytes: 128 * GIB, responseDelayMs: 0 });
  });

  it('makes exactly the slow fraction of hives slow', () => {
    const plan = planFleet({ ...BASE, hives: 100, slowRate: 0.25 });

    const slow = plan.filter((hive) => hive.responseDelayMs > 0);
    expect(slow).toHaveLength(25);
    expect(slow.every((hive) => hive.responseDelayMs >= 2000 && hive.responseDelayMs <= 8000)).toBe(true);
  });

  it('plans CPU-only hives with no GPUs', () => {
    const [hive] = planFleet({ ...BASE, hives: 1, gpusPerHive: 0 });

    expect(hive).toMatchObject({ gpus: [], cpuCores: 16, ramBytes: 64 * GIB });
  });
});

describe('gpuName', () => {
  it('names common sizes after real cards and others generically', () => {
    expect([gpuName(24), gpuName(40), gpuName(33)]).toEqual(['RTX 4090', 'A100 40GB', 'Simulated GPU 33GB']);
  });
});
