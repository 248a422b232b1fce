/**
 * What the simulated fleet looks like: which hive has which GPUs, how much host
 * memory, and which hives answer slowly. Pure, so it is tested without servers.
 */
import { GIB, GpuSpec } from './hive-model';
import { hiveId, SimulatorConfig } from './simulator-args';

export interface PlannedHive {
  id: string;
  gpus: GpuSpec[];
  cpuCores: number;
  ramBytes: number;
  /** Delay added to every hive API answer; 0 for a normal hive. */
  responseDelayMs: number;
}

/** Real cards for the usual sizes, so the dashboard shows names people recognise. */
const GPU_NAMES_BY_VRAM_GB: Readonly<Record<number, string>> = {
  12: 'RTX 3060',
  16: 'RTX 4080',
  24: 'RTX 4090',
  40: 'A100 40GB',
  48: 'L40S',
  80: 'H100 80GB',
};

/** A slow hive answers within this range: past a typical client timeout at the top end. */
const SLOW_RESPONSE_MIN_MS = 2000;
const SLOW_RESPONSE_MAX_MS = 8000;

const CPU_CORES_PER_GPU = 16;
const RAM_BYTES_PER_GPU = 64 * GIB;

export function gpuName(vramGb: number): string {
  return GPU_NAMES_BY_VRAM_GB[vramGb] ?? `Simulated GPU ${vramGb}GB`;
}

export function planFleet(
  config: Pick<SimulatorConfig, 'hives' | 'gpusPerHive' | 'vramMixGb' | 'hiveIdPrefix' | 'slowRate'>,
  random: () => number = Math.random,
): PlannedHive[] {
  const slowHives = pickIndexes(config.hives, Math.round(config.slowRate * config.hives), random);
  return Array.from({ length: config.hives }, (_, index) => {
    const vramGb = config.vramMixGb[index % config.vramMixGb.length];
    // Machines are sized around their GPUs; a CPU-only hive still gets one GPU's worth.
    const sizeFactor = Math.max(1, config.gpusPerHive);
    return {
      id: hiveId(config.hiveIdPrefix, index, config.hives),
      gpus: Array.from({ length: config.gpusPerHive }, () => ({
        name: gpuName(vramGb),
        vramBytes: Math.round(vramGb * GIB),
      })),
      cpuCores: CPU_CORES_PER_GPU * sizeFactor,
      ramBytes: RAM_BYTES_PER_GPU * sizeFactor,
      responseDelayMs: slowHives.has(index)
        ? Math.round(SLOW_RESPONSE_MIN_MS + random() * (SLOW_RESPONSE_MAX_MS - SLOW_RESPONSE_MIN_MS))
        : 0,
    };
  });
}

/** `count` distinct indexes out of `0..total-1` (partial Fisher–Yates shuffle). */
function pickIndexes(total: number, count: number, random: () => number): Set<number> {
  const indexes = Array.from({ length: total }, (_, index) => index);
  for (let i = 0; i < count; i += 1) {
    const j = i + Math.floor(random() * (total - i));
    [indexes[i], indexes[j]] = [indexes[j], indexes[i]];
  }
  return new Set(indexes.slice(0, count));
}
