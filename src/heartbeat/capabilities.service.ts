import { Injectable } from '@nestjs/common';
import { CatalogWriteBehind } from '../catalog/catalog-write-behind';
import { HiveCapabilities, sameCapabilities } from '../domain/fleet';
import { ClusterLink } from '../platform/cluster/cluster-link';
import { FleetEvents } from '../platform/events/fleet-events';
import { HiveRegistry } from '../registry/hive-registry';

export type CapabilitiesSource = 'heartbeat' | 'detected';

/**
 * The one place a hive's capabilities change, whether a heartbeat carried
 * them or the queen pulled them from the hive: the registry first (so every
 * route shows them at once), then the catalog's prompt write, then the event.
 */
@Injectable()
export class CapabilitiesService {
  constructor(
    private readonly registry: HiveRegistry,
    private readonly writeBehind: CatalogWriteBehind,
    private readonly events: FleetEvents,
    private readonly cluster: ClusterLink,
  ) {}

  /** What the queen knows the hive offers; null while unknown. */
  known(hiveId: string, now: number): HiveCapabilities | null {
    return this.registry.view(hiveId, now)?.capabilities ?? null;
  }

  /** Records what the hive offers; returns false (and does nothing) when nothing changed. */
  apply(hiveId: string, capabilities: HiveCapabilities, source: CapabilitiesSource, now: number): boolean {
    if (sameCapabilities(this.known(hiveId, now), capabilities)) return false;
    this.registry.setCapabilities(hiveId, capabilities);
    this.writeBehind.noteCapabilities(hiveId, capabilities);
    this.cluster.share({ t: 'caps', hive: hiveId, caps: capabilities, at: now });
    this.events.publish('hive.capabilities', now, { hive_id: hiveId, source });
    return true;
  }

  /** What another queen learnt the hive offers (it wrote the catalog and told the fleet). */
  applyShared(hiveId: string, capabilities: HiveCapabilities, now: number): void {
    if (this.registry.view(hiveId, now) === undefined || sameCapabilities(this.known(hiveId, now), capabilities)) return;
    this.registry.setCapabilities(hiveId, capabilities);
  }
}
