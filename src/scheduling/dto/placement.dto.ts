import { IsIn, IsInt, IsString, Matches, Max, MaxLength, Min, MinLength } from 'class-validator';
import { IsLabelMap, OptionalNotNull } from '../../platform/http/validators';
import { ProblemDto } from '../../platform/http/problem.dto';
import type { RejectionReason } from '../placement';

/**
 * What a new worker needs; the body of POST /v1/placements and POST /v1/workers.
 * Optional fields may be left out but not set to null (OptionalNotNull): a null
 * backend or hive_id would otherwise reach placement and match no hive.
 */
export class PlacementRequestDto {
  /** @example "llama-3-8b" */
  @IsString()
  @MinLength(1)
  @MaxLength(256)
  model_id: string;

  /**
   * VRAM the worker needs on one GPU; 0 for a CPU worker.
   * @example 8589934592
   */
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  vram_bytes: number;

  /**
   * Host RAM the worker needs.
   * @example 2147483648
   */
  @OptionalNotNull()
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  ram_bytes?: number;

  /**
   * `cuda` or `metal` for that GPU backend only, `cpu` for RAM only; absent: any GPU.
   * @example "cuda"
   */
  @OptionalNotNull()
  @IsIn(['cuda', 'metal', 'cpu'])
  backend?: 'cuda' | 'metal' | 'cpu';

  /**
   * `binpack` fills the fullest GPU that fits; `spread` the emptiest.
   * @example "binpack"
   */
  @OptionalNotNull()
  @IsIn(['binpack', 'spread'])
  strategy?: 'binpack' | 'spread';

  /**
   * Only consider this hive.
   * @example "gpu-node-01"
   */
  @OptionalNotNull()
  @IsString()
  @Matches(/^[a-z0-9][a-z0-9._-]{0,62}$/, { message: 'hive_id must be a hive id' })
  hive_id?: string;

  /**
   * Only hives carrying all of these labels.
   * @example { "zone": "a" }
   */
  @OptionalNotNull()
  @IsLabelMap()
  labels?: Record<string, string>;
}

/**
 * Whole request bodies for Swagger UI's "Try it out": the first, which it sends by default, asks for any
 * GPU, so it works on any fleet; the property examples together would pin a hive that may not exist.
 */
export const PLACEMENT_REQUEST_EXAMPLES = {
  'any GPU': { value: { model_id: 'llama-3-8b', vram_bytes: 8589934592 } },
  'pinned to one hive': { value: { model_id: 'llama-3-8b', vram_bytes: 8589934592, hive_id: 'gpu-node-01' } },
  'by labels, spread': { value: { model_id: 'llama-3-8b', vram_bytes: 8589934592, labels: { zone: 'a' }, strategy: 'spread' } },
  'CPU only': { value: { model_id: 'llama-3-8b', vram_bytes: 0, ram_bytes: 2147483648, backend: 'cpu' } },
};

export class PlacementDto {
  /** @example "gpu-node-01" */
  hive_id: string;
  /** @example "cuda:1" */
  device: string;
  /** @example "cuda" */
  backend: string;
  /** GPU index; null for a CPU worker. @example 1 */
  device_id: number | null;
  /** In [0, 1]; higher fits the strategy better. @example 0.67 */
  score: number;
}

export class PlacementRejectedDto extends ProblemDto {
  /**
   * Why each hive considered was refused.
   * @example { "gpu-node-01": "insufficient_vram", "gpu-node-02": "offline" }
   */
  rejections: Record<string, RejectionReason>;
}
