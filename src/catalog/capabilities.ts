import type { HiveCapabilities } from './catalog.types';

/**
 * Whether two capability reports are identical, as the catalog stores them: GPU names and
 * core counts count too, unlike the registry's `offerSameCapacity`, which compares sizes only.
 */
export function sameCapabilities(a: HiveCapabilities | null, b: HiveCapabilities | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.cpuCores !== b.cpuCores || a.ramBytes !== b.ramBytes || a.gpus.length !== b.gpus.length) return false;
  return a.gpus.every((gpu, i) => {
    const other = b.gpus[i];
    return gpu.index === other.index && gpu.name === other.name && gpu.vramBytes === other.vramBytes && gpu.backend === other.backend;
  });
}
