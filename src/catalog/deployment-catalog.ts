import { HttpStatus, Injectable, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, In, Repository } from 'typeorm';
import { Clock } from '../platform/clock/clock';
import { ClusterLink } from '../platform/cluster/cluster-link';
import { ifMatchAllows, preconditionFailed, strongEtag } from '../platform/http/entity-tags';
import { notFound, ProblemException } from '../platform/http/problem';
import { CatalogWriter, WriteBatcher } from './catalog-writer';
import { BoundValues } from './database/bound-values';
import { DeploymentEntity, DeploymentSpec, DeploymentWorkerEntity } from './deployment.entity';
import { LeaderFence } from './leader-fence';

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

/** Worker records per statement (six columns an INSERT), well within the databases' limits on bound parameters. */
const RECORD_CHUNK = 100;

const WORKER_RECORD_FIELDS = ['workerId', 'deployment', 'hiveId', 'device', 'startedAt', 'replaced'] as const;

/**
 * `INSERT … ON CONFLICT (worker_id) DO UPDATE` of worker records in one statement, each value as
 * TypeORM stores it. Written by hand because these are the writes of every start: building the same
 * statement through TypeORM's upsert took about a tenth of a pass that replaces hundreds of workers.
 */
async function upsertWorkerRecords(manager: EntityManager, records: readonly StoredDeploymentWorker[]): Promise<void> {
  const metadata = manager.connection.getMetadata(DeploymentWorkerEntity);
  const driver = manager.connection.driver;
  const columns = WORKER_RECORD_FIELDS.map((field) => metadata.findColumnWithPropertyName(field)!);
  const bound = new BoundValues(driver);
  const rows = records.map((record) => `(${columns.map((column, i) => bound.mark(record[WORKER_RECORD_FIELDS[i]], column)).join(', ')})`);
  const names = columns.map((column) => driver.escape(column.databaseName));
  const key = names[0];
  const updates = names.slice(1).map((name) => `${name} = excluded.${name}`);
  await manager.query(
    `INSERT INTO ${driver.escape(metadata.tableName)} (${names.join(', ')}) VALUES ${rows.join(', ')} ON CONFLICT (${key}) DO UPDATE SET ${updates.join(', ')}`,
    bound.values,
  );
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
  /** The same records by deployment, so a pass reads each deployment's own, not all. */
  private readonly workersByDeployment = new Map<string, Map<string, StoredDeploymentWorker>>();
  private readonly records = new WriteBatcher<Omit<StoredDeploymentWorker, 'replaced'>>((workers) =>
    this.leaderWrite(async (rows) => {
      const records = workers.map((worker): StoredDeploymentWorker => Object.freeze({ ...worker, replaced: false }));
      for (let i = 0; i < records.length; i += RECORD_CHUNK) await upsertWorkerRecords(rows.manager, records.slice(i, i + RECORD_CHUNK));
      for (const record of records) this.keep(record);
      return records.map((record) => record.workerId);
    }),
  );
  private readonly forgets = new WriteBatcher<string>((workerIds) =>
    this.leaderWrite(async (rows) => {
      for (let i = 0; i < workerIds.length; i += RECORD_CHUNK) await rows.delete({ workerId: In(workerIds.slice(i, i + RECORD_CHUNK)) });
      for (const id of workerIds) this.drop(id);
      return workerIds;
    }),
  );
  private readonly deploymentRows: Repository<DeploymentEntity>;
  private readonly workerRows: Repository<DeploymentWorkerEntity>;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly writer: CatalogWriter,
    private readonly clock: Clock,
    private readonly cluster: ClusterLink,
    private readonly fence: LeaderFence,
  ) {
    this.deploymentRows = dataSource.getRepository(DeploymentEntity);
    this.workerRows = dataSource.getRepository(DeploymentWorkerEntity);
  }

  async onModuleInit(): Promise<void> {
    for (const row of await this.deploymentRows.find()) this.deployments.set(row.name, freezeDeployment(row));
    for (const row of await this.workerRows.find()) this.keep(Object.freeze({ ...row }));
  }

  private keep(worker: StoredDeploymentWorker): void {
    const previous = this.workers.get(worker.workerId);
    if (previous && previous.deployment !== worker.deployment) this.workersByDeployment.get(previous.deployment)?.delete(worker.workerId);
    this.workers.set(worker.workerId, worker);
    let own = this.workersByDeployment.get(worker.deployment);
    if (!own) this.workersByDeployment.set(worker.deployment, (own = new Map()));
    own.set(worker.workerId, worker);
  }

  private drop(workerId: string): void {
    const previous = this.workers.get(workerId);
    if (!previous) return;
    this.workers.delete(workerId);
    const own = this.workersByDeployment.get(previous.deployment);
    own?.delete(workerId);
    if (own?.size === 0) this.workersByDeployment.delete(previous.deployment);
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
      await this.shareChanged([name], []);
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
      await this.shareChanged([name], []);
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
      await this.shareChanged([name], []);
    });
  }

  /**
   * Reads deployments and worker records again after another queen changed them (those gone are
   * forgotten), in the writer's turn so that it cannot overtake a write of this queen's.
   */
  async reload(names: readonly string[], workerIds: readonly string[]): Promise<void> {
    await this.writer.write(async () => {
      if (names.length > 0) {
        const rows = await this.deploymentRows.findBy({ name: In([...names]) });
        for (const name of names) this.deployments.delete(name);
        for (const row of rows) this.deployments.set(row.name, freezeDeployment(row));
      }
      for (let i = 0; i < workerIds.length; i += RECORD_CHUNK) {
        const chunk = workerIds.slice(i, i + RECORD_CHUNK);
        const rows = await this.workerRows.findBy({ workerId: In([...chunk]) });
        for (const id of chunk) this.drop(id);
        for (const row of rows) this.keep(Object.freeze({ ...row }));
      }
    });
  }

  /** Everything again, from the database: what a queen that has just become leader acts on. */
  async reloadAll(): Promise<void> {
    await this.writer.write(async () => {
      const deployments = await this.deploymentRows.find();
      const workers = await this.workerRows.find();
      this.deployments.clear();
      this.workers.clear();
      this.workersByDeployment.clear();
      for (const row of deployments) this.deployments.set(row.name, freezeDeployment(row));
      for (const row of workers) this.keep(Object.freeze({ ...row }));
    });
  }

  workersOf(deployment: string): StoredDeploymentWorker[] {
    const own = this.workersByDeployment.get(deployment);
    return own ? [...own.values()] : [];
  }

  allWorkers(): IterableIterator<StoredDeploymentWorker> {
    return this.workers.values();
  }

  deploymentOfWorker(workerId: string): string | null {
    return this.workers.get(workerId)?.deployment ?? null;
  }

  /**
   * Records a worker before its hive is asked to start it: committed when this resolves. Recorded again
   * (another hive, same id) when the first hive refused it. Records asked for while one write runs go
   * into the next, together (a pass that replaces hundreds of workers commits a few times, not hundreds).
   */
  recordWorker(worker: Omit<StoredDeploymentWorker, 'replaced'>): Promise<void> {
    return this.records.add(worker);
  }

  /** Marks workers replaced, in one write. */
  async markReplaced(workerIds: string[]): Promise<void> {
    const known = workerIds.filter((id) => this.workers.has(id));
    if (known.length === 0) return;
    await this.leaderWrite(async (rows) => {
      for (let i = 0; i < known.length; i += RECORD_CHUNK) await rows.update({ workerId: In(known.slice(i, i + RECORD_CHUNK)) }, { replaced: true });
      for (const id of known) this.keep(Object.freeze({ ...this.workers.get(id)!, replaced: true }));
      return known;
    });
  }

  /** Forgets a worker's record; forgets asked for together are written together. */
  forgetWorker(workerId: string): Promise<void> {
    return this.forgets.add(workerId);
  }

  /**
   * A write only the leader makes, fenced by its term in the same transaction (see LeaderFence); other
   * queens are told which records changed. `work` returns the ids of the records it wrote.
   */
  private leaderWrite(work: (rows: Repository<DeploymentWorkerEntity>) => Promise<string[]>): Promise<void> {
    return this.writer.write(async () => {
      const changed = await this.dataSource.transaction(async (manager) => {
        await this.fence.check(manager);
        return work(manager.getRepository(DeploymentWorkerEntity));
      });
      await this.shareChanged([], changed);
    });
  }

  private async shareChanged(names: string[], workerIds: string[]): Promise<void> {
    if (this.cluster.clustered) await this.cluster.shareNow({ t: 'deployments', names, workers: workerIds });
  }
}
