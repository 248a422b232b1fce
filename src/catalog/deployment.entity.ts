import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** What a deployment asks for: kept as one JSON column, read and written whole. */
export interface DeploymentSpec {
  modelId: string;
  replicas: number;
  vramBytes: number;
  ramBytes: number;
  backend: 'cuda' | 'metal' | 'cpu' | null;
  strategy: 'binpack' | 'spread';
  labels: Record<string, string>;
  maxPerHive: number | null;
}

@Entity({ name: 'deployments' })
export class DeploymentEntity {
  @PrimaryColumn({ type: 'varchar', length: 63 })
  name: string;

  @Column({ type: 'simple-json' })
  spec: DeploymentSpec;

  @Column({ name: 'created_at', type: Date })
  createdAt: Date;

  @Column({ name: 'updated_at', type: Date })
  updatedAt: Date;
}

/**
 * A worker the queen started for a deployment. Written before the hive is asked to start it, so that
 * after a restart the queen knows every worker it may have started, and starts no second one.
 */
@Entity({ name: 'deployment_workers' })
export class DeploymentWorkerEntity {
  @PrimaryColumn({ name: 'worker_id', type: 'varchar', length: 63 })
  workerId: string;

  @Index('idx_deployment_workers_deployment')
  @Column({ type: 'varchar', length: 63 })
  deployment: string;

  @Column({ name: 'hive_id', type: 'varchar', length: 63 })
  hiveId: string;

  @Column({ type: 'varchar', length: 32 })
  device: string;

  @Column({ name: 'started_at', type: Date })
  startedAt: Date;

  /** Replaced elsewhere while its hive was away; stopped if that hive comes back with it. */
  @Column({ type: 'boolean', default: false })
  replaced: boolean;
}
