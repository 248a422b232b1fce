import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { AdminAuthGuard } from './auth/admin-auth.guard';
import { CatalogModule } from './catalog/catalog.module';
import { Clock } from './clock/clock';
import { ClockModule } from './clock/clock.module';
import { ProblemFilter } from './common/problem.filter';
import { QueenValidationPipe } from './common/validation';
import { QueenConfigModule } from './config/config.module';
import { QueenConfig } from './config/queen-config';
import { DashboardModule } from './dashboard/dashboard.module';
import { DatabaseModule } from './database/database.module';
import { EventsModule } from './events/events.module';
import { HealthModule } from './health/health.module';
import { HeartbeatModule } from './heartbeat/heartbeat.module';
import { LoggingModule } from './logging/logging.module';
import { MetricsModule } from './metrics/metrics.module';
import { SchedulingModule } from './scheduling/scheduling.module';

export interface AppModuleOptions {
  config: QueenConfig;
  /** Tests pass a manual clock; production uses the system clock. */
  clock?: Clock;
}

@Module({})
export class AppModule {
  static forRoot({ config, clock }: AppModuleOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        QueenConfigModule.forRoot(config),
        ClockModule.forRoot(clock),
        LoggingModule.forRoot(config),
        DatabaseModule.forRoot(config.database),
        EventsModule,
        MetricsModule,
        // Before CatalogModule: its routes (/v1/hives/active) must be matched before /v1/hives/:id.
        HeartbeatModule,
        CatalogModule,
        SchedulingModule,
        HealthModule,
        DashboardModule,
      ],
      providers: [
        { provide: APP_PIPE, useClass: QueenValidationPipe },
        { provide: APP_FILTER, useClass: ProblemFilter },
        { provide: APP_GUARD, useClass: AdminAuthGuard },
      ],
    };
  }
}
