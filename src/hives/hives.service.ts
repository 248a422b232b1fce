import { Injectable, OnModuleInit } from '@nestjs/common';
import { CatalogWriteBehind } from '../catalog/catalog-write-behind';
import type { CatalogHive, HivePatch, NewHive } from '../catalog/catalog.types';
import { HiveCatalog } from '../catalog/hive-catalog.service';
import { Clock } from '../platform/clock/clock';
import { FleetEvents } from '../platform/events/fleet-events';
import { HiveRegistry } from '../registry/hive-registry';

/**
 * Registering, changing and removing hives. The catalog stores them; the
 * registry tracks every registered hive (placement reads cordon and labels
 * there), and this service keeps the two in step: the catalog write first,
 * then the registry, before the answer goes out.
 */
@Injectable()
export class HivesService implements OnModuleInit {
  constructor(
    private readonly catalog: HiveCatalog,
    private readonly registry: HiveRegistry,
    private readonly writeBehind: CatalogWriteBehind,
    private readonly events: FleetEvents,
    private readonly clock: Clock,
  ) {}

  /** After a restart the registry starts with what the catalog holds; heartbeats fill in the rest. */
  onModuleInit(): void {
    for (const hive of this.catalog.all()) this.track(hive);
  }

  async create(input: NewHive): Promise<{ hive: CatalogHive; token: string }> {
    const created = await this.catalog.create(input);
    this.track(created.hive);
    return created;
  }

  async update(id: string, patch: HivePatch, ifMatch?: string): Promise<CatalogHive> {
    const hive = await this.catalog.update(id, patch, ifMatch);
    this.registry.setAdmission(id, hive);
    return hive;
  }

  async remove(id: string, ifMatch?: string): Promise<void> {
    await this.catalog.remove(id, ifMatch);
    this.registry.forget(id);
    // Pending writes belong to the deleted hive, not to one registered later under its id.
    this.writeBehind.forget(id);
    this.events.publish('hive.removed', this.clock.now(), { hive_id: id });
  }

  /** Follows a change another queen made to a hive's row: reads it again and keeps the registry in step. */
  async followPeer(id: string): Promise<void> {
    const hive = await this.catalog.reload(id);
    if (hive === null) {
      this.registry.forget(id);
      this.writeBehind.forget(id);
    } else if (this.registry.view(id, this.clock.now()) === undefined) {
      this.track(hive);
    } else {
      this.registry.setAdmission(id, hive);
    }
  }

  rotateToken(id: string): Promise<string> {
    return this.catalog.rotateToken(id);
  }

  private track(hive: CatalogHive): void {
    this.registry.track({
      id: hive.id,
      cordoned: hive.cordoned,
      labels: hive.labels,
      capabilities: hive.capabilities,
      status: hive.status,
    });
  }
}
