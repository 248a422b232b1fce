import { randomBytes } from 'node:crypto';
import { BeforeApplicationShutdown, HttpStatus, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { DeploymentCatalog, StoredDeployment } from '../catalog/deployment-catalog';
import {
  Backoff,
  BRAKE_OFF,
  DeploymentPlan,
  NO_BACKOFF,
  nextBrake,
  OutageBrake,
  planDeployment,
  ReconcileAction,
  StandingRule,
} from '../domain/reconcile';
import { Clock } from '../platform/clock/clock';
import { ClusterLink } from '../platform/cluster/cluster-link';
import { QueenConfig } from '../platform/config/queen-config';
import { FleetEvents } from '../platform/events/fleet-events';
import { ProblemException } from '../platform/http/problem';
import { QueenMetrics } from '../platform/metrics/queen-metrics';
import { HiveRegistry } from '../registry/hive-registry';
import type { PlacementRequest } from '../scheduling/placement';
import { WorkerSpawner } from '../scheduling/worker-spawner';
import { DeploymentFacts } from './deployment-facts';

/** What the last pass found for a deployment, for its status between passes. */
export interface DeploymentOutcome {
  /** Replicas it did not place: no hive had room, or the backoff held them. */
  unplaced: number;
  backingOff: boolean;
}

/**
 * Deployments acted on at once in a pass: their hive calls overlap and their worker records are written
 * together; placement stays one decision at a time.
 */
const CONCURRENT_DEPLOYMENTS = 64;

/**
 * Workers started fleet-wide: at most this many at once, then this many a second. Rescheduling the
 * workers of many silent hives, or rolling out many deployments, then neither starves the heartbeats
 * nor the hives (whose model loads compete for disk and network); the rest follows pass by pass.
 */
const START_BURST = 200;
/** Passes asked for by changes start at least this long after the previous one ended. */
const MIN_PASS_GAP_MS = 250;
const STARTS_PER_SECOND = 30;

/** A new worker's id: the deployment's name and 8 random hex digits, within the 63 characters of an id. */
const newWorkerId = (deployment: string) => `${deployment.slice(0, 54)}-${randomBytes(4).toString('hex')}`;

function placementOf(deployment: StoredDeployment): PlacementRequest {
  const { spec } = deployment;
  return {
    modelId: spec.modelId,
    vramBytes: spec.vramBytes,
    ramBytes: spec.ramBytes,
    backend: spec.backend ?? undefined,
    strategy: spec.strategy,
    labels: Object.keys(spec.labels).length > 0 ? spec.labels : undefined,
  };
}

/**
 * Keeps deployments' replicas running: every RECONCILE_INTERVAL_MS, and soon after anything that may
 * call for it (a deployment changed, a worker or hive came or went), one pass at a time. A pass asks
 * the pure planner (domain/reconcile.ts) what to do for each deployment and does it through the
 * scheduler; each worker is recorded before its hive is asked to start it.
 */
@Injectable()
export class Reconciler implements OnModuleInit, OnModuleDestroy, BeforeApplicationShutdown {
  private readonly logger = new Logger(Reconciler.name);
  private timer: NodeJS.Timeout | undefined;
  private subscription: Subscription | undefined;
  private leadership: Subscription | undefined;
  private running: Promise<void> | null = null;
  private rerun = false;
  private scheduled = false;
  private stopped = false;
  private readonly backoffs = new Map<string, Backoff>();
  private readonly outcomes = new Map<string, DeploymentOutcome>();
  private brake: OutageBrake = BRAKE_OFF;
  private startTokens = START_BURST;
  /** performance.now() when the last pass ended (CPU pacing, not domain time). */
  private lastPassEndedAt = -Infinity;
  private tokensAt = -Infinity;

  constructor(
    private readonly deployments: DeploymentCatalog,
    private readonly registry: HiveRegistry,
    private readonly facts: DeploymentFacts,
    private readonly spawner: WorkerSpawner,
    private readonly events: FleetEvents,
    private readonly metrics: QueenMetrics,
    private readonly clock: Clock,
    private readonly config: QueenConfig,
    private readonly cluster: ClusterLink,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => this.soon(), this.config.reconcileIntervalMs);
    this.timer.unref();
    this.subscription = this.events.stream.subscribe((event) => {
      if (event.type.startsWith('worker.') || event.type === 'hive.offline' || event.type === 'hive.online' || event.type === 'hive.removed') this.soon();
    });
    // A queen that takes the lead acts on what the database holds (the last leader's records), not on its mirror.
    let leading = this.cluster.leading;
    this.leadership = this.cluster.changes.subscribe((now) => {
      if (now.leading && !leading) {
        this.deployments.reloadAll().then(
          () => this.soon(),
          (error: Error) => this.logger.warn(`could not read the deployments on taking the lead: ${error.message}`),
        );
      }
      leading = now.leading;
    });
    this.soon();
  }

  onModuleDestroy(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.subscription?.unsubscribe();
    this.leadership?.unsubscribe();
  }

  /** A pass under way finishes before the database closes. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.running?.catch(() => undefined);
  }

  /** The fleet-outage brake holds now. */
  get outage(): boolean {
    return this.brake.held;
  }

  get standingRule(): StandingRule {
    return { rescheduleAfterMs: this.config.rescheduleAfterMs, outage: this.brake.held, brakeReleasedAt: this.brake.releasedAt };
  }

  outcomeOf(name: string): DeploymentOutcome | undefined {
    return this.outcomes.get(name);
  }

  /**
   * A pass soon: after this turn of the event loop, or {@link MIN_PASS_GAP_MS} after the last pass ended
   * when that is later. Requests meanwhile coalesce, so a fleet that keeps changing gets a few passes a
   * second, not one per change.
   */
  soon(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    const wait = Math.max(0, this.lastPassEndedAt + MIN_PASS_GAP_MS - performance.now());
    const run = () => {
      this.scheduled = false;
      if (!this.stopped) void this.runOnce();
    };
    if (wait === 0) setImmediate(run);
    else setTimeout(run, wait).unref();
  }

  /** Runs a pass, or, while one runs, one more right after it; resolves when that is done. */
  runOnce(): Promise<void> {
    if (this.running) {
      this.rerun = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.rerun = false;
        await this.pass();
      } while (this.rerun && !this.stopped);
    })().finally(() => (this.running = null));
    return this.running;
  }

  private async pass(): Promise<void> {
    // Only the leader reconciles: the others would start the same replicas again.
    if (!this.cluster.leading) return;
    const started = performance.now();
    const now = this.clock.now();
    try {
      this.updateBrake(now);
      const rule = this.standingRule;
      const names = new Set<string>();
      // The lanes below take the plans off this queue as they go, so the pass holds none it has carried out.
      const queue: { deployment: StoredDeployment; plan: DeploymentPlan }[] = [];
      // Starts beyond what the budget has now wait for a later pass, so the pass holds no plans for them.
      let startsLeft = this.refillStartTokens();
      for (const deployment of this.deployments.list()) {
        names.add(deployment.name);
        const workers = this.facts.standings(this.deployments.workersOf(deployment.name), rule, now);
        const plan = planDeployment(
          { name: deployment.name, replicas: deployment.spec.replicas, maxPerHive: deployment.spec.maxPerHive },
          workers,
          this.backoffs.get(deployment.name) ?? NO_BACKOFF,
          rule,
          now,
        );
        this.backoffs.set(deployment.name, plan.backoff);
        const onlyStarts = plan.actions.length === 1 && plan.toStart > 0;
        // One that found no room last time is asked again without counting against the budget: a refusal
        // takes no start, and counting it would keep the deployments behind it from ever being reached.
        const lastUnplaced = (this.outcomes.get(deployment.name)?.unplaced ?? 0) > 0;
        if (plan.actions.length === 0 || (onlyStarts && startsLeft < 1 && !lastUnplaced)) {
          this.noteOutcome(deployment.name, plan.heldBack, plan.heldBack > 0);
          continue;
        }
        queue.push({ deployment, plan });
        if (!lastUnplaced) startsLeft -= plan.toStart;
      }
      // Evictions of every deployment in one write; then each deployment's starts and stops, several
      // deployments at a time so that hive calls overlap (catalog writes still go one at a time).
      const evictions = queue.flatMap(({ plan }) => plan.actions.filter((action) => action.kind === 'evict'));
      if (evictions.length > 0) await this.evict(evictions);
      await Promise.all(
        Array.from({ length: Math.min(CONCURRENT_DEPLOYMENTS, queue.length) }, async () => {
          for (let next = queue.shift(); next; next = queue.shift()) await this.carryOut(next.deployment, next.plan, now);
        }),
      );
      // Workers of deployments deleted since: stopped, then forgotten.
      for (const worker of [...this.deployments.allWorkers()]) {
        if (!names.has(worker.deployment)) await this.stop(worker.workerId, worker.hiveId, worker.deployment, 'deleted');
      }
      for (const name of [...this.outcomes.keys()]) if (!names.has(name)) this.outcomes.delete(name);
      for (const name of [...this.backoffs.keys()]) if (!names.has(name)) this.backoffs.delete(name);
    } catch (error) {
      this.logger.warn(`reconcile pass failed, the next one retries: ${(error as Error).message}`);
    } finally {
      this.lastPassEndedAt = performance.now();
      this.metrics.reconcileDuration.observe((this.lastPassEndedAt - started) / 1000);
    }
  }

  private updateBrake(now: number): void {
    const fleet = { [Symbol.iterator]: () => this.registry.hives(now) };
    const next = nextBrake(this.brake, fleet, this.registry.liveness, now);
    if (next.held && !this.brake.held) {
      this.logger.warn(`fleet outage: ${next.baseline.length} hive(s) were live, most went away at once; nothing is moved off them until they return`);
      this.events.publish('fleet.outage', now, { hives: next.baseline.length });
    } else if (!next.held && this.brake.held) {
      this.logger.log('fleet recovered: no more than half of the hives are away; rescheduling resumes');
      this.events.publish('fleet.recovered', now, {});
    }
    this.brake = next;
  }

  private async carryOut(deployment: StoredDeployment, plan: DeploymentPlan, now: number): Promise<void> {
    let unplaced = 0;
    for (const action of plan.actions) {
      if (action.kind === 'evict') continue; // written for every deployment at once, before
      if (action.kind === 'start') unplaced += await this.start(deployment, action, now);
      else if (action.kind === 'stop') await this.stop(action.workerId, action.hiveId, deployment.name, action.why);
      else if (action.kind === 'forget') await this.replaceFailed(action);
    }
    this.noteOutcome(deployment.name, unplaced + plan.heldBack, plan.heldBack > 0);
  }

  /** Keeps the outcome a deployment had when it is the same (most passes), rather than a new copy per pass. */
  private noteOutcome(name: string, unplaced: number, backingOff: boolean): void {
    const known = this.outcomes.get(name);
    if (known?.unplaced !== unplaced || known.backingOff !== backingOff) this.outcomes.set(name, { unplaced, backingOff });
  }

  /** Starts up to `count` workers; returns how many could not be placed. */
  private async start(deployment: StoredDeployment, action: Extract<ReconcileAction, { kind: 'start' }>, now: number): Promise<number> {
    const exclude = new Set(action.excludeHives);
    const perHive = new Map<string, number>();
    for (const worker of this.deployments.workersOf(deployment.name)) if (!worker.replaced) perHive.set(worker.hiveId, (perHive.get(worker.hiveId) ?? 0) + 1);
    for (let started = 0; started < action.count; started++) {
      // Paced: what is over the budget waits for the next pass (reason `starting`, not unplaced).
      if (!this.takeStartToken()) return 0;
      const workerId = newWorkerId(deployment.name);
      try {
        const worker = await this.spawner.startWorker(placementOf(deployment), {
          workerId,
          excludeHives: [...exclude],
          explainRefusal: false,
          beforeSpawn: (placed) =>
            this.deployments.recordWorker({ workerId, deployment: deployment.name, hiveId: placed.hiveId, device: placed.device, startedAt: new Date(now) }),
        });
        this.metrics.reconcileActions.inc({ action: 'start' });
        this.events.publish('deployment.worker_started', this.clock.now(), { deployment: deployment.name, worker_id: workerId, hive_id: worker.hiveId, device: worker.device });
        const onHive = (perHive.get(worker.hiveId) ?? 0) + 1;
        perHive.set(worker.hiveId, onHive);
        if (deployment.spec.maxPerHive !== null && onHive >= deployment.spec.maxPerHive) exclude.add(worker.hiveId);
      } catch (error) {
        if (error instanceof ProblemException && error.getStatus() === HttpStatus.CONFLICT) {
          // Nothing was started: the budget is for starts, not for asking where one would fit.
          this.startTokens += 1;
          return action.count - started;
        }
        // The hives tried refused or did not answer: the record stays, and the next pass replaces it as failed.
        this.logger.warn(`deployment ${deployment.name}: could not start a worker: ${(error as Error).message}`);
        return 0;
      }
    }
    return 0;
  }

  /** The fleet-wide start budget now ({@link START_BURST} at most, refilled at {@link STARTS_PER_SECOND}). */
  private refillStartTokens(): number {
    const now = this.clock.now();
    this.startTokens = Math.min(START_BURST, this.startTokens + ((now - this.tokensAt) * STARTS_PER_SECOND) / 1000);
    this.tokensAt = now;
    return this.startTokens;
  }

  /** One start from the fleet-wide budget; false when it is spent. */
  private takeStartToken(): boolean {
    if (this.refillStartTokens() < 1) return false;
    this.startTokens -= 1;
    return true;
  }

  private async stop(workerId: string, hiveId: string, deployment: string, why: string): Promise<void> {
    try {
      await this.spawner.stopWorker(workerId, hiveId, this.registry.reservationOfWorker(workerId, this.clock.now())?.id ?? null);
    } catch (error) {
      // A hive removed from the catalog has nothing left to stop; any other failure is asked again next pass.
      if (error instanceof ProblemException && error.getStatus() === HttpStatus.NOT_FOUND) {
        await this.deployments.forgetWorker(workerId);
        return;
      }
      this.logger.warn(`deployment ${deployment}: could not stop worker ${workerId} on ${hiveId} (${why}): ${(error as Error).message}`);
      return;
    }
    this.metrics.reconcileActions.inc({ action: 'stop' });
    await this.deployments.forgetWorker(workerId);
  }

  private async replaceFailed(action: Extract<ReconcileAction, { kind: 'forget' }>): Promise<void> {
    this.metrics.reconcileActions.inc({ action: 'forget' });
    if (action.why === 'gone') {
      await this.deployments.forgetWorker(action.workerId);
      return;
    }
    // A failed worker may still hold its hive's memory: ask the hive to clear it, whatever it answers.
    await this.spawner.stopWorker(action.workerId, action.hiveId, null).catch(() => undefined);
    await this.deployments.forgetWorker(action.workerId);
    this.events.publish('deployment.worker_replaced', this.clock.now(), { deployment: action.deployment, worker_id: action.workerId, hive_id: action.hiveId, reason: 'failed' });
  }

  private async evict(actions: ReconcileAction[]): Promise<void> {
    await this.deployments.markReplaced(actions.map((action) => (action as Extract<ReconcileAction, { kind: 'evict' }>).workerId));
    this.metrics.reconcileActions.inc({ action: 'evict' }, actions.length);
    for (const action of actions) {
      if (action.kind !== 'evict') continue;
      this.events.publish('deployment.worker_replaced', this.clock.now(), {
        deployment: action.deployment,
        worker_id: action.workerId,
        hive_id: action.hiveId,
        reason: 'hive_offline',
      });
    }
  }
}
