import { HttpStatus, Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { Subscription } from 'rxjs';
import { sameCapabilities } from '../catalog/capabilities';
import { HiveCatalog } from '../catalog/hive-catalog.service';
import { Clock } from '../clock/clock';
import { ProblemException } from '../common/problem';
import { validationProblem } from '../common/validation';
import { QueenConfig } from '../config/queen-config';
import { FleetEvents } from '../events/fleet-events';
import { HiveRegistry } from '../registry/hive-registry';
import { CatalogWriteBehind } from './catalog-write-behind';
import { HeartbeatAckDto, HeartbeatDto } from './dto/heartbeat.dto';
import { firstDuplicateWorker, toCapabilities, toWorkerReport } from './heartbeat.mapping';

/**
 * Applies a hive's heartbeat to the registry and hands the catalog what
 * changed. Runs no SQL: token checks read the catalog's memory, and catalog
 * writes go through {@link CatalogWriteBehind}.
 */
@Injectable()
export class HeartbeatService implements OnModuleInit, OnModuleDestroy {
  private removals: Subscription | undefined;

  constructor(
    private readonly catalog: HiveCatalog,
    private readonly registry: HiveRegistry,
    private readonly writeBehind: CatalogWriteBehind,
    private readonly events: FleetEvents,
    private readonly clock: Clock,
    private readonly config: QueenConfig,
  ) {}

  /** A hive deleted from the catalog leaves the registry too, workers and reservations included. */
  onModuleInit(): void {
    this.removals = this.events.stream.subscribe((event) => {
      if (event.type !== 'hive.removed') return;
      const hiveId = String(event.data.hive_id);
      this.registry.removeHive(hiveId);
      // Pending writes belong to the deleted hive, not to one registered later under its id.
      this.writeBehind.forget(hiveId);
    });
  }

  onModuleDestroy(): void {
    this.removals?.unsubscribe();
  }

  receive(body: HeartbeatDto, token: string | null): HeartbeatAckDto {
    const receivedAt = this.clock.now();
    const hiveId = body.hive_id;
    this.authenticate(hiveId, token);
    this.refuseAmbiguous(body);

    const capabilities = body.capabilities ? toCapabilities(body.capabilities) : null;
    const known = this.knownCapabilities(hiveId);
    const outcome = this.registry.applyHeartbeat(
      hiveId,
      {
        stamp: { sequence: body.sequence ?? null, timestamp: Date.parse(body.timestamp) },
        workers: body.workers.map(toWorkerReport),
        receivedAt,
      },
      this.config.heartbeatTimeoutMs,
    );
    if (!outcome.applied) return this.ack(false, known === null);

    const at = new Date(receivedAt);
    this.writeBehind.noteHeartbeat(hiveId, at);
    // Every change is stored (a new GPU name or core count too), not only changes of capacity.
    if (capabilities && !sameCapabilities(known, capabilities)) {
      this.registry.setCapabilities(hiveId, capabilities);
      this.writeBehind.noteCapabilities(hiveId, capabilities);
      this.events.publish('hive.capabilities', receivedAt, { hive_id: hiveId });
    }
    // After a restart the registry is empty, so a hive's first beat is a transition too.
    if (outcome.cameOnline) {
      this.writeBehind.noteStatus(hiveId, 'online', at);
      this.events.publish('hive.online', receivedAt, { hive_id: hiveId });
    }
    for (const worker of outcome.addedWorkers) {
      this.events.publish('worker.added', receivedAt, { hive_id: hiveId, worker_id: worker.workerId, model_id: worker.modelId, device: worker.device });
    }
    for (const worker of outcome.removedWorkers) {
      this.events.publish('worker.removed', receivedAt, { hive_id: hiveId, worker_id: worker.workerId, model_id: worker.modelId, device: worker.device });
    }
    const capabilitiesRequired = !capabilities && known === null;
    if (capabilitiesRequired) this.events.publish('hive.capabilities_missing', receivedAt, { hive_id: hiveId });
    return this.ack(true, capabilitiesRequired);
  }

  /**
   * Capabilities the registry knows, else the catalog's (after a restart the
   * registry starts empty), which are then cached in the registry.
   */
  private knownCapabilities(hiveId: string) {
    const cached = this.registry.getCapabilities(hiveId);
    if (cached) return cached;
    const stored = this.catalog.findById(hiveId)?.capabilities ?? null;
    if (stored) this.registry.setCapabilities(hiveId, stored);
    return stored;
  }

  private ack(applied: boolean, capabilitiesRequired: boolean): HeartbeatAckDto {
    return {
      acknowledged: true,
      applied,
      next_heartbeat_ms: this.config.heartbeatIntervalMs,
      capabilities_required: capabilitiesRequired,
    };
  }

  private authenticate(hiveId: string, token: string | null): void {
    switch (this.catalog.verifyToken(hiveId, token)) {
      case 'ok':
        return;
      case 'unknown_hive':
        throw new ProblemException(HttpStatus.NOT_FOUND, 'unknown-hive', `hive "${hiveId}" is not registered`);
      case 'missing_token':
        throw new ProblemException(HttpStatus.UNAUTHORIZED, 'unauthorized', 'heartbeats need Authorization: Bearer <hive token>');
      case 'invalid_token':
        throw new ProblemException(HttpStatus.UNAUTHORIZED, 'unauthorized', 'the hive token is not valid');
      case 'token_of_another_hive':
        throw new ProblemException(HttpStatus.FORBIDDEN, 'forbidden', `this token does not belong to hive "${hiveId}"`);
    }
  }

  /** Two workers with one id, or two GPUs with one index, would make usage ambiguous. */
  private refuseAmbiguous(body: HeartbeatDto): void {
    const duplicateWorker = firstDuplicateWorker(body.workers);
    if (duplicateWorker >= 0) {
      throw validationProblem([{ field: `workers.${duplicateWorker}.worker_id`, message: 'worker_id repeats an earlier worker' }]);
    }
    const gpus = body.capabilities?.gpus ?? [];
    const keys = gpus.map((gpu) => `${gpu.backend}:${gpu.index}`);
    const duplicateGpu = keys.findIndex((key, i) => keys.indexOf(key) !== i);
    if (duplicateGpu >= 0) {
      throw validationProblem([{ field: `capabilities.gpus.${duplicateGpu}.index`, message: 'index repeats an earlier GPU of the same backend' }]);
    }
  }
}
