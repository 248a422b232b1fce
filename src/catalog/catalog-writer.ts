import { Injectable } from '@nestjs/common';
import { Mutex, MutexInterface, withTimeout } from 'async-mutex';
import { databaseUnavailable, DatabaseBusyError, isDatabaseUnavailable } from './database/database-errors';

/**
 * How long a write waits for the one writer's turn before the caller is told
 * the database is busy (503): an API call never hangs behind a stuck database.
 */
export const WRITE_WAIT_MS = 1000;

/**
 * The one writer of the queen's database. Every catalog write runs through it, one at a time: SQLite
 * has one connection, on which a second transaction (or a statement while one is open) would mix with
 * the first, and the in-memory mirrors are updated in the same turn as their rows.
 */
@Injectable()
export class CatalogWriter {
  private readonly writes: MutexInterface = withTimeout(new Mutex(), WRITE_WAIT_MS, new DatabaseBusyError(WRITE_WAIT_MS));

  /** Runs `work` as the only writer. A database that is busy or away is a 503 with Retry-After, not a 500. */
  async write<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await this.writes.runExclusive(work);
    } catch (error) {
      if (isDatabaseUnavailable(error)) throw databaseUnavailable(error);
      throw error;
    }
  }
}

/**
 * Group commit: items handed in while a write of earlier ones runs (or within the same turn of the
 * event loop) go into the next write together, so that many concurrent callers cost a few commits. Each
 * caller's promise settles with the write that carried its item.
 */
export class WriteBatcher<T> {
  private pending: { item: T; resolve: () => void; reject: (error: unknown) => void }[] = [];
  private running: Promise<void> | null = null;

  constructor(private readonly writeAll: (items: T[]) => Promise<void>) {}

  add(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      this.running ??= this.drain();
    });
  }

  private async drain(): Promise<void> {
    await new Promise<void>((done) => setImmediate(done));
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0);
      try {
        await this.writeAll(batch.map(({ item }) => item));
        for (const { resolve } of batch) resolve();
      } catch (error) {
        for (const { reject } of batch) reject(error);
      }
    }
    // In the same turn as the last look at `pending`: a caller that adds as soon as its write settled
    // starts the next drain, rather than joining this one after it has looked for the last time.
    this.running = null;
  }
}
