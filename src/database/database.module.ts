import { DynamicModule, Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { DatabaseSettings } from '../config/queen-config';
import { buildDataSourceOptions } from './database-options';
import { SqlStatementCounter } from './sql-statement-counter';

/** The TypeORM connection, migrated at start, and the counter of statements sent through it. */
@Global()
@Module({})
export class DatabaseModule {
  static forRoot(settings: DatabaseSettings): DynamicModule {
    const counter = new SqlStatementCounter();
    return {
      module: DatabaseModule,
      imports: [TypeOrmModule.forRoot(buildDataSourceOptions(settings, counter))],
      providers: [{ provide: SqlStatementCounter, useValue: counter }],
      exports: [SqlStatementCounter],
    };
  }
}
