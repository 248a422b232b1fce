import { MiddlewareConsumer, Module, NestModule, RequestMethod } from '@nestjs/common';
import { CatalogModule } from '../catalog/catalog.module';
import { RegistryModule } from '../registry/registry.module';
import { CatalogWriteBehind } from './catalog-write-behind';
import { FleetMetrics } from './fleet-metrics';
import { HeartbeatController } from './heartbeat.controller';
import { HeartbeatMetricsMiddleware } from './heartbeat-metrics.middleware';
import { HeartbeatService } from './heartbeat.service';
import { HiveStateController } from './hive-state.controller';
import { LivenessSweeper } from './liveness-sweeper';

@Module({
  imports: [CatalogModule, RegistryModule],
  controllers: [HeartbeatController, HiveStateController],
  providers: [HeartbeatService, CatalogWriteBehind, LivenessSweeper, FleetMetrics],
  exports: [CatalogWriteBehind],
})
export class HeartbeatModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(HeartbeatMetricsMiddleware).forRoutes({ path: 'v1/heartbeat', method: RequestMethod.POST });
  }
}
