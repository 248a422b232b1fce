import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** The first answer to a request that carried an `Idempotency-Key`, kept so that a repeat gets it again. */
@Entity({ name: 'idempotency_keys' })
export class IdempotencyRecordEntity {
  /** Route and caller: the same key from another caller, or on another route, is another key. */
  @PrimaryColumn({ type: 'varchar', length: 160 })
  scope: string;

  @PrimaryColumn({ type: 'varchar', length: 255 })
  key: string;

  /** SHA-256 of the request body in canonical JSON: a repeat must send the same body. */
  @Column({ name: 'request_hash', type: 'varchar', length: 64 })
  requestHash: string;

  @Column({ type: 'integer' })
  status: number;

  @Column({ name: 'content_type', type: 'varchar', length: 64 })
  contentType: string;

  /** The answer's body as sent (JSON text). */
  @Column({ type: 'text' })
  body: string;

  @Column({ type: 'varchar', length: 512, nullable: true })
  location: string | null;

  @Index('idx_idempotency_keys_created_at')
  @Column({ name: 'created_at', type: Date })
  createdAt: Date;
}
