import { CapacityDto, DeviceCapacityDto, WorkerDto } from '../../registry/dto/live-state.dto';

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

export class ActiveHivesDto {
  /** @example ["gpu-node-01"] */
  items: string[];
  /** @example 1 */
  total: number;
}
