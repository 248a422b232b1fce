import type { AvailableResources, CapacityUsage, WorkerReport } from '../registry.types';

export class WorkerDto {
  /** @example "w-1" */
  worker_id: string;
  /** @example "gpu-node-01" */
  hive_id: string;
  /** @example "llama-3-8b" */
  model_id: string | null;
  /** Lower case: starting, loading, idle, ready, busy, stopping, stopped, failed. @example "idle" */
  state: string;
  /** @example "cuda" */
  backend: string;
  /** @example 0 */
  device_id: number | null;
  /** @example "cuda:0" */
  device: string;
  /** @example 8589934592 */
  vram_bytes: number;
  /** @example 2147483648 */
  ram_bytes: number;
  /** @example "http://10.0.0.5:9001" */
  url: string | null;
  /** @example "healthy" */
  health_status: string | null;
  /** The worker's last heartbeat on the hive's clock, as the hive sent it. @example "2026-11-27T09:59:58Z" */
  last_heartbeat: string | null;
  /** @example 3.5 */
  cpu_percent: number | null;
  /** @example 0 */
  gpu_percent: number | null;
  /** Set while the worker is only a reservation the hive has not reported yet. @example null */
  reservation_id?: string | null;
}

export class CapacityDto {
  /** @example 25769803776 */
  total_bytes: number;
  /** @example 8589934592 */
  used_bytes: number;
  /** @example 0 */
  reserved_bytes: number;
  /** @example 17179869184 */
  free_bytes: number;
}

export class DeviceCapacityDto extends CapacityDto {
  /** @example "cuda:0" */
  device: string;
}

export function toWorkerDto(hiveId: string, worker: WorkerReport): WorkerDto {
  return {
    worker_id: worker.workerId,
    hive_id: hiveId,
    model_id: worker.modelId,
    state: worker.state,
    backend: worker.backend,
    device_id: worker.deviceId,
    device: worker.device,
    vram_bytes: worker.vramBytes,
    ram_bytes: worker.ramBytes,
    url: worker.url,
    health_status: worker.healthStatus,
    last_heartbeat: worker.lastHeartbeat,
    cpu_percent: worker.cpuPercent,
    gpu_percent: worker.gpuPercent,
  };
}

export function toCapacityDto(usage: CapacityUsage): CapacityDto {
  return {
    total_bytes: usage.totalBytes,
    used_bytes: usage.usedBytes,
    reserved_bytes: usage.reservedBytes,
    free_bytes: usage.freeBytes,
  };
}

export function toDeviceDtos(resources: AvailableResources): DeviceCapacityDto[] {
  return resources.devices.map((device) => ({ device: device.device, ...toCapacityDto(device) }));
}
