import { MiddlewareConsumer, Module, NestModule, RequestMethod } from '@nestjs/common';
import { CatalogModule } from '../catalog/catalog.module';
import { HiveClientModule } from '../hive-client/hive-client.module';
import { RegistryModule } from '../registry/registry.module';
import { CapabilitiesService } from './capabilities.service';
import { DeviceDetection } from './device-detection';
import { HeartbeatController } from './heartbeat.controller';
import { HeartbeatEndpoint } from './heartbeat-endpoint';
import { HeartbeatResults } from './heartbeat-results';
import { HeartbeatMetricsMiddleware } from './heartbeat-metrics.middleware';
import { HeartbeatService } from './heartbeat.service';
import { LivenessSweeper } from './liveness-sweeper';

/** What hives tell the queen: heartbeats, the capabilities they report or the queen pulls, and their silence. */
@Module({
  imports: [CatalogModule, RegistryModule, HiveClientModule],
  controllers: [HeartbeatController],
  providers: [HeartbeatService, HeartbeatEndpoint, HeartbeatResults, CapabilitiesService, DeviceDetection, LivenessSweeper],
  exports: [HeartbeatEndpoint, HeartbeatService, CapabilitiesService],
})
export class HeartbeatModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(HeartbeatMetricsMiddleware).forRoutes({ path: 'v1/heartbeat', method: RequestMethod.POST });
  }
}
