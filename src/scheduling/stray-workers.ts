import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { HiveCatalog } from '../catalog/hive-catalog.service';
import { HiveClient } from '../hive-client/hive-client';
import { Clock } from '../platform/clock/clock';
import { QueenConfig } from '../platform/config/queen-config';
import { FleetEvents } from '../platform/events/fleet-events';
import { HiveRegistry } from '../registry/hive-registry';

/**
 * Workers the queen gave up on although their hive may have started them: a
 * spawn whose answer never came. Should such a worker turn up in a heartbeat
 * (a hive may finish a spawn after the queen stopped waiting, even after a
 * DELETE found nothing yet), it is stopped; the worker was started elsewhere
 * under another id, or the client was told it was not started. Forgotten after
 * RESERVATION_TTL_MS: a spawn that has not shown up by then has not happened.
 */
@Injectable()
export class StrayWorkers implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(StrayWorkers.name);
  /** `hiveId/workerId` → when it was given up on. */
  private readonly abandoned = new Map<string, number>();
  private subscription: Subscription | null = null;

  constructor(
    private readonly catalog: HiveCatalog,
    private readonly hives: HiveClient,
    private readonly registry: HiveRegistry,
    private readonly events: FleetEvents,
    private readonly clock: Clock,
    private readonly config: QueenConfig,
  ) {}

  onModuleInit(): void {
    this.subscription = this.events.stream.subscribe((event) => {
      if (event.type !== 'worker.added') return;
      void this.stopIfAbandoned(String(event.data.hive_id), String(event.data.worker_id));
    });
  }

  onModuleDestroy(): void {
    this.subscription?.unsubscribe();
  }

  abandon(hiveId: string, workerId: string): void {
    this.forgetOld();
    this.abandoned.set(`${hiveId}/${workerId}`, this.clock.now());
    // It may have been reported already, while its spawn was still waiting for an answer.
    if (this.registry.findWorker(workerId)?.hiveId === hiveId) void this.stopIfAbandoned(hiveId, workerId);
  }

  /** Whether a spawn of this worker id was given up on recently enough that it may still come to life. */
  isAbandoned(workerId: string): boolean {
    this.forgetOld();
    for (const key of this.abandoned.keys()) if (key.endsWith(`/${workerId}`)) return true;
    return false;
  }

  private async stopIfAbandoned(hiveId: string, workerId: string): Promise<void> {
    const key = `${hiveId}/${workerId}`;
    if (!this.abandoned.has(key)) return;
    this.abandoned.delete(key);
    const hive = this.catalog.findById(hiveId);
    if (!hive) return;
    try {
      await this.hives.stopWorker(hive, workerId);
      this.logger.warn(`stopped worker ${workerId} on hive ${hiveId}: it started after its spawn was given up`);
    } catch (error) {
      this.logger.warn(`could not stop stray worker ${workerId} on hive ${hiveId} (DELETE /v1/workers/${workerId} stops it): ${(error as Error).message}`);
    }
  }

  private forgetOld(): void {
    const cutoff = this.clock.now() - this.config.reservationTtlMs;
    for (const [key, at] of this.abandoned) {
      if (at >= cutoff) break;
      this.abandoned.delete(key);
    }
  }
}
