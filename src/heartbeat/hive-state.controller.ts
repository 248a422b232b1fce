import { Controller, Get, Param } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { ApiAdminProblems, ApiProblemResponse } from '../docs/problem-responses';
import { HiveCatalog } from '../catalog/hive-catalog.service';
import { Clock } from '../clock/clock';
import { QueenConfig } from '../config/queen-config';
import { toCapacityDto, toDeviceDtos, toWorkerDto } from '../registry/dto/live-state.dto';
import { HiveRegistry } from '../registry/hive-registry';
import { computeResources } from '../registry/usage';
import { HiveStateDto } from './dto/hive-state.dto';

/** Live views of hives, from the registry. Registered before the catalog's `/v1/hives/:id`, so `active` is not read as an id. */
@ApiTags('hives')
@ApiBearerAuth()
@ApiAdminProblems()
@Controller('v1/hives')
export class HiveStateController {
  constructor(
    private readonly catalog: HiveCatalog,
    private readonly registry: HiveRegistry,
    private readonly clock: Clock,
    private readonly config: QueenConfig,
  ) {}

  /**
   * Ids of hives heard from within HEARTBEAT_TIMEOUT_MS, sorted.
   * @example ["gpu-node-01"]
   */
  @Get('active')
  active(): string[] {
    return this.registry.listActiveHives(this.config.heartbeatTimeoutMs, this.clock.now()).sort();
  }

  /** Workers, per-GPU and RAM usage of one hive as its heartbeats and reservations show them. */
  @Get(':id/state')
  @ApiProblemResponse(404, 'No such hive')
  state(@Param('id') id: string): HiveStateDto {
    const hive = this.catalog.getById(id);
    const now = this.clock.now();
    const live = this.registry.getHiveState(id);
    const resources =
      this.registry.getAvailableResources(id, now) ?? computeResources(hive.capabilities, [], []);
    const lastHeartbeatAt = live?.lastHeartbeatAt ?? null;
    return {
      hive_id: id,
      online: lastHeartbeatAt !== null && now - lastHeartbeatAt <= this.config.heartbeatTimeoutMs,
      last_heartbeat_at: lastHeartbeatAt === null ? null : new Date(lastHeartbeatAt).toISOString(),
      workers: (live?.workers ?? []).map((worker) => toWorkerDto(id, worker)),
      devices: toDeviceDtos(resources),
      ram: toCapacityDto(resources.ram),
    };
  }
}
