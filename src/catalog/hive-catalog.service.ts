import { HttpStatus, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { sameCapabilities } from '../domain/fleet';
import { Clock } from '../platform/clock/clock';
import { ClusterLink } from '../platform/cluster/cluster-link';
import { ifMatchAllows, preconditionFailed, strongEtag } from '../platform/http/entity-tags';
import { notFound, ProblemException } from '../platform/http/problem';
import { digestsEqual, hashToken, newHiveToken } from '../platform/security/tokens';
import { SecretBox } from '../platform/security/secret-box';
import { CatalogWriter } from './catalog-writer';
import { BoundValues } from './database/bound-values';
import { LeaderFence } from './leader-fence';
import { HiveEntity } from './hive.entity';
import {
  CatalogHive,
  HiveAuthResult,
  HiveChange,
  HivePatch,
  NewHive,
  SshSettingsInput,
} from './catalog.types';

/**
 * Rows per UPDATE (well under SQLite's bound-parameter limit), and per
 * transaction when flushing heartbeat times: a few milliseconds of database
 * work each, so that the flush of a large fleet never holds the writer's turn
 * (or the CPU) for long.
 */
const FLUSH_CHUNK = 1000;

interface ChangedRow {
  row: HiveEntity;
  fields: Set<keyof HiveChange>;
}

function toCatalogHive(row: HiveEntity): CatalogHive {
  const { sshSecret, tokenHash: _tokenHash, ...visible } = row;
  return Object.freeze({ ...visible, labels: { ...row.labels }, sshCredentialsSet: sshSecret !== null });
}


/**
 * The only code that touches the `hives` table.
 *
 * Every row is mirrored in memory (a fleet is thousands of rows, not millions),
 * so the heartbeat and placement paths read the catalog without SQL. Writes go
 * to the database first, then to the mirror, one at a time through a mutex so
 * the two never disagree and SQLite never sees two transactions at once.
 */
@Injectable()
export class HiveCatalog implements OnModuleInit {
  private readonly logger = new Logger(HiveCatalog.name);
  private readonly hives = new Map<string, HiveEntity>();
  private readonly hiveIdByTokenHash = new Map<string, string>();
  /** Per hive, the entity tag of what operators set (see etagOf). */
  private readonly etags = new Map<string, string>();
  private readonly repository;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly secrets: SecretBox,
    private readonly clock: Clock,
    private readonly writer: CatalogWriter,
    private readonly cluster: ClusterLink,
    private readonly fence: LeaderFence,
  ) {
    this.repository = dataSource.getRepository(HiveEntity);
  }

  async onModuleInit(): Promise<void> {
    for (const row of await this.repository.find()) this.remember(row);
    this.logger.log(`catalog holds ${this.hives.size} hive(s)`);
  }

  has(id: string): boolean {
    return this.hives.has(id);
  }

  findById(id: string): CatalogHive | undefined {
    const row = this.hives.get(id);
    return row && toCatalogHive(row);
  }

  getById(id: string): CatalogHive {
    const hive = this.findById(id);
    if (!hive) throw notFound('hive', id);
    return hive;
  }

  /** Every hive, as read-only views without secrets. */
  *all(): IterableIterator<CatalogHive> {
    for (const row of this.hives.values()) yield toCatalogHive(row);
  }

  /** Registers a hive; returns it with its heartbeat token, which is not kept anywhere. */
  async create(input: NewHive): Promise<{ hive: CatalogHive; token: string }> {
    return this.write(async () => {
      if (this.hives.has(input.id)) {
        throw new ProblemException(HttpStatus.CONFLICT, 'duplicate-hive', `hive "${input.id}" already exists`);
      }
      const now = new Date(this.clock.now());
      const token = newHiveToken();
      const row = this.repository.create({
        id: input.id,
        host: input.host,
        port: input.port,
        sshUser: null,
        sshPort: null,
        sshSecret: null,
        tokenHash: hashToken(token),
        labels: input.labels ?? {},
        cordoned: false,
        status: 'unknown',
        lastHeartbeatAt: null,
        capabilities: null,
        createdAt: now,
        updatedAt: now,
      });
      if (input.ssh) this.applySsh(row, input.ssh);
      await this.repository.insert(row);
      this.remember(row);
      await this.cluster.shareNow({ t: 'hive', id: row.id });
      return { hive: toCatalogHive(row), token };
    });
  }

  /**
   * The hive's strong ETag: it changes with every change of what operators set (address, SSH settings
   * and secret, labels, cordon, token), not with its live status, which heartbeats change every few
   * seconds. Undefined for a hive that does not exist.
   */
  etagOf(id: string): string | undefined {
    return this.etags.get(id);
  }

  /** `ifMatch`: the caller's If-Match; a hive changed since (strong comparison) is left as it is, 412. */
  async update(id: string, patch: HivePatch, ifMatch?: string): Promise<CatalogHive> {
    const hive = await this.mutate(id, ifMatch, (row) => {
      if (patch.host !== undefined) row.host = patch.host;
      if (patch.port !== undefined) row.port = patch.port;
      if (patch.labels !== undefined) row.labels = patch.labels;
      if (patch.cordoned !== undefined) row.cordoned = patch.cordoned;
      if (patch.ssh === null) Object.assign(row, { sshUser: null, sshPort: null, sshSecret: null });
      else if (patch.ssh !== undefined) this.applySsh(row, patch.ssh);
      row.updatedAt = new Date(this.clock.now());
    });
    return hive;
  }

  async remove(id: string, ifMatch?: string): Promise<void> {
    await this.write(async () => {
      const row = this.hives.get(id);
      if (!row) throw notFound('hive', id);
      this.checkPrecondition(id, ifMatch);
      await this.repository.delete({ id });
      this.forgetRow(row);
      await this.cluster.shareNow({ t: 'hive', id });
    });
  }

  /**
   * Reads a hive's row again, after another queen changed it; returns the hive, or null when it is gone.
   * Read in the writer's turn, so that it cannot overtake a write of this queen's.
   */
  async reload(id: string): Promise<CatalogHive | null> {
    return this.write(async () => {
      const row = await this.repository.findOneBy({ id });
      if (row === null) {
        const known = this.hives.get(id);
        if (known) this.forgetRow(known);
        return null;
      }
      this.remember(row);
      return toCatalogHive(row);
    });
  }

  private forgetRow(row: HiveEntity): void {
    this.hives.delete(row.id);
    this.etags.delete(row.id);
    this.hiveIdByTokenHash.delete(row.tokenHash);
  }

  /** Issues a new heartbeat token; the old one stops working at once. */
  async rotateToken(id: string): Promise<string> {
    const token = newHiveToken();
    await this.mutate(id, undefined, (row) => {
      row.tokenHash = hashToken(token);
      row.updatedAt = new Date(this.clock.now());
    });
    return token;
  }

  /** Checks a heartbeat's bearer token against the hive it claims to be, from memory. */
  verifyToken(hiveId: string, token: string | null): HiveAuthResult {
    const row = this.hives.get(hiveId);
    if (!row) return 'unknown_hive';
    if (!token) return 'missing_token';
    const presented = hashToken(token);
    if (digestsEqual(presented, row.tokenHash)) return 'ok';
    return this.hiveIdByTokenHash.has(presented) ? 'token_of_another_hive' : 'invalid_token';
  }

  /**
   * Writes status and capability changes of many hives in one transaction, so
   * a fleet coming online after a restart costs one commit, not one per hive.
   * Hives deleted meanwhile and changes that change nothing are skipped; a
   * heartbeat time never moves backwards.
   */
  async recordChanges(changes: ReadonlyMap<string, HiveChange>): Promise<void> {
    await this.write(async () => {
      const changed: ChangedRow[] = [];
      for (const [id, change] of changes) {
        const row = this.withChange(id, change);
        if (row) changed.push(row);
      }
      if (changed.length === 0) return;
      await this.dataSource.transaction(async (manager) => {
        // Offline is the leader's word: a queen that no longer leads does not write it.
        if (changed.some(({ row, fields }) => fields.has('status') && row.status === 'offline') && !(await this.fence.holds(manager))) {
          for (const { row, fields } of changed) {
            if (fields.has('status') && row.status === 'offline') {
              fields.delete('status');
              row.status = this.hives.get(row.id)!.status;
            }
          }
        }
        // Each changed column of many hives in a few statements: a fleet coming online is one transaction of few statements.
        for (const property of ['status', 'lastHeartbeatAt', 'capabilities'] as const) {
          const entries = changed.filter(({ fields }) => fields.has(property)).map(({ row }): [string, unknown] => [row.id, row[property]]);
          for (let i = 0; i < entries.length; i += FLUSH_CHUNK) await this.updateMany(manager, property, entries.slice(i, i + FLUSH_CHUNK));
        }
      });
      // Status, heartbeat time and capabilities only: the token and the ETag's fields are as they were.
      for (const { row } of changed) this.hives.set(row.id, row);
    });
  }

  /** A copy of the hive's row with `change` applied and the fields it changed, or null when the hive is gone or nothing changes. */
  private withChange(id: string, change: HiveChange): ChangedRow | null {
    const current = this.hives.get(id);
    if (!current) return null;
    const row = this.repository.create({ ...current, labels: { ...current.labels } });
    const fields = new Set<keyof HiveChange>();
    if (change.status !== undefined && change.status !== current.status) {
      row.status = change.status;
      fields.add('status');
    }
    if (change.lastHeartbeatAt && (!current.lastHeartbeatAt || current.lastHeartbeatAt < change.lastHeartbeatAt)) {
      row.lastHeartbeatAt = change.lastHeartbeatAt;
      fields.add('lastHeartbeatAt');
    }
    if (change.capabilities && !sameCapabilities(current.capabilities, change.capabilities)) {
      // updated_at records operators' changes (create, patch, token); what hives report does not move it.
      row.capabilities = change.capabilities;
      fields.add('capabilities');
    }
    return fields.size > 0 ? { row, fields } : null;
  }

  /**
   * Writes many hives' last heartbeat times, one statement and one
   * transaction per {@link FLUSH_CHUNK} hives, each taking the writer's turn
   * on its own so that operators' writes go in between. Hives deleted
   * meanwhile are skipped.
   */
  async recordHeartbeats(batch: ReadonlyMap<string, Date>): Promise<void> {
    const entries = [...batch];
    for (let i = 0; i < entries.length; i += FLUSH_CHUNK) {
      await this.write(async () => {
        const chunk = entries.slice(i, i + FLUSH_CHUNK).filter(([id]) => this.hives.has(id));
        if (chunk.length === 0) return;
        await this.dataSource.transaction((manager) => this.updateMany(manager, 'lastHeartbeatAt', chunk));
        for (const [id, at] of chunk) {
          const row = this.hives.get(id);
          if (row && (!row.lastHeartbeatAt || row.lastHeartbeatAt < at)) row.lastHeartbeatAt = at;
        }
      });
    }
  }

  /**
   * One column of many hives in one statement, joined to a list of values:
   * `UPDATE hives SET <column> = v.column2 FROM (VALUES (?, ?), ...) AS v WHERE hives.id = v.column1`
   * (SQLite and PostgreSQL both name a VALUES list's columns column1, column2).
   */
  private async updateMany(
    manager: EntityManager,
    property: 'status' | 'lastHeartbeatAt' | 'capabilities',
    entries: [string, unknown][],
  ): Promise<void> {
    const column = manager.connection.getMetadata(HiveEntity).findColumnWithPropertyName(property)!;
    const bound = new BoundValues(manager.connection.driver);
    const cast = bound.numbered && property === 'lastHeartbeatAt' ? '::timestamptz' : '';
    const rows = entries.map(([id, value]) => `(${bound.mark(id)}, ${bound.mark(value, column)}${cast})`);
    const name = column.databaseName;
    await manager.query(`UPDATE hives SET ${name} = v.column2 FROM (VALUES ${rows.join(', ')}) AS v WHERE hives.id = v.column1`, bound.values);
  }

  /**
   * Runs `change` on a copy of the row, saves the copy, then swaps it into the
   * mirror: a failed write leaves the mirror as it was.
   */
  private async mutate(id: string, ifMatch: string | undefined, change: (row: HiveEntity) => void): Promise<CatalogHive> {
    return this.write(async () => {
      const current = this.hives.get(id);
      if (!current) throw notFound('hive', id);
      this.checkPrecondition(id, ifMatch);
      const next = this.repository.create({ ...current, labels: { ...current.labels } });
      change(next);
      const { id: _id, ...columns } = next;
      await this.repository.update({ id }, columns);
      this.remember(next);
      await this.cluster.shareNow({ t: 'hive', id });
      return toCatalogHive(next);
    });
  }

  /** Checked as the only writer: no change can slip in between the comparison and the write. */
  private checkPrecondition(id: string, ifMatch: string | undefined): void {
    const current = this.etags.get(id)!;
    if (!ifMatchAllows(ifMatch, current)) throw preconditionFailed('hive', id, current);
  }

  /** Runs one write as the queen's only writer, so memory and database never disagree. */
  private write<T>(work: () => Promise<T>): Promise<T> {
    return this.writer.write(work);
  }

  private applySsh(row: HiveEntity, ssh: SshSettingsInput): void {
    row.sshUser = ssh.user ?? row.sshUser;
    row.sshPort = ssh.port ?? row.sshPort ?? 22;
    const secret =
      ssh.privateKey !== undefined
        ? { kind: 'private_key', value: ssh.privateKey }
        : ssh.password !== undefined
          ? { kind: 'password', value: ssh.password }
          : null;
    if (secret) row.sshSecret = this.secrets.seal(JSON.stringify(secret), row.id);
  }

  private remember(row: HiveEntity): void {
    const previous = this.hives.get(row.id);
    if (previous && previous.tokenHash !== row.tokenHash) this.hiveIdByTokenHash.delete(previous.tokenHash);
    this.hives.set(row.id, row);
    this.hiveIdByTokenHash.set(row.tokenHash, row.id);
    // The sealed secret has a fresh nonce each time it is set, so setting the same secret again is a change too.
    this.etags.set(
      row.id,
      strongEtag([row.id, row.host, row.port, row.sshUser, row.sshPort, row.sshSecret, row.tokenHash, Object.entries(row.labels).sort(), row.cordoned, row.createdAt.getTime()]),
    );
  }
}
