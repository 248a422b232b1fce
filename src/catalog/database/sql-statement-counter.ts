import { Logger as NestLogger } from '@nestjs/common';
import type { Logger as TypeOrmLogger } from 'typeorm';

/**
 * TypeORM logger that counts every SQL statement sent (for the metrics, the
 * coalescing tests and the heartbeat benchmark) and reports errors and slow
 * queries through the app's logger. Parameters are never logged: they can
 * hold token hashes and sealed secrets.
 */
export class SqlStatementCounter implements TypeOrmLogger {
  private readonly logger = new NestLogger('Database');
  statements = 0;

  logQuery(): void {
    this.statements++;
  }

  logQueryError(error: string | Error, query: string): void {
    this.logger.warn(`query failed: ${error instanceof Error ? error.message : error} in: ${query.slice(0, 200)}`);
  }

  logQuerySlow(time: number, query: string): void {
    this.logger.warn(`slow query (${time} ms): ${query.slice(0, 200)}`);
  }

  logSchemaBuild(): void {}

  logMigration(message: string): void {
    this.logger.log(message);
  }

  log(level: 'log' | 'info' | 'warn', message: unknown): void {
    if (level === 'warn') this.logger.warn(String(message));
  }
}
