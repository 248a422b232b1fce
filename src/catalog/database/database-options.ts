import sqlite3 from 'sqlite3';
import type { DataSourceOptions } from 'typeorm';
import type { DatabaseSettings } from '../../platform/config/queen-config';
import { HiveEntity } from '../hive.entity';
import { DeploymentEntity, DeploymentWorkerEntity } from '../deployment.entity';
import { IdempotencyRecordEntity } from '../idempotency-record.entity';
import { CreateHives1764201600000 } from '../migrations/1764201600000-create-hives';
import { CreateIdempotencyKeys1764806400000 } from '../migrations/1764806400000-create-idempotency-keys';
import { CreateDeployments1764892800000 } from '../migrations/1764892800000-create-deployments';
import { CreateClusterTables1765065600000 } from '../migrations/1765065600000-create-cluster-tables';
import { SqlStatementCounter } from './sql-statement-counter';

/**
 * sqlite3 for TypeORM, which calls `verbose()` on the driver it is given: that would wrap every statement
 * to capture a stack trace and format its arguments, costing every catalog write (heartbeats' write-behind,
 * worker records) CPU and memory for a longer trace on errors that already say what failed.
 */
const sqliteWithoutTraces = { ...sqlite3, verbose: () => sqlite3 };

/**
 * The one source of database options, for the app and for the migration CLI
 * (ormconfig.ts). The schema comes from migrations, run at start by
 * `openDatabase` (or `npm run migration:run`); it is never synchronised from the entities.
 */
export function buildDataSourceOptions(
  settings: DatabaseSettings,
  logger: SqlStatementCounter = new SqlStatementCounter(),
): DataSourceOptions {
  const common = {
    entities: [HiveEntity, IdempotencyRecordEntity, DeploymentEntity, DeploymentWorkerEntity],
    migrations: [CreateHives1764201600000, CreateIdempotencyKeys1764806400000, CreateDeployments1764892800000, CreateClusterTables1765065600000],
    migrationsRun: false,
    migrationsTransactionMode: 'each' as const,
    synchronize: false,
    logger,
    maxQueryExecutionTime: 1000,
  };
  if (settings.type === 'postgres') {
    // Bounded waits: a PostgreSQL that is down or stuck answers a 503 within seconds, not a hang.
    return { ...common, type: 'postgres', url: settings.url, extra: { max: 10, connectionTimeoutMillis: 2000, query_timeout: 5000 } };
  }
  return {
    ...common,
    type: 'sqlite',
    driver: sqliteWithoutTraces,
    database: settings.path,
    // WAL lets readers (health checks, the CLI) run beside the single writer;
    // busyTimeout waits out a short lock held by another process, then the write is a 503.
    enableWAL: settings.path !== ':memory:',
    busyTimeout: 1000,
  };
}
