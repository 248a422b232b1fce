import { randomBytes } from 'node:crypto';
import { HttpStatus, Injectable, Logger } from '@nestjs/common';
import { HiveCatalog } from '../catalog/hive-catalog.service';
import { HeldElsewhere, ReservationLedger } from '../catalog/reservation-ledger';
import { HiveClient, HiveRequestError } from '../hive-client/hive-client';
import { Clock } from '../platform/clock/clock';
import { QueenConfig } from '../platform/config/queen-config';
import { FleetEvents } from '../platform/events/fleet-events';
import { ProblemException } from '../platform/http/problem';
import { QueenMetrics } from '../platform/metrics/queen-metrics';
import { HiveRegistry } from '../registry/hive-registry';
import type { Reservation } from '../registry/registry.types';
import type { PlacementRequest } from './placement';
import { PlacementService, rejectedProblem } from './placement.service';
import { StrayWorkers } from './stray-workers';

/** Hives tried for one POST /v1/workers before giving up: enough to route around a bad hive, not a retry storm. */
export const MAX_SPAWN_ATTEMPTS = 3;

/** What one hive answered to a spawn that did not start the worker. */
export interface SpawnAttempt {
  /** The hive's HTTP status; null when it gave none (unreachable, timed out). */
  status: number | null;
  /** The hive's own reason when it gave one, else what went wrong on the way. */
  reason: string;
  /** True when the hive may have started it all the same (no answer came): that worker id is not used again. */
  uncertain: boolean;
}

/** How a start may be shaped by its caller (a deployment's reconciler, or a client's chosen id). */
export interface StartOptions {
  /** The worker's id; generated when absent. */
  workerId?: string;
  /** Hives not to place it on (a deployment's max_per_hive). */
  excludeHives?: readonly string[];
  /** Runs once the hive is chosen and its capacity held, before the hive is asked; a throw cancels the start. */
  beforeSpawn?: (placed: Reservation) => Promise<void>;
  /** False: a 409 for "nothing fits" names no hive's reason, which spares a walk of the whole fleet. */
  explainRefusal?: boolean;
}

export interface StartedWorker {
  workerId: string;
  hiveId: string;
  device: string;
  reservationId: string;
}

const newWorkerId = () => `w-${randomBytes(6).toString('hex')}`;

/**
 * Starts and stops workers on hives: places, holds the capacity in the
 * registry, calls the hive, and lets the hold go when the hive refuses.
 */
@Injectable()
export class WorkerSpawner {
  private readonly logger = new Logger(WorkerSpawner.name);

  constructor(
    private readonly placements: PlacementService,
    private readonly registry: HiveRegistry,
    private readonly catalog: HiveCatalog,
    private readonly hives: HiveClient,
    private readonly strays: StrayWorkers,
    private readonly events: FleetEvents,
    private readonly metrics: QueenMetrics,
    private readonly clock: Clock,
    private readonly config: QueenConfig,
    private readonly ledger: ReservationLedger,
  ) {}

  /** Other queens' holds taken in, by id, until they expire: each is taken in once. */
  private readonly adopted = new Map<string, number>();

  /**
   * Places, reserves and spawns. Choosing and reserving happen in one
   * synchronous step, in the fleet's one placement turn (ReservationLedger),
   * so concurrent requests, on this queen or others, cannot claim the same capacity.
   * When a hive refuses or cannot be reached, its hold is released and the
   * next best hive is tried, up to {@link MAX_SPAWN_ATTEMPTS}. A worker id the
   * client chose is never used on a second hive after a spawn of unknown
   * outcome: that hive may run it, and one id names one worker.
   */
  async startWorker(request: PlacementRequest, options: StartOptions = {}): Promise<StartedWorker> {
    const chosenId = options.workerId;
    const tried = new Map<string, SpawnAttempt>();
    let workerId = chosenId ?? newWorkerId();
    while (tried.size < MAX_SPAWN_ATTEMPTS) {
      const reservation = await this.ledger.serialise(this.clock.now(), (heldElsewhere) => {
        this.takeIn(heldElsewhere);
        return this.placeAndReserve(request, workerId, tried, options.excludeHives ?? [], options.explainRefusal ?? true);
      });
      if (!reservation) break;
      if (options.beforeSpawn) {
        try {
          await options.beforeSpawn(reservation);
        } catch (error) {
          await this.releaseHold(reservation.id);
          throw error;
        }
      }
      const hive = this.catalog.findById(reservation.hiveId);
      try {
        if (!hive) throw new HiveRequestError('unreachable', 'hive was deleted', undefined, undefined, 'no');
        await this.hives.spawnWorker(hive, {
          worker_id: workerId,
          model_ref: request.modelId,
          backend: reservation.backend,
          device: reservation.deviceId ?? 0,
        });
      } catch (error) {
        await this.releaseHold(reservation.id);
        const attempt = await this.settle(error, reservation.hiveId, workerId);
        tried.set(reservation.hiveId, attempt);
        this.logger.warn(`spawn of ${workerId} on hive ${reservation.hiveId} failed: ${attempt.reason}`);
        // That id may come to life on that hive: the next hive gets another, so no id runs on two.
        if (attempt.uncertain) {
          if (chosenId !== undefined) break;
          workerId = newWorkerId();
        }
        continue;
      }
      this.metrics.placements.inc({ route: 'spawn', result: 'placed' });
      this.events.publish('placement.created', this.clock.now(), {
        worker_id: workerId,
        hive_id: reservation.hiveId,
        device: reservation.device,
        model_id: request.modelId,
        reservation_id: reservation.id,
      });
      return { workerId, hiveId: reservation.hiveId, device: reservation.device, reservationId: reservation.id };
    }
    this.metrics.placements.inc({ route: 'spawn', result: 'spawn_failed' });
    throw new ProblemException(
      HttpStatus.SERVICE_UNAVAILABLE,
      'spawn-failed',
      `no hive started the worker; tried ${[...tried].map(([hiveId, attempt]) => `${hiveId} (${attempt.status ?? 'no answer'})`).join(', ')}`,
      { tried: Object.fromEntries(tried) },
    );
  }

  /** Holds other queens wrote since the last placement here, and those they let go. */
  private takeIn(heldElsewhere: readonly HeldElsewhere[]): void {
    const now = this.clock.now();
    for (const [id, expiresAt] of this.adopted) if (expiresAt <= now) this.adopted.delete(id);
    for (const held of heldElsewhere) {
      if (held.released) {
        if (this.adopted.has(held.id)) this.registry.release(held.id);
      } else if (!this.adopted.has(held.id)) {
        const { released: _released, ...reservation } = held;
        this.registry.adopt(reservation, now);
        this.adopted.set(held.id, held.expiresAt);
      }
    }
  }

  /** Lets a hold of this queen's go, here and for the other queens. */
  private async releaseHold(reservationId: string): Promise<void> {
    this.registry.release(reservationId);
    await this.ledger.released(reservationId).catch((error: Error) => this.logger.warn(`could not mark hold ${reservationId} let go: ${error.message}`));
  }

  /**
   * What a failed spawn leaves behind. A hive that refused, or was never
   * reached, has not started the worker. One that may have (a timeout, a
   * reset after the request went out) is asked to stop it, and should the
   * worker be reported all the same, it is stopped then.
   */
  private async settle(error: unknown, hiveId: string, workerId: string): Promise<SpawnAttempt> {
    const failure = error instanceof HiveRequestError ? error : new HiveRequestError('unreachable', String(error));
    const attempt = { status: failure.status ?? null, reason: failure.hiveReason ?? failure.message };
    if (failure.delivered === 'no') return { ...attempt, uncertain: false };
    this.strays.abandon(hiveId, workerId);
    const hive = this.catalog.findById(hiveId);
    try {
      if (hive) await this.hives.stopWorker(hive, workerId);
    } catch (stopError) {
      return { ...attempt, reason: `${attempt.reason}; asking it to stop the worker failed too: ${(stopError as Error).message}`, uncertain: true };
    }
    return { ...attempt, uncertain: true };
  }

  /**
   * Picks the best hive not yet tried and holds its capacity, with no await in
   * between. Throws 409 when nothing fits at the first attempt; returns null
   * when hives were tried and none is left.
   */
  private placeAndReserve(
    request: PlacementRequest,
    workerId: string,
    tried: ReadonlyMap<string, SpawnAttempt>,
    excludeHives: readonly string[],
    explainRefusal: boolean,
  ): Reservation | null {
    if (tried.size === 0 && this.workerExists(workerId)) {
      throw new ProblemException(HttpStatus.CONFLICT, 'worker-exists', `a worker "${workerId}" exists (or is starting); stop it first or choose another id`);
    }
    const result = this.placements.decide(request, new Set([...tried.keys(), ...excludeHives]), explainRefusal);
    if (!result.ok) {
      if (tried.size > 0) return null;
      this.metrics.placements.inc({ route: 'spawn', result: 'rejected' });
      throw rejectedProblem(explainRefusal ? result.rejections : null, request.hiveId);
    }
    const { placement } = result;
    return this.registry.reserve(
      {
        hiveId: placement.hiveId,
        workerId,
        modelId: request.modelId,
        backend: placement.backend,
        deviceId: placement.deviceId,
        device: placement.device,
        vramBytes: placement.backend === 'cpu' ? 0 : request.vramBytes,
        ramBytes: request.ramBytes,
      },
      this.clock.now(),
      this.config.reservationTtlMs,
    );
  }

  /** A hive reports the worker, capacity is held for it, or a spawn of unknown outcome may have started it. */
  private workerExists(workerId: string): boolean {
    return (
      this.registry.findWorker(workerId) !== undefined ||
      this.registry.reservationOfWorker(workerId, this.clock.now()) !== undefined ||
      this.strays.isAbandoned(workerId)
    );
  }

  /** Asks the worker's hive to stop it and releases any capacity still held for it. */
  async stopWorker(workerId: string, hiveId: string, reservationId: string | null): Promise<void> {
    const hive = this.catalog.getById(hiveId);
    try {
      await this.hives.stopWorker(hive, workerId);
    } catch (error) {
      throw new ProblemException(
        HttpStatus.SERVICE_UNAVAILABLE,
        'hive-unavailable',
        `hive "${hiveId}" did not stop worker "${workerId}": ${(error as Error).message}`,
      );
    }
    if (reservationId) await this.releaseHold(reservationId);
  }
}
