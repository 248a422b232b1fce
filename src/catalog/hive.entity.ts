import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { HiveCapabilities, HiveStatus } from '../domain/fleet';

/**
 * A row of the `hives` table. Only {@link HiveCatalog} reads or writes it.
 * Times use the JS `Date` column type so each driver maps them; the migration
 * creates `datetime` in SQLite and `timestamptz` in PostgreSQL.
 */
@Entity({ name: 'hives' })
export class HiveEntity {
  @PrimaryColumn({ type: 'varchar', length: 63 })
  id: string;

  @Column({ type: 'varchar', length: 253 })
  host: string;

  @Column({ type: 'integer' })
  port: number;

  @Column({ name: 'ssh_user', type: 'varchar', length: 64, nullable: true })
  sshUser: string | null;

  @Column({ name: 'ssh_port', type: 'integer', nullable: true })
  sshPort: number | null;

  /** AES-256-GCM sealed JSON `{ kind, value }`; see SecretBox. */
  @Column({ name: 'ssh_secret', type: 'text', nullable: true })
  sshSecret: string | null;

  /** SHA-256 hex of the heartbeat token; the token itself is never stored. */
  @Index('idx_hives_token_hash', { unique: true })
  @Column({ name: 'token_hash', type: 'varchar', length: 64 })
  tokenHash: string;

  @Column({ type: 'simple-json' })
  labels: Record<string, string>;

  @Column({ type: 'boolean', default: false })
  cordoned: boolean;

  @Index('idx_hives_status')
  @Column({ type: 'varchar', length: 16, default: 'unknown' })
  status: HiveStatus;

  @Column({ name: 'last_heartbeat_at', type: Date, nullable: true })
  lastHeartbeatAt: Date | null;

  @Column({ type: 'simple-json', nullable: true })
  capabilities: HiveCapabilities | null;

  @Column({ name: 'created_at', type: Date })
  createdAt: Date;

  @Column({ name: 'updated_at', type: Date })
  updatedAt: Date;
}
