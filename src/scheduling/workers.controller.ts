import { Body, Controller, Delete, HttpCode, HttpStatus, Param, Post } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiBody, ApiParam, ApiTags } from '@nestjs/swagger';
import { Clock } from '../platform/clock/clock';
import { ApiAdminProblems, ApiBodyProblems, ApiProblem } from '../platform/docs/problem-responses';
import { notFound } from '../platform/http/problem';
import { HiveRegistry } from '../registry/hive-registry';
import { PLACEMENT_REQUEST_EXAMPLES, PlacementRejectedDto, PlacementRequestDto } from './dto/placement.dto';
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
   * Start a worker
   * @remarks Places the worker, holds its capacity and asks the chosen hive to start it; if that hive
   * refuses, the next best is tried. A hive whose answer never came may have started it, so it is not
   * tried again elsewhere.
   */
  @Post()
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiBody({ type: PlacementRequestDto, examples: PLACEMENT_REQUEST_EXAMPLES })
  @ApiAcceptedResponse({ type: WorkerStartedDto, description: 'A hive is starting the worker; its capacity is held' })
  @ApiProblem(409, 'No hive can take the worker', PlacementRejectedDto)
  @ApiProblem(404, 'The pinned hive does not exist')
  @ApiProblem(503, 'Hives that could take it all failed to start it; `tried` gives each hive\'s own answer')
  @ApiBodyProblems()
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

  /**
   * Stop a worker
   * @remarks Asks the worker's hive to stop it and releases the capacity held for it.
   */
  @Delete(':id')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiParam({ name: 'id', description: 'Worker id', example: 'w-3f2a9c' })
  @ApiAcceptedResponse({ type: WorkerStoppingDto, description: 'The hive is stopping the worker' })
  @ApiProblem(404, 'No such worker')
  @ApiProblem(503, 'The hive could not be reached')
  async stop(@Param('id') id: string): Promise<WorkerStoppingDto> {
    const reported = this.registry.findWorker(id);
    const reservation = this.registry.reservationOfWorker(id, this.clock.now());
    const hiveId = reported?.hiveId ?? reservation?.hiveId;
    if (hiveId === undefined) throw notFound('worker', id);
    await this.spawner.stopWorker(id, hiveId, reservation?.id ?? null);
    return { worker_id: id, hive_id: hiveId, state: 'stopping' };
  }
}
