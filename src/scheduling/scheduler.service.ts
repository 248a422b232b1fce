import { randomBytes } from 'node:crypto';
import { HttpStatus, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type { CatalogHive } from '../catalog/catalog.types';
import { HiveCatalog } from '../catalog/hive-catalog.service';
import { Clock } from '../clock/clock';
import { notFound, ProblemException } from '../common/problem';
import { QueenConfig } from '../config/queen-config';
import { FleetEvents } from '../events/fleet-events';
import { QueenMetrics } from '../metrics/queen-metrics';
import { HiveRegistry } from '../registry/hive-registry';
import type { Reservation, WorkerReport } from '../registry/registry.types';
import { computeResources } from '../registry/usage';
import { HiveClient, HiveRequestError } from './hive-client';
import { Placement, PlacementCandidate, PlacementRequest, rankPlacements, RankedPlacements, RejectionReason, toPlacement } from './placement';
import { bestFitsInTable } from './table-placement';

/**
 * How many of the best-fitting hives the fast path looks at for one that the
 * catalog admits (not cordoned, labels match) and that was not tried yet,
 * before it leaves the request to the exact scan. Deeper when labels must
 * match, since they rule out more hives.
 */
const FAST_PATH_DEPTH = 8;
const FAST_PATH_DEPTH_WITH_LABELS = 32;

/** Hives tried for one POST /v1/workers before giving up: enough to route around a bad hive, not a retry storm. */
export const MAX_SPAWN_ATTEMPTS = 3;

const EMPTY_RESOURCES = computeResources(null, [], []);

export interface StartedWorker {
  workerId: string;
  hiveId: string;
  device: string;
  reservationId: string;
}

/** A worker as the workers API shows it: reported by its hive, or still only a reservation. */
export interface WorkerView {
  hiveId: string;
  worker: WorkerReport;
  reservationId: string | null;
}

const newId = (prefix: string) => `${prefix}-${randomBytes(6).toString('hex')}`;

function rejected(rejections: Record<string, RejectionReason>, pinned: string | undefined): ProblemException {
  const detail = pinned
    ? `hive "${pinned}" cannot take this worker: ${rejections[pinned]}`
    : Object.keys(rejections).length === 0
      ? 'no hive is registered'
      : 'no hive can take this worker';
  return new ProblemException(HttpStatus.CONFLICT, 'no-placement', detail, { rejections });
}

function reservationAsWorker(reservation: Reservation): WorkerReport {
  return {
    workerId: reservation.workerId,
    modelId: reservation.modelId,
    state: 'starting',
    backend: reservation.backend,
    deviceId: reservation.deviceId,
    device: reservation.device,
    vramBytes: reservation.vramBytes,
    ramBytes: reservation.ramBytes,
    url: null,
    healthStatus: null,
    lastHeartbeat: null,
    cpuPercent: null,
    gpuPercent: null,
  };
}

type CatalogRow = Readonly<Pick<CatalogHive, 'id' | 'cordoned' | 'labels' | 'capabilities'>>;

/**
 * Joins catalog rows with the registry's live views, one hive at a time, for
 * the exact scan. That scan may cover the whole fleet, so this is a plain
 * iterator that fills one reused candidate (placement reads a candidate and
 * keeps nothing of it) rather than a generator yielding new objects.
 */
class CandidateScan implements Iterable<PlacementCandidate>, Iterator<PlacementCandidate> {
  private readonly candidate: PlacementCandidate = {
    hiveId: '',
    online: false,
    cordoned: false,
    labels: {},
    hasCapabilities: false,
    resources: EMPTY_RESOURCES,
  };
  private readonly step: IteratorResult<PlacementCandidate> = { done: false, value: this.candidate };

  constructor(
    private readonly hives: Iterator<CatalogRow>,
    private readonly registry: HiveRegistry,
    private readonly exclude: { has(hiveId: string): boolean },
    private readonly now: number,
    private readonly timeoutMs: number,
  ) {}

  [Symbol.iterator](): Iterator<PlacementCandidate> {
    return this;
  }

  next(): IteratorResult<PlacementCandidate> {
    for (let row = this.hives.next(); !row.done; row = this.hives.next()) {
      const hive = row.value;
      if (this.exclude.has(hive.id)) continue;
      const live = this.registry.liveView(hive.id, this.now);
      const candidate = this.candidate;
      candidate.hiveId = hive.id;
      // The sweeper flips `online` only every LIVENESS_SWEEP_MS; a hive silent for longer
      // than the timeout is offline now, as GET /v1/hives/{id}/state already says.
      candidate.online =
        live !== undefined && live.online && live.lastHeartbeatAt !== null && this.now - live.lastHeartbeatAt <= this.timeoutMs;
      candidate.cordoned = hive.cordoned;
      candidate.labels = hive.labels;
      candidate.hasCapabilities = (live?.capabilities ?? hive.capabilities) !== null;
      candidate.resources = live?.resources ?? EMPTY_RESOURCES;
      return this.step;
    }
    return { done: true, value: undefined };
  }
}

/**
 * Decides where workers go, from the catalog and the registry in memory (no
 * SQL on this path), holds capacity for them, and asks hives to start them.
 */
@Injectable()
export class SchedulerService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(SchedulerService.name);
  private expiryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly catalog: HiveCatalog,
    private readonly registry: HiveRegistry,
    private readonly hives: HiveClient,
    private readonly events: FleetEvents,
    private readonly metrics: QueenMetrics,
    private readonly clock: Clock,
    private readonly config: QueenConfig,
  ) {}

  onModuleInit(): void {
    // Expired reservations already stop counting; this only drops them from memory.
    this.expiryTimer = setInterval(() => this.expireReservations(), 1000);
    this.expiryTimer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.expiryTimer);
  }

  expireReservations(): Reservation[] {
    return this.registry.expireReservations(this.clock.now());
  }

  /** The best placement now; nothing is held. */
  plan(request: PlacementRequest): Placement {
    const ranked = this.rank(request, new Set());
    if (!ranked.ok) {
      this.metrics.placements.inc({ route: 'plan', result: 'rejected' });
      throw rejected(ranked.rejections, request.hiveId);
    }
    this.metrics.placements.inc({ route: 'plan', result: 'placed' });
    return ranked.placements[0];
  }

  /**
   * Places, reserves and spawns. Choosing and reserving happen in one
   * synchronous step, so concurrent requests cannot claim the same capacity.
   * When a hive refuses or cannot be reached, its hold is released and the
   * next best hive is tried, up to {@link MAX_SPAWN_ATTEMPTS}.
   */
  async startWorker(request: PlacementRequest): Promise<StartedWorker> {
    const tried = new Map<string, string>();
    const workerId = newId('w');
    while (tried.size < MAX_SPAWN_ATTEMPTS) {
      const reservation = this.placeAndReserve(request, workerId, tried);
      if (!reservation) break;
      const hive = this.catalog.findById(reservation.hiveId);
      try {
        if (!hive) throw new HiveRequestError('unreachable', 'hive was deleted');
        await this.hives.spawnWorker(hive, {
          worker_id: workerId,
          model_ref: request.modelId,
          backend: reservation.backend,
          device: reservation.deviceId ?? 0,
        });
      } catch (error) {
        this.registry.releaseReservation(reservation.id);
        const reason = error instanceof Error ? error.message : String(error);
        tried.set(reservation.hiveId, reason);
        this.logger.warn(`spawn of ${workerId} on hive ${reservation.hiveId} failed: ${reason}`);
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
      `no hive started the worker; tried ${[...tried.keys()].join(', ')}`,
      { tried: Object.fromEntries(tried) },
    );
  }

  /**
   * Picks the best hive not yet tried and holds its capacity, with no await in
   * between. Throws 409 when nothing fits at the first attempt; returns null
   * when hives were tried and none is left.
   */
  private placeAndReserve(request: PlacementRequest, workerId: string, tried: Map<string, string>): Reservation | null {
    const ranked = this.rank(request, tried);
    if (!ranked.ok) {
      if (tried.size > 0) return null;
      this.metrics.placements.inc({ route: 'spawn', result: 'rejected' });
      throw rejected(ranked.rejections, request.hiveId);
    }
    const placement = ranked.placements[0];
    const now = this.clock.now();
    const reservation: Reservation = {
      id: newId('r'),
      hiveId: placement.hiveId,
      workerId,
      modelId: request.modelId,
      backend: placement.backend,
      deviceId: placement.deviceId,
      device: placement.device,
      vramBytes: placement.backend === 'cpu' ? 0 : request.vramBytes,
      ramBytes: request.ramBytes,
      createdAt: now,
      expiresAt: now + this.config.reservationTtlMs,
    };
    this.registry.reserve(reservation);
    return reservation;
  }

  /**
   * The best placement. Most requests are settled by a scan of the registry's
   * placement table, which only then asks the catalog about the few best
   * hives; pins (one hive) and whatever the fast path cannot settle go through
   * the exact scan, which also names every hive's rejection.
   */
  private rank(request: PlacementRequest, exclude: { has(hiveId: string): boolean }): RankedPlacements {
    if (request.hiveId === undefined) {
      const placement = this.fastPlacement(request, exclude);
      if (placement) return { ok: true, placements: [placement] };
    }
    return rankPlacements(request, this.candidates(request, exclude), 1);
  }

  private fastPlacement(request: PlacementRequest, exclude: { has(hiveId: string): boolean }): Placement | null {
    const now = this.clock.now();
    const { table, entries } = this.registry.placementTable(now);
    const labels = Object.entries(request.labels ?? {});
    const depth = labels.length > 0 ? FAST_PATH_DEPTH_WITH_LABELS : FAST_PATH_DEPTH;
    const fits = bestFitsInTable(request, table, entries, now, this.config.heartbeatTimeoutMs, depth);
    for (const fit of fits) {
      const hiveId = table.hiveIds[fit.slot];
      if (exclude.has(hiveId)) continue;
      const hive = this.catalog.findById(hiveId);
      if (!hive || hive.cordoned || labels.some(([key, value]) => hive.labels[key] !== value)) continue;
      const { resources } = entries[fit.slot];
      const device = fit.device === -1 ? undefined : resources.devices[fit.device];
      return toPlacement(
        {
          hiveId,
          device: device?.device ?? 'cpu',
          backend: device?.backend ?? 'cpu',
          deviceId: device?.deviceId ?? null,
          freeAfterBytes: fit.freeAfterBytes,
          totalBytes: device?.totalBytes ?? resources.ram.totalBytes,
        },
        request.strategy === 'spread',
      );
    }
    return null;
  }

  /** Every catalog hive (or the pinned one) joined with its live view; a pin to an unknown hive is a 404. */
  private candidates(request: PlacementRequest, exclude: { has(hiveId: string): boolean }): Iterable<PlacementCandidate> {
    const hives = request.hiveId ? [this.catalog.getById(request.hiveId)] : this.catalog.placementView();
    return new CandidateScan(hives[Symbol.iterator](), this.registry, exclude, this.clock.now(), this.config.heartbeatTimeoutMs);
  }

  listWorkers(filter: { hiveId?: string; modelId?: string }): WorkerView[] {
    const reported: WorkerView[] = this.registry
      .listWorkers(filter)
      .map(({ hiveId, worker }) => ({ hiveId, worker, reservationId: null }));
    const pending = this.registry
      .listReservations(this.clock.now())
      .filter((r) => (!filter.hiveId || r.hiveId === filter.hiveId) && (!filter.modelId || r.modelId === filter.modelId))
      .map((r) => ({ hiveId: r.hiveId, worker: reservationAsWorker(r), reservationId: r.id }));
    return [...reported, ...pending].sort((a, b) =>
      a.hiveId === b.hiveId ? a.worker.workerId.localeCompare(b.worker.workerId) : a.hiveId.localeCompare(b.hiveId),
    );
  }

  getWorker(workerId: string): WorkerView {
    const reported = this.registry.findWorker(workerId);
    if (reported) return { ...reported, reservationId: null };
    const reservation = this.findReservationOf(workerId);
    if (reservation) return { hiveId: reservation.hiveId, worker: reservationAsWorker(reservation), reservationId: reservation.id };
    throw notFound('worker', workerId);
  }

  /** Asks the worker's hive to stop it and releases any capacity still held for it. */
  async stopWorker(workerId: string): Promise<{ hiveId: string }> {
    const { hiveId, reservationId } = this.getWorker(workerId);
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
    if (reservationId) this.registry.releaseReservation(reservationId);
    return { hiveId };
  }

  private findReservationOf(workerId: string): Reservation | undefined {
    return this.registry.listReservations(this.clock.now()).find((r) => r.workerId === workerId);
  }
}
