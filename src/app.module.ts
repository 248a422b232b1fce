import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AdminAuthGuard } from './auth/admin-auth.guard';
import { CatalogModule } from './catalog/catalog.module';
import { Clock } from './clock/clock';
import { ClockModule } from './clock/clock.module';
import { ProblemFilter } from './common/problem.filter';
import { QueenValidationPipe } from './common/validation';
import { QueenConfigModule } from './config/config.module';
import { QueenConfig } from './config/queen-config';
import { buildDataSourceOptions } from './database/database-options';
import { SqlStatementCounter } from './database/sql-statement-counter';
import { EventsModule } from './events/events.module';
import { HealthModule } from './health/health.module';
import { HeartbeatModule } from './heartbeat/heartbeat.module';
import { LoggingModule } from './logging/logging.module';

export interface AppModuleOptions {
  config: QueenConfig;
  /** Tests pass a manual clock; production uses the system clock. */
  clock?: Clock;
}

@Module({})
export class AppModule {
  static forRoot({ config, clock }: AppModuleOptions): DynamicModule {
    const sqlCounter = new SqlStatementCounter();
    return {
      module: AppModule,
      imports: [
        QueenConfigModule.forRoot(config),
        ClockModule.forRoot(clock),
        LoggingModule.forRoot(config),
        TypeOrmModule.forRoot(buildDataSourceOptions(config.database, sqlCounter)),
        EventsModule,
        // Before CatalogModule: its routes (/v1/hives/active) must be matched before /v1/hives/:id.
        HeartbeatModule,
        CatalogModule,
        HealthModule,
      ],
      providers: [
        { provide: SqlStatementCounter, useValue: sqlCounter },
        { provide: APP_PIPE, useClass: QueenValidationPipe },
        { provide: APP_FILTER, useClass: ProblemFilter },
        { provide: APP_GUARD, useClass: AdminAuthGuard },
      ],
      exports: [SqlStatementCounter],
    };
  }
}
