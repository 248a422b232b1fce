import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { CatalogModule } from './catalog/catalog.module';
import { ClusterModule } from './cluster/cluster.module';
import { DatabaseModule } from './catalog/database/database.module';
import { DashboardModule } from './dashboard/dashboard.module';
import { DeploymentsModule } from './deployments/deployments.module';
import { FleetModule } from './fleet/fleet.module';
import { HeartbeatModule } from './heartbeat/heartbeat.module';
import { HivesModule } from './hives/hives.module';
import { AdminAuthGuard } from './platform/auth/admin-auth.guard';
import { Clock } from './platform/clock/clock';
import { ClockModule } from './platform/clock/clock.module';
import { ClusterLinkModule } from './platform/cluster/cluster-link.module';
import { QueenConfigModule } from './platform/config/config.module';
import { QueenConfig } from './platform/config/queen-config';
import { EventsModule } from './platform/events/events.module';
import { HealthModule } from './platform/health/health.module';
import { LoadModule } from './platform/http/load.module';
import { ProblemFilter } from './platform/http/problem.filter';
import { QueenValidationPipe } from './platform/http/validation';
import { LoggingModule } from './platform/logging/logging.module';
import { MetricsModule } from './platform/metrics/metrics.module';
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
        ClusterLinkModule,
        MetricsModule,
        LoadModule,
        EventsModule,
        DatabaseModule.forRoot(config.database),
        CatalogModule,
        HivesModule,
        FleetModule,
        HeartbeatModule,
        SchedulingModule,
        HealthModule,
        DashboardModule,
        ClusterModule,
        DeploymentsModule,
      ],
      providers: [
        { provide: APP_PIPE, useClass: QueenValidationPipe },
        { provide: APP_FILTER, useClass: ProblemFilter },
        { provide: APP_GUARD, useClass: AdminAuthGuard },
      ],
    };
  }
}
