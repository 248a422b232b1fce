import { gpuDeviceKey, GpuBackend, HiveCapabilities, WorkerBackend, WorkerState } from '../domain/fleet';
import type { WorkerReport } from '../registry/registry.types';
import type { HeartbeatCapabilities, HeartbeatWorker } from './dto/heartbeat.schema';

/** A validated heartbeat worker, in the registry's terms. */
export function toWorkerReport(worker: HeartbeatWorker): WorkerReport {
  const backend = (worker.backend ?? 'cpu') as WorkerBackend;
  const onGpu = backend !== 'cpu';
  // A GPU worker that leaves out device_id runs on the hive's only (first) GPU.
  const deviceId = onGpu ? (worker.device_id ?? 0) : null;
  return {
    workerId: worker.worker_id,
    modelId: worker.model_id ?? null,
    state: worker.state as WorkerState,
    backend,
    deviceId,
    device: onGpu ? gpuDeviceKey(backend as GpuBackend, deviceId!) : 'cpu',
    vramBytes: onGpu ? (worker.vram_bytes ?? 0) : 0,
    ramBytes: worker.ram_bytes ?? 0,
    url: worker.url ?? null,
    healthStatus: worker.health_status ?? null,
    lastHeartbeat: worker.last_heartbeat ?? null,
    cpuPercent: worker.cpu_percent ?? null,
    gpuPercent: worker.gpu_percent ?? null,
  };
}

export function toCapabilities(dto: HeartbeatCapabilities): HiveCapabilities {
  return {
    cpuCores: dto.cpu_cores,
    ramBytes: dto.ram_bytes,
    gpus: dto.gpus
      .map((gpu) => ({ index: gpu.index, name: gpu.name, vramBytes: gpu.vram_bytes, backend: gpu.backend }))
      .sort((a, b) => (a.backend === b.backend ? a.index - b.index : a.backend < b.backend ? -1 : 1)),
  };
}

/** The index of the first worker whose id repeats an earlier one, or -1. */
export function firstDuplicateWorker(workers: HeartbeatWorker[]): number {
  const seen = new Set<string>();
  for (let i = 0; i < workers.length; i++) {
    if (seen.has(workers[i].worker_id)) return i;
    seen.add(workers[i].worker_id);
  }
  return -1;
}
