import { IsIn, IsOptional } from 'class-validator';
import { HIVE_STATUSES, HiveStatus } from '../../domain/fleet';
import { PageQueryDto } from '../../platform/http/paging.dto';

export class ListHivesQueryDto extends PageQueryDto {
  /**
   * Only hives with this status.
   * @example "online"
   */
  @IsOptional()
  @IsIn([...HIVE_STATUSES])
  status?: HiveStatus;
}

export class HiveSshDto {
  /** @example "rbee" */
  user: string | null;
  /** @example 22 */
  port: number | null;
  /**
   * Whether a key or password is stored; the secret itself is never returned.
   * @example true
   */
  credentials_set: boolean;
}

export class GpuDto {
  /** @example 0 */
  index: number;
  /** @example "RTX 4090" */
  name: string;
  /** @example 25769803776 */
  vram_bytes: number;
  /** @example "cuda" */
  backend: 'cuda' | 'metal';
}

export class CapabilitiesDto {
  /** @example 32 */
  cpu_cores: number;
  /** @example 137438953472 */
  ram_bytes: number;
  gpus: GpuDto[];
}

export class HiveDto {
  /** @example "gpu-node-01" */
  id: string;
  /** @example "10.0.0.5" */
  host: string;
  /** @example 7835 */
  port: number;
  /** SSH settings without the secret; null when none are stored. */
  ssh: HiveSshDto | null;
  /** @example { "zone": "a" } */
  labels: Record<string, string>;
  /** @example false */
  cordoned: boolean;
  /** @example "online" */
  status: HiveStatus;
  /** @example "2026-11-27T10:00:00.000Z" */
  last_heartbeat_at: string | null;
  /** Devices reported by the hive or detected by the queen; null until known. */
  capabilities: CapabilitiesDto | null;
  /** @example "2026-11-27T09:00:00.000Z" */
  created_at: string;
  /** @example "2026-11-27T09:00:00.000Z" */
  updated_at: string;
}

export class HiveListDto {
  items: HiveDto[];
  /** @example 1 */
  total: number;
}
