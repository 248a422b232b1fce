import { Module } from '@nestjs/common';
import { CatalogModule } from '../catalog/catalog.module';
import { HiveClientModule } from '../hive-client/hive-client.module';
import { IdempotencyModule } from '../idempotency/idempotency.module';
import { RegistryModule } from '../registry/registry.module';
import { PlacementService } from './placement.service';
import { PlacementsController } from './placements.controller';
import { StrayWorkers } from './stray-workers';
import { WorkerSpawner } from './worker-spawner';
import { WorkersController } from './workers.controller';

/** Where workers go (placement over the registry's capacity index), and starting and stopping them on hives. */
@Module({
  imports: [CatalogModule, RegistryModule, HiveClientModule, IdempotencyModule],
  controllers: [PlacementsController, WorkersController],
  providers: [PlacementService, WorkerSpawner, StrayWorkers],
  exports: [WorkerSpawner],
})
export class SchedulingModule {}
