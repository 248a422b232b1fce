import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { ApiAdminProblems, ApiProblemResponse } from '../docs/problem-responses';
import { WorkerDto } from '../registry/dto/live-state.dto';
import { PlacementRejectedDto, PlacementRequestDto } from './dto/placement.dto';
import { ListWorkersQueryDto, WorkerListDto, WorkerStartedDto, WorkerStoppingDto } from './dto/worker.dto';
import { toPlacementRequest, toWorkerViewDto } from './scheduling.mapping';
import { SchedulerService } from './scheduler.service';

@ApiTags('scheduling')
@ApiBearerAuth()
@ApiAdminProblems()
@Controller('v1/workers')
export class WorkersController {
  constructor(private readonly scheduler: SchedulerService) {}

  /**
   * Places the worker, holds its capacity and asks the chosen hive to start it.
   * If that hive fails, the next best is tried.
   */
  @Post()
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiProblemResponse(409, 'No hive can take the worker', PlacementRejectedDto)
  @ApiProblemResponse(503, 'Hives that could take it all failed to start it')
  async start(@Body() body: PlacementRequestDto): Promise<WorkerStartedDto> {
    const started = await this.scheduler.startWorker(toPlacementRequest(body));
    return {
      worker_id: started.workerId,
      hive_id: started.hiveId,
      device: started.device,
      reservation_id: started.reservationId,
      state: 'starting',
    };
  }

  /** Workers the hives report, plus those still starting (held by a reservation). */
  @Get()
  list(@Query() query: ListWorkersQueryDto): WorkerListDto {
    const items = this.scheduler.listWorkers({ hiveId: query.hive_id, modelId: query.model_id }).map(toWorkerViewDto);
    return { items, total: items.length };
  }

  @Get(':id')
  @ApiProblemResponse(404, 'No such worker')
  get(@Param('id') id: string): WorkerDto {
    return toWorkerViewDto(this.scheduler.getWorker(id));
  }

  /** Asks the worker's hive to stop it. */
  @Delete(':id')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiProblemResponse(404, 'No such worker')
  @ApiProblemResponse(503, 'The hive could not be reached')
  async stop(@Param('id') id: string): Promise<WorkerStoppingDto> {
    const { hiveId } = await this.scheduler.stopWorker(id);
    return { worker_id: id, hive_id: hiveId, state: 'stopping' };
  }
}
