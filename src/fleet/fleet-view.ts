import { Injectable } from '@nestjs/common';
import type { CatalogHive } from '../catalog/catalog.types';
import { DeploymentCatalog } from '../catalog/deployment-catalog';
import { HiveCatalog } from '../catalog/hive-catalog.service';
import type { HiveCapabilities, HiveStatus } from '../domain/fleet';
import { liveStatus } from '../domain/liveness';
import { Clock } from '../platform/clock/clock';
import { notFound } from '../platform/http/problem';
import { HiveRegistry } from '../registry/hive-registry';
import type { Reservation, WorkerReport } from '../registry/registry.types';
import { HiveDto, HiveListDto, ListHivesQueryDto } from './dto/hive.dto';
import {
  FleetSummaryDto,
  HiveStateDto,
  toCapacityDto,
  toDeviceDtos,
  toWorkerDto,
  WorkerDto,
} from './dto/live-state.dto';

/** A reservation shown as the worker it holds room for, until a heartbeat reports that worker. */
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

function toCapabilitiesDto(capabilities: HiveCapabilities | null): HiveDto['capabilities'] {
  return (
    capabilities && {
      cpu_cores: capabilities.cpuCores,
      ram_bytes: capabilities.ramBytes,
      gpus: capabilities.gpus.map((gpu) => ({ index: gpu.index, name: gpu.name, vram_bytes: gpu.vramBytes, backend: gpu.backend })),
    }
  );
}

const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * The read side: every route that shows hives or workers answers from here,
 * joining what the catalog stores (address, SSH, labels, cordon) with what
 * the registry knows now (status by the one liveness rule, last heartbeat,
 * capabilities, workers, usage). Persisting may lag behind; answers do not.
 */
@Injectable()
export class FleetView {
  constructor(
    private readonly catalog: HiveCatalog,
    private readonly registry: HiveRegistry,
    private readonly deployments: DeploymentCatalog,
    private readonly clock: Clock,
  ) {}

  /** One hive as `GET /v1/hives/{id}` shows it. */
  hive(id: string): HiveDto {
    return this.toHiveDto(this.catalog.getById(id), this.clock.now());
  }

  /** The hive's ETag (HiveCatalog.etagOf), sent with the hive. */
  hiveEtag(id: string): string | undefined {
    return this.catalog.etagOf(id);
  }

  /** A page of hives by id, optionally of one status. */
  listHives(query: ListHivesQueryDto): HiveListDto {
    const now = this.clock.now();
    const matching = [...this.catalog.all()].filter((hive) => !query.status || this.statusOf(hive, now) === query.status).sort(byId);
    return { items: matching.slice(query.offset, query.offset + query.limit).map((hive) => this.toHiveDto(hive, now)), total: matching.length };
  }

  toHiveDto(hive: CatalogHive, now: number): HiveDto {
    const live = this.registry.view(hive.id, now);
    const lastHeartbeatAt = live?.lastHeartbeatAt ?? hive.lastHeartbeatAt?.getTime() ?? null;
    return {
      id: hive.id,
      host: hive.host,
      port: hive.port,
      ssh:
        hive.sshUser === null && hive.sshPort === null && !hive.sshCredentialsSet
          ? null
          : { user: hive.sshUser, port: hive.sshPort, credentials_set: hive.sshCredentialsSet },
      labels: { ...hive.labels },
      cordoned: hive.cordoned,
      status: this.statusOf(hive, now),
      last_heartbeat_at: lastHeartbeatAt === null ? null : new Date(lastHeartbeatAt).toISOString(),
      capabilities: toCapabilitiesDto(live ? live.capabilities : hive.capabilities),
      created_at: hive.createdAt.toISOString(),
      updated_at: hive.updatedAt.toISOString(),
    };
  }

  /** Workers, per-GPU and RAM usage of one hive as its heartbeats and reservations show them now. */
  state(id: string): HiveStateDto {
    this.catalog.getById(id);
    const now = this.clock.now();
    const live = this.registry.view(id, now);
    if (live === undefined) throw notFound('hive', id);
    const online = liveStatus(live, this.registry.liveness, now) === 'online';
    return {
      hive_id: id,
      online,
      last_heartbeat_at: live.lastHeartbeatAt === null ? null : new Date(live.lastHeartbeatAt).toISOString(),
      workers: live.workers.map((worker) => toWorkerDto(id, worker)),
      devices: toDeviceDtos(live.resources),
      ram: toCapacityDto(live.resources.ram),
    };
  }

  /** Ids of the hives online now, sorted. */
  activeHiveIds(): string[] {
    return this.registry.activeHiveIds(this.clock.now()).sort();
  }

  /** Workers the hives report, plus those still starting (held by a reservation), by hive then worker id. */
  workers(filter: { hiveId?: string; modelId?: string }): WorkerDto[] {
    const reported = this.registry.listWorkers(filter).map(({ hiveId, worker }) => this.withDeployment({ ...toWorkerDto(hiveId, worker), reservation_id: null }));
    const starting: WorkerDto[] = [];
    for (const reservation of this.registry.reservations(this.clock.now())) {
      if (filter.hiveId !== undefined && reservation.hiveId !== filter.hiveId) continue;
      if (filter.modelId !== undefined && reservation.modelId !== filter.modelId) continue;
      starting.push(this.withDeployment({ ...toWorkerDto(reservation.hiveId, reservationAsWorker(reservation)), reservation_id: reservation.id }));
    }
    return [...reported, ...starting].sort((a, b) =>
      a.hive_id === b.hive_id ? a.worker_id.localeCompare(b.worker_id) : a.hive_id.localeCompare(b.hive_id),
    );
  }

  worker(id: string): WorkerDto {
    const reported = this.registry.findWorker(id);
    if (reported) return this.withDeployment({ ...toWorkerDto(reported.hiveId, reported.worker), reservation_id: null });
    const reservation = this.registry.reservationOfWorker(id, this.clock.now());
    if (reservation) return this.withDeployment({ ...toWorkerDto(reservation.hiveId, reservationAsWorker(reservation)), reservation_id: reservation.id });
    throw notFound('worker', id);
  }

  private withDeployment(worker: WorkerDto): WorkerDto {
    worker.deployment = this.deployments.deploymentOfWorker(worker.worker_id);
    return worker;
  }

  /** Fleet-wide totals: hives by status, workers by state, GPU memory of online hives, reservations. */
  summary(): FleetSummaryDto {
    const now = this.clock.now();
    const hives: Record<HiveStatus, number> = { unknown: 0, online: 0, offline: 0 };
    const workers: Record<string, number> = {};
    const vram = { total_bytes: 0, used_bytes: 0, reserved_bytes: 0 };
    for (const hive of this.registry.hives(now)) {
      const status = liveStatus(hive, this.registry.liveness, now);
      hives[status]++;
      for (const worker of hive.workers) workers[worker.state] = (workers[worker.state] ?? 0) + 1;
      if (status !== 'online') continue;
      for (const device of hive.resources.devices) {
        vram.total_bytes += device.totalBytes;
        vram.used_bytes += device.usedBytes;
        vram.reserved_bytes += device.reservedBytes;
      }
    }
    return { hives, workers, vram, reservations: this.registry.reservationCount(now) };
  }

  private statusOf(hive: CatalogHive, now: number): HiveStatus {
    return this.registry.status(hive.id, now) ?? hive.status;
  }
}
