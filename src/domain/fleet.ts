/**
 * Facts about the fleet that several modules share: the catalog stores them,
 * the registry computes with them, routes show them. Plain data, no imports.
 * Sizes are integer bytes; times are epoch milliseconds on the queen's clock.
 */

export const GPU_BACKENDS = ['cuda', 'metal'] as const;
export type GpuBackend = (typeof GPU_BACKENDS)[number];
export type WorkerBackend = GpuBackend | 'cpu';

export const WORKER_STATES = ['starting', 'loading', 'idle', 'ready', 'busy', 'stopping', 'stopped', 'failed'] as const;
export type WorkerState = (typeof WORKER_STATES)[number];

/**
 * `unknown`: not heard from since the queen started (and not yet silent for a
 * whole timeout since then); `online`: an applied heartbeat within the timeout;
 * `offline`: silent for longer.
 */
export const HIVE_STATUSES = ['unknown', 'online', 'offline'] as const;
export type HiveStatus = (typeof HIVE_STATUSES)[number];

export interface GpuCapability {
  index: number;
  name: string;
  vramBytes: number;
  backend: GpuBackend;
}

/** What a hive offers. GPUs sorted by backend, then index. */
export interface HiveCapabilities {
  cpuCores: number;
  ramBytes: number;
  gpus: GpuCapability[];
}

const DEVICE_KEYS: Record<GpuBackend, string[]> = { cuda: [], metal: [] };

/**
 * Device key as used on the wire and in usage: `cuda:0`, `metal:1`. One string
 * per device for the process's life: a fleet's workers and devices hold
 * hundreds of thousands of references to a handful of keys.
 */
export function gpuDeviceKey(backend: GpuBackend, index: number): string {
  const keys = DEVICE_KEYS[backend];
  return keys[index] ?? (index < 1024 ? (keys[index] = `${backend}:${index}`) : `${backend}:${index}`);
}

/** Backend, then index: the order devices are listed in, and placement's tie-break within a hive. */
export function compareGpus(a: { backend: GpuBackend; index: number }, b: { backend: GpuBackend; index: number }): number {
  if (a.backend !== b.backend) return a.backend < b.backend ? -1 : 1;
  return a.index - b.index;
}

/**
 * Whether two capability reports are identical, GPU names and core counts
 * included: any difference is a change to store and announce.
 */
export function sameCapabilities(a: HiveCapabilities | null, b: HiveCapabilities | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.cpuCores !== b.cpuCores || a.ramBytes !== b.ramBytes || a.gpus.length !== b.gpus.length) return false;
  return a.gpus.every((gpu, i) => {
    const other = b.gpus[i];
    return gpu.index === other.index && gpu.name === other.name && gpu.vramBytes === other.vramBytes && gpu.backend === other.backend;
  });
}
