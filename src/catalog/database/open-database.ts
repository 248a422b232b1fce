import { setTimeout as delay } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import { DataSource, DataSourceOptions } from 'typeorm';
import type { DatabaseSettings } from '../../platform/config/queen-config';
import { isDatabaseUnavailable } from './database-errors';

/** How often, and how far apart, the queen tries to reach its database at start before giving up. */
export const CONNECT_ATTEMPTS = 3;
export const CONNECT_RETRY_DELAY_MS = 1000;
/** Queens starting together on one PostgreSQL migrate one after the other ("migr" in ASCII). */
const MIGRATION_LOCK = 0x6d696772;

/** Where the database is, as an operator reads it: engine, host:port and database, or the file. No credentials. */
export function describeDatabase(settings: DatabaseSettings): string {
  if (settings.type === 'sqlite') return `sqlite ${settings.path}`;
  const url = new URL(settings.url);
  return `postgres ${url.hostname}:${url.port || '5432'}${url.pathname}`;
}

/** The database could not be opened at start; the message is one line that names it. */
export class DatabaseStartError extends Error {}

function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  const text = message || (typeof code === 'string' ? code : 'unknown error');
  return text.replace(/\s+/g, ' ').slice(0, 300);
}

/**
 * Connects (a few attempts, a second apart, while the database is merely unreachable: it may be starting
 * beside the queen), then applies pending migrations, saying each step in one log line. Errors that
 * waiting cannot mend (a wrong password, a missing database) end the start at once.
 */
export async function openDatabase(options: DataSourceOptions, settings: DatabaseSettings): Promise<DataSource> {
  const logger = new Logger('Database');
  const where = describeDatabase(settings);
  let dataSource: DataSource | undefined;
  for (let attempt = 1; dataSource === undefined; attempt++) {
    const candidate = new DataSource(options);
    try {
      dataSource = await candidate.initialize();
    } catch (error) {
      const retry = attempt < CONNECT_ATTEMPTS && isDatabaseUnavailable(error);
      if (!retry) {
        const tried = attempt > 1 ? ` after ${attempt} attempts` : '';
        throw new DatabaseStartError(`cannot open the database (${where})${tried}: ${reasonOf(error)}`);
      }
      logger.warn(
        `cannot reach the database (${where}): ${reasonOf(error)}; attempt ${attempt} of ${CONNECT_ATTEMPTS}, next in ${CONNECT_RETRY_DELAY_MS / 1000} s`,
      );
      await delay(CONNECT_RETRY_DELAY_MS);
    }
  }
  if (settings.type === 'sqlite' && settings.path !== ':memory:') {
    // In WAL mode, NORMAL syncs at checkpoints rather than at every commit: a commit survives the queen's
    // crash or kill -9 (it is in the log, handed to the OS), and only a power loss may take the last few.
    // Catalog writes (a worker recorded before its spawn, each registration) then cost no fsync each.
    await dataSource.query('PRAGMA synchronous = NORMAL');
  }
  const turn = settings.type === 'postgres' ? dataSource.createQueryRunner() : null;
  try {
    await turn?.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    for (const migration of applied) logger.log(`applied migration ${migration.name}`);
    if (applied.length === 0) logger.log(`schema up to date (${dataSource.migrations.length} migration(s) applied earlier)`);
  } catch (error) {
    await turn?.release().catch(() => undefined);
    await dataSource.destroy().catch(() => undefined);
    throw new DatabaseStartError(`cannot migrate the database (${where}): ${reasonOf(error)}`);
  }
  if (turn) {
    await turn.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    await turn.release();
  }
  logger.log(`database open (${where})`);
  return dataSource;
}
