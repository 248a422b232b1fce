import { Body, Controller, Delete, HttpCode, HttpStatus, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { Clock } from '../platform/clock/clock';
import { ApiAdminProblems, ApiProblemResponse } from '../platform/docs/problem-responses';
import { notFound } from '../platform/http/problem';
import { HiveRegistry } from '../registry/hive-registry';
import { PlacementRejectedDto, PlacementRequestDto } from './dto/placement.dto';
import { WorkerStartedDto, WorkerStoppingDto } from './dto/worker.dto';
import { toPlacementRequest } from './scheduling.mapping';
import { WorkerSpawner } from './worker-spawner';

@ApiTags('workers')
@ApiBearerAuth()
@ApiAdminProblems()
@Controller('v1/workers')
export class WorkersController {
  constructor(
    private readonly spawner: WorkerSpawner,
    private readonly registry: HiveRegistry,
    private readonly clock: Clock,
  ) {}

  /**
   * Places the worker, holds its capacity and asks the chosen hive to start it.
   * If that hive fails, the next best is tried.
   */
  @Post()
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiProblemResponse(409, 'No hive can take the worker', PlacementRejectedDto)
  @ApiProblemResponse(503, 'Hives that could take it all failed to start it')
  async start(@Body() body: PlacementRequestDto): Promise<WorkerStartedDto> {
    const started = await this.spawner.startWorker(toPlacementRequest(body));
    return {
      worker_id: started.workerId,
      hive_id: started.hiveId,
      device: started.device,
      reservation_id: started.reservationId,
      state: 'starting',
    };
  }

  /** Asks the worker's hive to stop it. */
  @Delete(':id')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiProblemResponse(404, 'No such worker')
  @ApiProblemResponse(503, 'The hive could not be reached')
  async stop(@Param('id') id: string): Promise<WorkerStoppingDto> {
    const reported = this.registry.findWorker(id);
    const reservation = this.registry.reservationOfWorker(id, this.clock.now());
    const hiveId = reported?.hiveId ?? reservation?.hiveId;
    if (hiveId === undefined) throw notFound('worker', id);
    await this.spawner.stopWorker(id, hiveId, reservation?.id ?? null);
    return { worker_id: id, hive_id: hiveId, state: 'stopping' };
  }
}
