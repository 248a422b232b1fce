import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiParam, ApiTags } from '@nestjs/swagger';
import { ApiAdminProblems, ApiProblem } from '../platform/docs/problem-responses';
import { ListWorkersQueryDto, WorkerDto, WorkerListDto } from './dto/live-state.dto';
import { FleetView } from './fleet-view';

@ApiTags('workers')
@ApiBearerAuth()
@ApiAdminProblems()
@Controller('v1/workers')
export class WorkerViewsController {
  constructor(private readonly fleet: FleetView) {}

  /**
   * List workers
   * @remarks Workers the hives report, plus those still starting (held by a reservation), optionally of
   * one hive or one model.
   */
  @Get()
  @ApiOkResponse({ type: WorkerListDto, description: 'Workers, and how many' })
  list(@Query() query: ListWorkersQueryDto): WorkerListDto {
    const items = this.fleet.workers({ hiveId: query.hive_id, modelId: query.model_id });
    return { items, total: items.length };
  }

  /**
   * Get a worker
   * @remarks One worker as its hive last reported it, or as starting while its reservation holds.
   */
  @Get(':id')
  @ApiParam({ name: 'id', description: 'Worker id', example: 'w-3f2a9c' })
  @ApiOkResponse({ type: WorkerDto, description: 'The worker' })
  @ApiProblem(404, 'No such worker')
  get(@Param('id') id: string): WorkerDto {
    return this.fleet.worker(id);
  }
}
