import { IsOptional, IsString, MaxLength, MinLength } from 'class-validator';
import type { AvailableResources, CapacityUsage, WorkerReport } from '../../registry/registry.types';

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
  /** The deployment the queen started it for; null for a worker started on its own. @example "chat-8b" */
  deployment?: string | null;
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

export class ListWorkersQueryDto {
  /** @example "gpu-node-01" */
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(63)
  hive_id?: string;

  /** @example "llama-3-8b" */
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(256)
  model_id?: string;
}

export class WorkerListDto {
  items: WorkerDto[];
  /** @example 1 */
  total: number;
}

export class HiveStateDto {
  /** @example "gpu-node-01" */
  hive_id: string;
  /** Heard from within HEARTBEAT_TIMEOUT_MS, on the queen's clock. @example true */
  online: boolean;
  /** Queen receive time of the last applied heartbeat; null when none since the queen started. @example "2026-11-27T10:00:00.000Z" */
  last_heartbeat_at: string | null;
  workers: WorkerDto[];
  devices: DeviceCapacityDto[];
  ram: CapacityDto;
}

export class VramTotalsDto {
  /** @example 206158430208 */
  total_bytes: number;
  /** @example 8589934592 */
  used_bytes: number;
  /** @example 0 */
  reserved_bytes: number;
}

export class FleetSummaryDto {
  /** Registered hives by status. @example { "unknown": 0, "online": 9, "offline": 1 } */
  hives: Record<string, number>;
  /** Reported workers by state. @example { "idle": 12, "loading": 1 } */
  workers: Record<string, number>;
  /** GPU memory of online hives. */
  vram: VramTotalsDto;
  /** Reservations held for workers being started. @example 1 */
  reservations: number;
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
