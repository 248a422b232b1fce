import { Module, OnModuleInit } from '@nestjs/common';
import { QueenConfig } from '../platform/config/queen-config';
import { QueenMetrics } from '../platform/metrics/queen-metrics';
import { loadOrCreateSecretKey, SecretBox } from '../platform/security/secret-box';
import { CatalogWriteBehind } from './catalog-write-behind';
import { CatalogWriter } from './catalog-writer';
import { DeploymentCatalog } from './deployment-catalog';
import { HiveCatalog } from './hive-catalog.service';
import { IdempotencyRecords } from './idempotency-records';
import { LeaderFence } from './leader-fence';
import { ReservationLedger } from './reservation-ledger';

/**
 * The persistent catalog: the only code that touches the database tables,
 * and the write-behind that coalesces what heartbeats change.
 */
@Module({
  providers: [
    CatalogWriter,
    LeaderFence,
    ReservationLedger,
    HiveCatalog,
    IdempotencyRecords,
    DeploymentCatalog,
    CatalogWriteBehind,
    {
      provide: SecretBox,
      inject: [QueenConfig],
      useFactory: (config: QueenConfig) => new SecretBox(loadOrCreateSecretKey(config.secretKey, config.dataDir)),
    },
  ],
  exports: [HiveCatalog, CatalogWriteBehind, IdempotencyRecords, DeploymentCatalog, ReservationLedger],
})
export class CatalogModule implements OnModuleInit {
  constructor(
    private readonly writeBehind: CatalogWriteBehind,
    private readonly metrics: QueenMetrics,
  ) {}

  onModuleInit(): void {
    this.writeBehind.onFlush = ({ hives, durationMs }) => {
      this.metrics.catalogFlushDuration.observe(durationMs / 1000);
      this.metrics.catalogFlushBatch.observe(hives);
    };
  }
}
