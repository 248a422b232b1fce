import { DynamicModule, Module, OnModuleInit } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { DatabaseSettings } from '../../platform/config/queen-config';
import { QueenMetrics } from '../../platform/metrics/queen-metrics';
import { buildDataSourceOptions } from './database-options';
import { openDatabase } from './open-database';
import { SqlStatementCounter } from './sql-statement-counter';

/** The TypeORM connection, migrated at start, and the counter of statements sent through it. */
@Module({})
export class DatabaseModule implements OnModuleInit {
  constructor(
    private readonly metrics: QueenMetrics,
    private readonly statements: SqlStatementCounter,
  ) {}

  static forRoot(settings: DatabaseSettings): DynamicModule {
    const counter = new SqlStatementCounter();
    return {
      module: DatabaseModule,
      global: true,
      imports: [
        TypeOrmModule.forRootAsync({
          // openDatabase retries and says so itself; Nest's own retry loop (ten tries, three seconds apart,
          // a stack trace each) is turned off.
          useFactory: () => ({ ...buildDataSourceOptions(settings, counter), toRetry: () => false }),
          dataSourceFactory: (options) => openDatabase(options!, settings),
        }),
      ],
      providers: [{ provide: SqlStatementCounter, useValue: counter }],
      exports: [SqlStatementCounter],
    };
  }

  onModuleInit(): void {
    this.metrics.countSqlStatements(() => this.statements.statements);
  }
}
