import { HttpStatus, Injectable } from '@nestjs/common';
import { HiveRegistry } from '../registry/hive-registry';
import { Clock } from '../platform/clock/clock';
import { notFound, ProblemException } from '../platform/http/problem';
import { QueenMetrics } from '../platform/metrics/queen-metrics';
import { FleetCapacity, place, Placement, PlacementRequest, PlacementResult, Rejections } from './placement';

/**
 * The 409 answer when no hive can take a worker, naming each hive's reason; with `rejections` null (a
 * caller that did not ask for them, see {@link place}) it names none.
 */
export function rejectedProblem(rejections: Rejections | null, pinned: string | undefined): ProblemException {
  if (rejections === null) {
    return new ProblemException(HttpStatus.CONFLICT, 'no-placement', pinned ? `hive "${pinned}" cannot take this worker` : 'no hive can take this worker');
  }
  const detail = pinned
    ? `hive "${pinned}" cannot take this worker: ${rejections.reasonOf(pinned)}`
    : rejections.size > 0
      ? 'no hive can take this worker'
      : 'no hive is registered';
  return new ProblemException(HttpStatus.CONFLICT, 'no-placement', detail, { rejections });
}

/**
 * Decides where workers go, from the registry's live view in memory (no SQL
 * on this path). Nothing is held here: see WorkerSpawner for that.
 */
@Injectable()
export class PlacementService {
  constructor(
    private readonly registry: HiveRegistry,
    private readonly metrics: QueenMetrics,
    private readonly clock: Clock,
  ) {}

  /** The fleet as placement reads it at `now`. */
  fleetAt(now: number): FleetCapacity {
    const registry = this.registry;
    const index = registry.capacityIndex(now);
    return {
      now,
      liveness: registry.liveness,
      index,
      hive: (hiveId) => registry.view(hiveId, now),
      hives: () => registry.hives(now),
    };
  }

  /** The best placement now; nothing is held. */
  plan(request: PlacementRequest): Placement {
    const result = this.decide(request, new Set());
    this.metrics.placements.inc({ route: 'plan', result: result.ok ? 'placed' : 'rejected' });
    if (!result.ok) throw rejectedProblem(result.rejections, request.hiveId);
    return result.placement;
  }

  /**
   * The best placement at the clock's now among hives not in `exclude`; 404 for a pin to an unknown hive.
   * With `explain` false a refusal names no hive's reason (see {@link place}).
   */
  decide(request: PlacementRequest, exclude: ReadonlySet<string>, explain = true): PlacementResult {
    const now = this.clock.now();
    if (request.hiveId !== undefined && this.registry.view(request.hiveId, now) === undefined) throw notFound('hive', request.hiveId);
    return place(request, this.fleetAt(now), exclude, explain);
  }
}
