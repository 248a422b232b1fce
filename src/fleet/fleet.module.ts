import { Module, OnModuleInit } from '@nestjs/common';
import { CatalogModule } from '../catalog/catalog.module';
import { QueenMetrics } from '../platform/metrics/queen-metrics';
import { RegistryModule } from '../registry/registry.module';
import { FleetController } from './fleet.controller';
import { FleetView } from './fleet-view';
import { HiveViewsController } from './hive-views.controller';
import { WorkerViewsController } from './worker-views.controller';

/** The read side: hives, their live state, workers and fleet totals, from the catalog and the registry. */
@Module({
  imports: [CatalogModule, RegistryModule],
  controllers: [HiveViewsController, WorkerViewsController, FleetController],
  providers: [FleetView],
  exports: [FleetView],
})
export class FleetModule implements OnModuleInit {
  constructor(
    private readonly fleet: FleetView,
    private readonly metrics: QueenMetrics,
  ) {}

  /** The fleet gauges are computed at scrape time from the same summary the dashboard reads. */
  onModuleInit(): void {
    this.metrics.provideFleetSnapshot(() => this.fleet.summary());
  }
}
