import { PickType } from '@nestjs/swagger';
import { IsIn, IsInt, IsString, Matches, Max, Min } from 'class-validator';
import { PageQueryDto } from '../../platform/http/paging.dto';
import { IsLabelMap, OptionalNotNull } from '../../platform/http/validators';
import { PlacementRequestDto } from '../../scheduling/dto/placement.dto';

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
export const MAX_REPLICAS = 1000;

/** What to keep running: a placement request (what each worker needs, where it may go), a name and a count. */
export class CreateDeploymentDto extends PickType(PlacementRequestDto, ['model_id', 'vram_bytes', 'ram_bytes', 'backend', 'strategy', 'labels'] as const) {
  /** Same rules as a hive id. @example "chat-8b" */
  @IsString()
  @Matches(NAME, { message: 'name must be 1 to 63 characters of a-z 0-9 . _ -, starting with a letter or digit' })
  name: string;

  /** Workers to keep running. @example 2 */
  @IsInt()
  @Min(0)
  @Max(MAX_REPLICAS)
  replicas: number;

  /** At most this many of its workers on one hive; absent: no limit. @example 1 */
  @OptionalNotNull()
  @IsInt()
  @Min(1)
  @Max(MAX_REPLICAS)
  max_per_hive?: number;
}

export class PatchDeploymentDto {
  /** @example 3 */
  @OptionalNotNull()
  @IsInt()
  @Min(0)
  @Max(MAX_REPLICAS)
  replicas?: number;

  /** @example "binpack" */
  @OptionalNotNull()
  @IsIn(['binpack', 'spread'])
  strategy?: 'binpack' | 'spread';

  /** Replaces all labels. @example { "zone": "b" } */
  @OptionalNotNull()
  @IsLabelMap()
  labels?: Record<string, string>;

  /** @example 2 */
  @OptionalNotNull()
  @IsInt()
  @Min(1)
  @Max(MAX_REPLICAS)
  max_per_hive?: number;
}

/** `limit` and `offset`, by name. */
export class ListDeploymentsQueryDto extends PageQueryDto {}

export class DeploymentWorkerDto {
  /** @example "chat-8b-3f2a9c1d" */
  worker_id: string;
  /** @example "gpu-node-01" */
  hive_id: string;
  /** @example "cuda:0" */
  device: string;
  /** As its hive reports it; `starting` while only reserved; `lost` while its hive is away. @example "idle" */
  state: string;
}

export class DeploymentStatusDto {
  /** Workers reported idle, ready or busy by a live hive. @example 1 */
  ready: number;
  /** Reserved, starting or loading. @example 1 */
  starting: number;
  /** On hives that are away, not replaced yet. @example 0 */
  lost: number;
  /** Replicas that could not be placed at the last attempt. @example 0 */
  unplaced: number;
  /** Null when every replica is ready. @example "starting" */
  reason: 'no_capacity' | 'starting' | 'backoff' | 'held_fleet_outage' | null;
  workers: DeploymentWorkerDto[];
}

export class DeploymentDto {
  /** @example "chat-8b" */
  name: string;
  /** @example "llama-3-8b" */
  model_id: string;
  /** @example 2 */
  replicas: number;
  /** @example 8589934592 */
  vram_bytes: number;
  /** @example 2147483648 */
  ram_bytes: number;
  /** @example "cuda" */
  backend: 'cuda' | 'metal' | 'cpu' | null;
  /** @example "spread" */
  strategy: 'binpack' | 'spread';
  /** @example { "zone": "a" } */
  labels: Record<string, string>;
  /** @example 1 */
  max_per_hive: number | null;
  /** @example "2026-11-27T09:00:00.000Z" */
  created_at: string;
  /** @example "2026-11-27T09:00:00.000Z" */
  updated_at: string;
  status: DeploymentStatusDto;
}

export class DeploymentListDto {
  items: DeploymentDto[];
  /** @example 1 */
  total: number;
}
