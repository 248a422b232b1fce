import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { CatalogWriteBehind } from '../catalog/catalog-write-behind';
import { Clock } from '../platform/clock/clock';
import { ClusterLink } from '../platform/cluster/cluster-link';
import { QueenConfig } from '../platform/config/queen-config';
import { FleetEvents } from '../platform/events/fleet-events';
import { HiveRegistry } from '../registry/hive-registry';

/**
 * Announces hives that the liveness rule (domain/liveness.ts) calls offline:
 * every LIVENESS_SWEEP_MS it asks the registry which hives went silent since
 * the last pass, writes their status and publishes `hive.offline`, once per
 * transition. Routes do not wait for it: they apply the same rule at `now`.
 *
 * With several queens only the leader announces; the others sweep their own registry alike, so that
 * their view turns the same way, but write and publish nothing. No queen sweeps while heartbeats that
 * other queens received may be missing from its registry (the fan-out is down or catching up):
 * silence then says nothing about the hive.
 */
@Injectable()
export class LivenessSweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly registry: HiveRegistry,
    private readonly writeBehind: CatalogWriteBehind,
    private readonly events: FleetEvents,
    private readonly clock: Clock,
    private readonly config: QueenConfig,
    private readonly cluster: ClusterLink,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => this.sweep(), this.config.livenessSweepMs);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** One pass; returns the hives it announced offline. */
  sweep(): string[] {
    if (!this.cluster.liveViewComplete) return [];
    const now = this.clock.now();
    const wentOffline = this.registry.sweep(now);
    if (!this.cluster.leading) return [];
    for (const hiveId of wentOffline) {
      this.writeBehind.noteStatus(hiveId, 'offline');
      this.events.publish('hive.offline', now, { hive_id: hiveId });
    }
    return wentOffline;
  }
}
