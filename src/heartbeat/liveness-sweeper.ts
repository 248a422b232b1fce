import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { HiveCatalog } from '../catalog/hive-catalog.service';
import { Clock } from '../clock/clock';
import { QueenConfig } from '../config/queen-config';
import { FleetEvents } from '../events/fleet-events';
import { HiveRegistry } from '../registry/hive-registry';
import { CatalogWriteBehind } from './catalog-write-behind';

/**
 * Marks hives offline when they have been silent longer than
 * HEARTBEAT_TIMEOUT_MS, on the queen's clock.
 *
 * For one timeout after start nothing is marked offline: the registry is
 * empty after a restart, which is not the hives' fault. When that grace ends,
 * hives the catalog still lists as online but that never beat since are
 * marked offline too.
 */
@Injectable()
export class LivenessSweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private startedAt = 0;
  private catalogReconciled = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly registry: HiveRegistry,
    private readonly catalog: HiveCatalog,
    private readonly writeBehind: CatalogWriteBehind,
    private readonly events: FleetEvents,
    private readonly clock: Clock,
    private readonly config: QueenConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.startedAt = this.clock.now();
    this.timer = setInterval(() => this.sweep(), this.config.livenessSweepMs);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** One pass; returns the hives it marked offline. */
  sweep(): Set<string> {
    const now = this.clock.now();
    const timeoutMs = this.config.heartbeatTimeoutMs;
    if (now - this.startedAt < timeoutMs) return new Set();
    const wentOffline = new Set(this.registry.sweepOffline(now, timeoutMs));
    if (!this.catalogReconciled) {
      this.catalogReconciled = true;
      for (const hive of this.catalog.all()) {
        if (hive.status === 'online' && !this.registry.isOnline(hive.id)) wentOffline.add(hive.id);
      }
    }
    for (const hiveId of wentOffline) {
      this.writeBehind.noteStatus(hiveId, 'offline');
      this.events.publish('hive.offline', now, { hive_id: hiveId });
    }
    return wentOffline;
  }
}
