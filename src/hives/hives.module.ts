import { Module } from '@nestjs/common';
import { CatalogModule } from '../catalog/catalog.module';
import { FleetModule } from '../fleet/fleet.module';
import { RegistryModule } from '../registry/registry.module';
import { HivesController } from './hives.controller';
import { HivesService } from './hives.service';

/** Registering, changing and removing hives (reads of them are the fleet module's). */
@Module({
  imports: [CatalogModule, RegistryModule, FleetModule],
  controllers: [HivesController],
  providers: [HivesService],
  exports: [HivesService],
})
export class HivesModule {}
