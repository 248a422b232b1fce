import { Injectable, OnModuleInit } from '@nestjs/common';
import { DeploymentCatalog, StoredDeployment } from '../catalog/deployment-catalog';
import type { DeploymentSpec } from '../catalog/deployment.entity';
import { Clock } from '../platform/clock/clock';
import { FleetEvents } from '../platform/events/fleet-events';
import { QueenMetrics } from '../platform/metrics/queen-metrics';
import { deploymentReason } from '../domain/reconcile';
import { DeploymentFacts } from './deployment-facts';
import type { CreateDeploymentDto, DeploymentDto, DeploymentListDto, PatchDeploymentDto } from './dto/deployment.dto';
import { Reconciler } from './reconciler.service';

/** Desired state in, its status out: the deployments API, on the catalog's table and the live view. */
@Injectable()
export class DeploymentsService implements OnModuleInit {
  constructor(
    private readonly catalog: DeploymentCatalog,
    private readonly facts: DeploymentFacts,
    private readonly reconciler: Reconciler,
    private readonly events: FleetEvents,
    private readonly metrics: QueenMetrics,
    private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.metrics.provideDeploymentReplicas(() =>
      this.catalog.list().flatMap((deployment) => {
        const { status } = this.toDto(deployment);
        return [
          { deployment: deployment.name, state: 'desired', count: deployment.spec.replicas },
          { deployment: deployment.name, state: 'ready', count: status.ready },
          { deployment: deployment.name, state: 'starting', count: status.starting },
          { deployment: deployment.name, state: 'lost', count: status.lost },
          { deployment: deployment.name, state: 'unplaced', count: status.unplaced },
        ];
      }),
    );
  }

  async create(body: CreateDeploymentDto): Promise<DeploymentDto> {
    const spec: DeploymentSpec = {
      modelId: body.model_id,
      replicas: body.replicas,
      vramBytes: body.vram_bytes,
      ramBytes: body.ram_bytes ?? 0,
      backend: body.backend ?? null,
      strategy: body.strategy ?? 'binpack',
      labels: body.labels ?? {},
      maxPerHive: body.max_per_hive ?? null,
    };
    const created = await this.catalog.create(body.name, spec);
    this.events.publish('deployment.created', this.clock.now(), { deployment: created.name, replicas: spec.replicas, model_id: spec.modelId });
    this.reconciler.soon();
    return this.toDto(created);
  }

  async update(name: string, body: PatchDeploymentDto, ifMatch?: string): Promise<DeploymentDto> {
    const updated = await this.catalog.update(
      name,
      { replicas: body.replicas, strategy: body.strategy, labels: body.labels, maxPerHive: body.max_per_hive },
      ifMatch,
    );
    this.events.publish('deployment.updated', this.clock.now(), { deployment: name, replicas: updated.spec.replicas });
    this.reconciler.soon();
    return this.toDto(updated);
  }

  /** Deletes the deployment; the reconciler then asks each hive to stop its workers. */
  async remove(name: string, ifMatch?: string): Promise<void> {
    await this.catalog.remove(name, ifMatch);
    this.events.publish('deployment.deleted', this.clock.now(), { deployment: name });
    this.reconciler.soon();
  }

  get(name: string): DeploymentDto {
    return this.toDto(this.catalog.get(name));
  }

  etagOf(name: string): string {
    return this.catalog.get(name).etag;
  }

  list(limit: number, offset: number): DeploymentListDto {
    const all = this.catalog.list();
    return { items: all.slice(offset, offset + limit).map((deployment) => this.toDto(deployment)), total: all.length };
  }

  /** The deployment with its status as the live view shows it now (the same reading the reconciler acts on). */
  toDto(deployment: StoredDeployment): DeploymentDto {
    const now = this.clock.now();
    const { spec } = deployment;
    const standings = this.facts.standings(this.catalog.workersOf(deployment.name), this.reconciler.standingRule, now);
    const counted = standings.filter(({ standing }) => standing === 'ready' || standing === 'starting' || standing === 'lost');
    const count = (standing: string) => counted.filter((entry) => entry.standing === standing).length;
    const ready = count('ready');
    const outcome = this.reconciler.outcomeOf(deployment.name);
    const unplaced = Math.max(0, Math.min(outcome?.unplaced ?? 0, spec.replicas - counted.length));
    const reason = deploymentReason({
      replicas: spec.replicas,
      ready,
      lost: count('lost'),
      unplaced,
      backingOff: outcome?.backingOff ?? false,
      outage: this.reconciler.outage,
    });
    return {
      name: deployment.name,
      model_id: spec.modelId,
      replicas: spec.replicas,
      vram_bytes: spec.vramBytes,
      ram_bytes: spec.ramBytes,
      backend: spec.backend,
      strategy: spec.strategy,
      labels: { ...spec.labels },
      max_per_hive: spec.maxPerHive,
      created_at: deployment.createdAt.toISOString(),
      updated_at: deployment.updatedAt.toISOString(),
      status: {
        ready,
        starting: count('starting'),
        lost: count('lost'),
        unplaced,
        reason,
        workers: counted
          .sort((a, b) => a.worker.startedAt - b.worker.startedAt || (a.worker.workerId < b.worker.workerId ? -1 : 1))
          .map(({ worker, state }) => ({ worker_id: worker.workerId, hive_id: worker.hiveId, device: worker.device, state })),
      },
    };
  }
}
