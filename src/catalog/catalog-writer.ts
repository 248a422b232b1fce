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
