import { HttpStatus, Injectable } from '@nestjs/common';
import { CatalogWriteBehind } from '../catalog/catalog-write-behind';
import { HiveCatalog } from '../catalog/hive-catalog.service';
import { Clock } from '../platform/clock/clock';
import { ClusterLink, PeerMessage } from '../platform/cluster/cluster-link';
import { FleetEvents } from '../platform/events/fleet-events';
import { LoadMonitor } from '../platform/http/load-shedding';
import { ProblemException } from '../platform/http/problem';
import { validationProblem } from '../platform/http/validation';
import { HiveRegistry } from '../registry/hive-registry';
import { CapabilitiesService } from './capabilities.service';
import { DeviceDetection } from './device-detection';
import { HeartbeatAckDto } from './dto/heartbeat-ack.dto';
import { checkHeartbeat, claimedHiveId, HeartbeatBody, HeartbeatWorker } from './dto/heartbeat.schema';
import { firstDuplicateWorker, toCapabilities, toWorkerReport } from './heartbeat.mapping';

/**
 * Applies a hive's heartbeat to the registry and hands the catalog what
 * changed. Runs no SQL: token checks read the catalog's memory, and catalog
 * writes go through {@link CatalogWriteBehind}.
 */
@Injectable()
export class HeartbeatService {
  constructor(
    private readonly catalog: HiveCatalog,
    private readonly registry: HiveRegistry,
    private readonly capabilities: CapabilitiesService,
    private readonly detection: DeviceDetection,
    private readonly writeBehind: CatalogWriteBehind,
    private readonly events: FleetEvents,
    private readonly clock: Clock,
    private readonly load: LoadMonitor,
    private readonly cluster: ClusterLink,
  ) {}

  /**
   * Checks a heartbeat in the order that costs least for a hostile sender: the
   * hive id and its token first, then the whole body, which only a hive's own
   * agent gets to have checked.
   */
  receive(raw: Record<string, unknown>, token: string | null): HeartbeatAckDto {
    const receivedAt = this.clock.now();
    const hiveId = claimedHiveId(raw);
    if (hiveId === null) {
      throw validationProblem([{ field: 'hive_id', message: 'hive_id must be a hive id: 1-63 characters of a-z, 0-9, ".", "_" or "-", starting with a letter or digit' }]);
    }
    this.authenticate(hiveId, token);
    const errors = checkHeartbeat(raw);
    if (errors) throw validationProblem(errors);
    const body = raw as unknown as HeartbeatBody;
    this.refuseAmbiguous(body);

    const sequence = body.sequence ?? null;
    const timestamp = Date.parse(body.timestamp);
    const outcome = this.registry.applyHeartbeat(hiveId, { stamp: { sequence, timestamp }, workers: body.workers.map(toWorkerReport), receivedAt });
    if (!outcome.applied) return this.ack(false, this.capabilities.known(hiveId, receivedAt) === null);
    if (this.cluster.clustered) this.cluster.share({ t: 'hb', hive: hiveId, at: receivedAt, seq: sequence, ts: timestamp, workers: body.workers });

    this.writeBehind.noteHeartbeat(hiveId, receivedAt);
    if (body.capabilities) this.capabilities.apply(hiveId, toCapabilities(body.capabilities), 'heartbeat', receivedAt);
    if (outcome.cameOnline) {
      this.writeBehind.noteStatus(hiveId, 'online', new Date(receivedAt));
      this.events.publish('hive.online', receivedAt, { hive_id: hiveId });
    }
    for (const worker of outcome.addedWorkers) {
      this.events.publish('worker.added', receivedAt, { hive_id: hiveId, worker_id: worker.workerId, model_id: worker.modelId, device: worker.device });
    }
    for (const worker of outcome.removedWorkers) {
      this.events.publish('worker.removed', receivedAt, { hive_id: hiveId, worker_id: worker.workerId, model_id: worker.modelId, device: worker.device });
    }
    const capabilitiesRequired = this.capabilities.known(hiveId, receivedAt) === null;
    if (capabilitiesRequired) void this.detection.detect(hiveId);
    return this.ack(true, capabilitiesRequired);
  }

  /**
   * A heartbeat another queen received and applied: the same change to this queen's registry, without
   * the catalog writes and events, which that queen made. A hive this queen does not know (yet) is skipped.
   */
  applyShared(message: Extract<PeerMessage, { t: 'hb' }>): void {
    if (!this.catalog.has(message.hive)) return;
    this.registry.applyHeartbeat(message.hive, {
      stamp: { sequence: message.seq, timestamp: message.ts },
      workers: (message.workers as HeartbeatWorker[]).map(toWorkerReport),
      receivedAt: message.at,
    });
  }

  private ack(applied: boolean, capabilitiesRequired: boolean): HeartbeatAckDto {
    return {
      acknowledged: true,
      applied,
      next_heartbeat_ms: this.load.heartbeatIntervalMs(),
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
  private refuseAmbiguous(body: HeartbeatBody): void {
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
