import { Injectable, OnModuleInit } from '@nestjs/common';
import { HiveCatalog } from '../catalog/hive-catalog.service';
import { Clock } from '../clock/clock';
import { QueenMetrics } from '../metrics/queen-metrics';
import { HiveRegistry } from '../registry/hive-registry';
import { CatalogWriteBehind } from './catalog-write-behind';

/** Feeds the metrics that need both views of the fleet; computed at scrape time only. */
@Injectable()
export class FleetMetrics implements OnModuleInit {
  constructor(
    private readonly metrics: QueenMetrics,
    private readonly catalog: HiveCatalog,
    private readonly registry: HiveRegistry,
    private readonly writeBehind: CatalogWriteBehind,
    private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.writeBehind.onFlush = ({ hives, durationMs }) => {
      this.metrics.catalogFlushDuration.observe(durationMs / 1000);
      this.metrics.catalogFlushBatch.observe(hives);
    };
    this.metrics.provideFleetSnapshot(() => {
      const now = this.clock.now();
      const hivesByStatus = this.catalog.countByStatus();
      const workersByState: Record<string, number> = {};
      const vram = { totalBytes: 0, usedBytes: 0, reservedBytes: 0 };
      for (const view of this.registry.entries(now)) {
        if (!view.online) continue;
        for (const device of view.resources.devices) {
          vram.totalBytes += device.totalBytes;
          vram.usedBytes += device.usedBytes;
          vram.reservedBytes += device.reservedBytes;
        }
      }
      for (const { worker } of this.registry.listWorkers()) {
        workersByState[worker.state] = (workersByState[worker.state] ?? 0) + 1;
      }
      return { hivesByStatus, workersByState, vram, reservations: this.registry.listReservations(now).length };
    });
  }
}
