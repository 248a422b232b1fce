import { Injectable } from '@nestjs/common';
import type { StoredDeploymentWorker } from '../catalog/deployment-catalog';
import { HiveCatalog } from '../catalog/hive-catalog.service';
import { RecordedWorker, StandingRule, standingOf, WorkerFacts, WorkerStanding } from '../domain/reconcile';
import { HiveRegistry } from '../registry/hive-registry';

/** Stored records are frozen and replaced when they change, so each is turned into the planner's shape once, not every pass. */
const recorded = new WeakMap<StoredDeploymentWorker, RecordedWorker>();

const toRecorded = (worker: StoredDeploymentWorker): RecordedWorker => {
  let known = recorded.get(worker);
  if (known === undefined) {
    known = Object.freeze({
      workerId: worker.workerId,
      deployment: worker.deployment,
      hiveId: worker.hiveId,
      device: worker.device,
      startedAt: worker.startedAt.getTime(),
      replaced: worker.replaced,
    });
    recorded.set(worker, known);
  }
  return known;
};

/**
 * What the live view says of the workers the queen started for deployments, for the reconciler and the
 * deployment status alike: both read the registry at the same moment the same way, so a status never
 * tells another story than the reconciler acts on.
 */
@Injectable()
export class DeploymentFacts {
  constructor(
    private readonly registry: HiveRegistry,
    private readonly catalog: HiveCatalog,
  ) {}

  facts(worker: RecordedWorker, now: number): WorkerFacts & { reportedOn: string | null } {
    const view = this.registry.view(worker.hiveId, now);
    const located = this.registry.findWorker(worker.workerId);
    const reported = located?.hiveId === worker.hiveId ? located.worker.state : null;
    // The one liveness rule, as the registry applies it: online is live.
    const live = this.registry.status(worker.hiveId, now) === 'online';
    return {
      reported,
      reportedOn: located?.hiveId ?? null,
      reserved: this.registry.reservationOfWorker(worker.workerId, now) !== undefined,
      hiveLive: live,
      hiveExists: this.catalog.has(worker.hiveId),
      hiveLastHeartbeatAt: view?.lastHeartbeatAt ?? null,
    };
  }

  standings(workers: StoredDeploymentWorker[], rule: StandingRule, now: number): { worker: RecordedWorker; standing: WorkerStanding; state: string }[] {
    return workers.map((stored) => {
      const worker = toRecorded(stored);
      const facts = this.facts(worker, now);
      const standing = standingOf(worker, facts, rule, now);
      const state = standing === 'lost' ? 'lost' : (facts.reported ?? (facts.reserved ? 'starting' : 'missing'));
      return { worker, standing, state };
    });
  }
}
