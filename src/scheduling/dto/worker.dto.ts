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
