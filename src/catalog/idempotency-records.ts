import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, LessThan, MoreThanOrEqual, Repository } from 'typeorm';
import { CatalogWriter } from './catalog-writer';
import { IdempotencyRecordEntity } from './idempotency-record.entity';

/** A first answer as kept: what a repeat of its request gets. */
export interface RecordedAnswer {
  status: number;
  contentType: string;
  /** JSON text, as sent. */
  body: string;
  location: string | null;
}

export interface IdempotencyRecord extends RecordedAnswer {
  requestHash: string;
}

/** The table of first answers to requests that carried an `Idempotency-Key`. */
@Injectable()
export class IdempotencyRecords {
  private readonly repository: Repository<IdempotencyRecordEntity>;

  constructor(
    @InjectDataSource() dataSource: DataSource,
    private readonly writer: CatalogWriter,
  ) {
    this.repository = dataSource.getRepository(IdempotencyRecordEntity);
  }

  /** The answer kept for `key` in `scope`, if it was recorded at or after `notBefore`. */
  async find(scope: string, key: string, notBefore: Date): Promise<IdempotencyRecord | null> {
    const row = await this.repository.findOneBy({ scope, key, createdAt: MoreThanOrEqual(notBefore) });
    return row && { requestHash: row.requestHash, status: row.status, contentType: row.contentType, body: row.body, location: row.location };
  }

  /** Keeps an answer; one recorded earlier under the same key (expired, or the hour's sweep not yet run) is replaced. */
  async save(scope: string, key: string, record: IdempotencyRecord, at: Date): Promise<void> {
    await this.writer.write(() => this.repository.save(this.repository.create({ scope, key, ...record, createdAt: at })));
  }

  /** Forgets answers recorded before `before`; returns how many. */
  async deleteRecordedBefore(before: Date): Promise<number> {
    const result = await this.writer.write(() => this.repository.delete({ createdAt: LessThan(before) }));
    return result.affected ?? 0;
  }
}
