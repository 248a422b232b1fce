import { HttpStatus, Injectable, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, Repository } from 'typeorm';
import { Clock } from '../platform/clock/clock';
import { ifMatchAllows, preconditionFailed, strongEtag } from '../platform/http/entity-tags';
import { notFound, ProblemException } from '../platform/http/problem';
import { CatalogWriter } from './catalog-writer';
import { DeploymentEntity, DeploymentSpec, DeploymentWorkerEntity } from './deployment.entity';

export interface StoredDeployment {
  readonly name: string;
  readonly spec: Readonly<DeploymentSpec>;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly etag: string;
}

export interface StoredDeploymentWorker {
  readonly workerId: string;
  readonly deployment: string;
  readonly hiveId: string;
  readonly device: string;
  readonly startedAt: Date;
  readonly replaced: boolean;
}

const freezeDeployment = (row: DeploymentEntity): StoredDeployment =>
  Object.freeze({
    name: row.name,
    spec: Object.freeze({ ...row.spec, labels: { ...row.spec.labels } }),
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    etag: strongEtag([row.name, row.spec, row.createdAt.getTime(), row.updatedAt.getTime()]),
  });

/**
 * The deployments and the workers started for them: tables the catalog owns, mirrored in memory (the
 * reconciler reads them every pass), written through the catalog's one writer.
 */
@Injectable()
export class DeploymentCatalog implements OnModuleInit {
  private readonly deployments = new Map<string, StoredDeployment>();
  private readonly workers = new Map<string, StoredDeploymentWorker>();
  private readonly deploymentRows: Repository<DeploymentEntity>;
  private readonly workerRows: Repository<DeploymentWorkerEntity>;

  constructor(
    @InjectDataSource() dataSource: DataSource,
    private readonly writer: CatalogWriter,
    private readonly clock: Clock,
  ) {
    this.deploymentRows = dataSource.getRepository(DeploymentEntity);
    this.workerRows = dataSource.getRepository(DeploymentWorkerEntity);
  }

  async onModuleInit(): Promise<void> {
    for (const row of await this.deploymentRows.find()) this.deployments.set(row.name, freezeDeployment(row));
    for (const row of await this.workerRows.find()) this.workers.set(row.workerId, Object.freeze({ ...row }));
  }

  list(): StoredDeployment[] {
    return [...this.deployments.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  find(name: string): StoredDeployment | undefined {
    return this.deployments.get(name);
  }

  get(name: string): StoredDeployment {
    const found = this.deployments.get(name);
    if (!found) throw notFound('deployment', name);
    return found;
  }

  async create(name: string, spec: DeploymentSpec): Promise<StoredDeployment> {
    return this.writer.write(async () => {
      if (this.deployments.has(name)) throw new ProblemException(HttpStatus.CONFLICT, 'duplicate-deployment', `deployment "${name}" already exists`);
      const now = new Date(this.clock.now());
      const row = this.deploymentRows.create({ name, spec, createdAt: now, updatedAt: now });
      await this.deploymentRows.insert(row);
      const stored = freezeDeployment(row);
      this.deployments.set(name, stored);
      return stored;
    });
  }

  /** `ifMatch`: the caller's If-Match; a deployment changed since (strong comparison) is left as it is, 412. */
  async update(name: string, change: Partial<DeploymentSpec>, ifMatch?: string): Promise<StoredDeployment> {
    return this.writer.write(async () => {
      const current = this.get(name);
      if (!ifMatchAllows(ifMatch, current.etag)) throw preconditionFailed('deployment', name, current.etag);
      const spec = { ...current.spec, ...Object.fromEntries(Object.entries(change).filter(([, value]) => value !== undefined)) } as DeploymentSpec;
      const row = this.deploymentRows.create({ name, spec, createdAt: current.createdAt, updatedAt: new Date(this.clock.now()) });
      await this.deploymentRows.update({ name }, { spec, updatedAt: row.updatedAt });
      const stored = freezeDeployment(row);
      this.deployments.set(name, stored);
      return stored;
    });
  }

  /** Removes the deployment; its worker records stay until its workers are stopped. */
  async remove(name: string, ifMatch?: string): Promise<void> {
    await this.writer.write(async () => {
      const current = this.get(name);
      if (!ifMatchAllows(ifMatch, current.etag)) throw preconditionFailed('deployment', name, current.etag);
      await this.deploymentRows.delete({ name });
      this.deployments.delete(name);
    });
  }

  workersOf(deployment: string): StoredDeploymentWorker[] {
    return [...this.workers.values()].filter((worker) => worker.deployment === deployment);
  }

  allWorkers(): IterableIterator<StoredDeploymentWorker> {
    return this.workers.values();
  }

  deploymentOfWorker(workerId: string): string | null {
    return this.workers.get(workerId)?.deployment ?? null;
  }

  /**
   * Records a worker before its hive is asked to start it: committed when this resolves. Recorded again
   * (another hive, same id) when the first hive refused it.
   */
  async recordWorker(worker: Omit<StoredDeploymentWorker, 'replaced'>): Promise<void> {
    await this.writer.write(async () => {
      const row = this.workerRows.create({ ...worker, replaced: false });
      await this.workerRows.save(row);
      this.workers.set(worker.workerId, Object.freeze({ ...row }));
    });
  }

  async markReplaced(workerId: string): Promise<void> {
    await this.writer.write(async () => {
      const current = this.workers.get(workerId);
      if (!current) return;
      await this.workerRows.update({ workerId }, { replaced: true });
      this.workers.set(workerId, Object.freeze({ ...current, replaced: true }));
    });
  }

  async forgetWorker(workerId: string): Promise<void> {
    await this.writer.write(async () => {
      await this.workerRows.delete({ workerId });
      this.workers.delete(workerId);
    });
  }
}
