import { Injectable, Logger } from '@nestjs/common';
import { HiveCatalog } from '../catalog/hive-catalog.service';
import { HiveClient } from '../hive-client/hive-client';
import { Clock } from '../platform/clock/clock';
import { CapabilitiesService } from './capabilities.service';

/** How long after a failed detection the queen waits before asking that hive again. */
export const DETECTION_RETRY_MS = 30_000;

/**
 * Pulls capabilities from hives that beat without them and have none known:
 * `GET /v1/devices` in rbee's format, in the background, one request per hive
 * at a time and at most one per DETECTION_RETRY_MS after a failure.
 */
@Injectable()
export class DeviceDetection {
  private readonly logger = new Logger(DeviceDetection.name);
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly lastFailureAt = new Map<string, number>();

  constructor(
    private readonly catalog: HiveCatalog,
    private readonly capabilities: CapabilitiesService,
    private readonly hives: HiveClient,
    private readonly clock: Clock,
  ) {}

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
    if (!hive || this.capabilities.known(hiveId, this.clock.now())) return;
    try {
      const detected = await this.hives.detectDevices(hive);
      // The hive may have been deleted while its answer was on the way.
      if (!this.catalog.findById(hiveId)) return;
      this.capabilities.apply(hiveId, detected, 'detected', this.clock.now());
      this.lastFailureAt.delete(hiveId);
      this.logger.log(`detected ${detected.gpus.length} GPU(s) on hive ${hiveId}`);
    } catch (error) {
      this.lastFailureAt.set(hiveId, this.clock.now());
      this.logger.warn(`device detection on hive ${hiveId} failed: ${(error as Error).message}`);
    }
  }
}
