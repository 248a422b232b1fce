import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { ApiAdminProblems, ApiProblemResponse } from '../platform/docs/problem-responses';
import { ListWorkersQueryDto, WorkerDto, WorkerListDto } from './dto/live-state.dto';
import { FleetView } from './fleet-view';

@ApiTags('workers')
@ApiBearerAuth()
@ApiAdminProblems()
@Controller('v1/workers')
export class WorkerViewsController {
  constructor(private readonly fleet: FleetView) {}

  /** Workers the hives report, plus those still starting (held by a reservation). */
  @Get()
  list(@Query() query: ListWorkersQueryDto): WorkerListDto {
    const items = this.fleet.workers({ hiveId: query.hive_id, modelId: query.model_id });
    return { items, total: items.length };
  }

  @Get(':id')
  @ApiProblemResponse(404, 'No such worker')
  get(@Param('id') id: string): WorkerDto {
    return this.fleet.worker(id);
  }
}
