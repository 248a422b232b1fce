import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { filter, Subscription } from 'rxjs';
import { HiveCatalog } from '../catalog/hive-catalog.service';
import { Clock } from '../clock/clock';
import { FleetEvents } from '../events/fleet-events';
import { HiveRegistry } from '../registry/hive-registry';
import { HiveClient } from './hive-client';

/** How long after a failed detection the queen waits before asking that hive again. */
export const DETECTION_RETRY_MS = 30_000;

/**
 * Pulls capabilities from hives that beat without them and have none known:
 * `GET /v1/devices` in rbee's format, in the background, one request per hive
 * at a time and at most one per DETECTION_RETRY_MS after a failure.
 */
@Injectable()
export class DeviceDetection implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(DeviceDetection.name);
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly lastFailureAt = new Map<string, number>();
  private subscription: Subscription | undefined;

  constructor(
    private readonly catalog: HiveCatalog,
    private readonly registry: HiveRegistry,
    private readonly hives: HiveClient,
    private readonly events: FleetEvents,
    private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.subscription = this.events.stream
      .pipe(filter((event) => event.type === 'hive.capabilities_missing'))
      .subscribe((event) => void this.detect(String(event.data.hive_id)));
  }

  onModuleDestroy(): void {
    this.subscription?.unsubscribe();
  }

  /** Starts (or joins) a detection for one hive; resolves when it is done, successful or not. */
  detect(hiveId: string): Promise<void> {
    const running = this.inFlight.get(hiveId);
    if (running) return running;
    const failedAt = this.lastFailureAt.get(hiveId);
    if (failedAt !== undefined && this.clock.now() - failedAt < DETECTION_RETRY_MS) return Promise.resolve();
    const detection = this.run(hiveId).finally(() => this.inFlight.delete(hiveId));
    this.inFlight.set(hiveId, detection);
    return detection;
  }

  private async run(hiveId: string): Promise<void> {
    const hive = this.catalog.findById(hiveId);
    if (!hive || hive.capabilities) return;
    try {
      const capabilities = await this.hives.detectDevices(hive);
      this.registry.setCapabilities(hiveId, capabilities);
      await this.catalog.setCapabilities(hiveId, capabilities);
      this.lastFailureAt.delete(hiveId);
      this.events.publish('hive.capabilities', this.clock.now(), { hive_id: hiveId, source: 'detected' });
      this.logger.log(`detected ${capabilities.gpus.length} GPU(s) on hive ${hiveId}`);
    } catch (error) {
      this.lastFailureAt.set(hiveId, this.clock.now());
      this.logger.warn(`device detection on hive ${hiveId} failed: ${(error as Error).message}`);
    }
  }
}
