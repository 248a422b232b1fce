import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsInt,
  IsISO8601,
  IsNumber,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateNested,
} from 'class-validator';
import { GPU_BACKENDS, WORKER_STATES } from '../../../src/domain/fleet';

/**
 * The heartbeat body as class-validator DTOs, validated by Nest's standard pipe: the
 * baseline the queen's compiled schema (src/heartbeat/dto/heartbeat.schema.ts) is
 * measured against. Same rules, the generic way.
 */
const MAX_WORKERS_PER_HEARTBEAT = 1024;

const lowerCase = () => Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.toLowerCase() : value));

export class HeartbeatGpuDto {
  /** @example 0 */
  @IsInt()
  @Min(0)
  @Max(255)
  index: number;

  /** @example "RTX 4090" */
  @IsString()
  @MaxLength(128)
  name: string;

  /** @example 25769803776 */
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  vram_bytes: number;

  /** @example "cuda" */
  @lowerCase()
  @IsIn([...GPU_BACKENDS])
  backend: 'cuda' | 'metal';
}

export class HeartbeatCapabilitiesDto {
  /** @example 32 */
  @IsInt()
  @Min(0)
  @Max(65536)
  cpu_cores: number;

  /** @example 137438953472 */
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  ram_bytes: number;

  @IsArray()
  @ArrayMaxSize(64)
  @ValidateNested({ each: true })
  @Type(() => HeartbeatGpuDto)
  gpus: HeartbeatGpuDto[];
}

/** One worker as rbee's hive reports it. Absent and null optional fields mean "not known". */
export class HeartbeatWorkerDto {
  /** @example "w-1" */
  @IsString()
  @MinLength(1)
  @MaxLength(128)
  worker_id: string;

  /**
   * Case-insensitive: starting, loading, idle, ready, busy, stopping, stopped, failed.
   * @example "Idle"
   */
  @lowerCase()
  @IsIn([...WORKER_STATES], { message: `state must be one of ${WORKER_STATES.join(', ')}` })
  state: string;

  /** @example "2026-11-27T09:59:58Z" */
  @IsOptional()
  @IsISO8601({ strict: true })
  last_heartbeat?: string | null;

  /** @example "healthy" */
  @IsOptional()
  @IsString()
  @MaxLength(64)
  health_status?: string | null;

  /** @example "http://10.0.0.5:9001" */
  @IsOptional()
  @IsString()
  @MaxLength(2048)
  url?: string | null;

  /** @example "llama-3-8b" */
  @IsOptional()
  @IsString()
  @MaxLength(256)
  model_id?: string | null;

  /** `cuda` or `metal` put the worker on GPU `device_id`; `cpu` or absent mean host RAM only. @example "cuda" */
  @IsOptional()
  @lowerCase()
  @IsIn(['cuda', 'metal', 'cpu'])
  backend?: string | null;

  /** @example 0 */
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(255)
  device_id?: number | null;

  /** @example 8589934592 */
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  vram_bytes?: number | null;

  /** @example 2147483648 */
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  ram_bytes?: number | null;

  /** @example 3.5 */
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  cpu_percent?: number | null;

  /** @example 0 */
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(100)
  gpu_percent?: number | null;
}

/** rbee's `HiveHeartbeatPayload`, plus the queen's optional `sequence` and `capabilities`. Unknown fields are ignored. */
export class HeartbeatDto {
  /** @example "gpu-node-01" */
  @IsString()
  @Matches(/^[a-z0-9][a-z0-9._-]{0,62}$/, { message: 'hive_id must be a registered hive id' })
  hive_id: string;

  /**
   * The hive's clock; orders heartbeats only when either side lacks `sequence`.
   * @example "2026-11-27T10:00:00Z"
   */
  @IsISO8601({ strict: true })
  timestamp: string;

  /**
   * Increases with every heartbeat; when present it orders heartbeats, whatever the hive's clock says.
   * @example 42
   */
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  sequence?: number | null;

  @IsOptional()
  @ValidateNested()
  @Type(() => HeartbeatCapabilitiesDto)
  capabilities?: HeartbeatCapabilitiesDto | null;

  @IsArray()
  @ArrayMaxSize(MAX_WORKERS_PER_HEARTBEAT)
  @ValidateNested({ each: true })
  @Type(() => HeartbeatWorkerDto)
  workers: HeartbeatWorkerDto[];
}
