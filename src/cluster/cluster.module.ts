import { Module, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { CatalogModule } from '../catalog/catalog.module';
import { HeartbeatModule } from '../heartbeat/heartbeat.module';
import { HivesModule } from '../hives/hives.module';
import { ClusterLink } from '../platform/cluster/cluster-link';
import { QueenMetrics } from '../platform/metrics/queen-metrics';
import { ClusterController } from './cluster.controller';
import { ClusterService } from './cluster.service';
import { FleetFanout } from './fleet-fanout';
import { LeaderElection } from './leader-election';
import { PeerApplier } from './peer-applier';

/**
 * The queens serving the fleet: GET /v1/cluster, and, when there are several (REDIS_URL with
 * PostgreSQL), the election of the leader and the fan-out of what each queen learns.
 */
@Module({
  imports: [CatalogModule, HeartbeatModule, HivesModule],
  controllers: [ClusterController],
  providers: [ClusterService, LeaderElection, FleetFanout, PeerApplier],
  exports: [ClusterService],
})
export class ClusterModule implements OnModuleInit, OnModuleDestroy {
  private subscription: Subscription | undefined;

  constructor(
    private readonly link: ClusterLink,
    private readonly metrics: QueenMetrics,
  ) {}

  onModuleInit(): void {
    this.subscription = this.link.changes.subscribe(({ leading, term }) => {
      this.metrics.leader.set(leading ? 1 : 0);
      this.metrics.leaderTerm.set(term);
    });
  }

  onModuleDestroy(): void {
    this.subscription?.unsubscribe();
  }
}
