import { Module } from '@nestjs/common';
import { CatalogModule } from '../catalog/catalog.module';
import { RegistryModule } from '../registry/registry.module';
import { DeviceDetection } from './device-detection';
import { HiveClient } from './hive-client';
import { PlacementsController } from './placements.controller';
import { SchedulerService } from './scheduler.service';
import { WorkersController } from './workers.controller';

@Module({
  imports: [CatalogModule, RegistryModule],
  controllers: [PlacementsController, WorkersController],
  providers: [SchedulerService, HiveClient, DeviceDetection],
})
export class SchedulingModule {}
