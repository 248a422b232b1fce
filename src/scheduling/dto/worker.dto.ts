import { IsString, Matches } from 'class-validator';
import { OptionalNotNull } from '../../platform/http/validators';
import { PlacementRequestDto } from './placement.dto';

/** The body of POST /v1/workers: what the worker needs, and optionally the id it is to have. */
export class StartWorkerDto extends PlacementRequestDto {
  /**
   * The new worker's id, chosen by the client (same rules as a hive id); one is generated when absent.
   * A start under an id that exists is refused (409), so a retried start cannot run a model twice.
   * @example "llama-3-8b-a"
   */
  @OptionalNotNull()
  @IsString()
  @Matches(/^[a-z0-9][a-z0-9._-]{0,62}$/, { message: 'worker_id must be 1 to 63 characters of a-z 0-9 . _ -, starting with a letter or digit' })
  worker_id?: string;
}

export class WorkerStartedDto {
  /** @example "w-5f0c2a9e1b7d" */
  worker_id: string;
  /** @example "gpu-node-01" */
  hive_id: string;
  /** @example "cuda:1" */
  device: string;
  /** Capacity held until a heartbeat shows the worker, or RESERVATION_TTL_MS passes. @example "r-8d1e4b2c7a90" */
  reservation_id: string;
  /** @example "starting" */
  state: 'starting';
}

export class WorkerStoppingDto {
  /** @example "w-5f0c2a9e1b7d" */
  worker_id: string;
  /** @example "gpu-node-01" */
  hive_id: string;
  /** @example "stopping" */
  state: 'stopping';
}
