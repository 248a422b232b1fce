import { Body, Controller, HttpCode, HttpStatus, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { ApiAdminProblems, ApiProblemResponse } from '../docs/problem-responses';
import { PlacementDto, PlacementRejectedDto, PlacementRequestDto } from './dto/placement.dto';
import { toPlacementDto, toPlacementRequest } from './scheduling.mapping';
import { SchedulerService } from './scheduler.service';

@ApiTags('scheduling')
@ApiBearerAuth()
@ApiAdminProblems()
@Controller('v1/placements')
export class PlacementsController {
  constructor(private readonly scheduler: SchedulerService) {}

  /** Where a worker would go now: a plan only, nothing is reserved or started. */
  @Post()
  @HttpCode(HttpStatus.OK)
  @ApiProblemResponse(409, 'No hive can take the worker; `rejections` says why per hive', PlacementRejectedDto)
  @ApiProblemResponse(404, 'The pinned hive does not exist')
  plan(@Body() body: PlacementRequestDto): PlacementDto {
    return toPlacementDto(this.scheduler.plan(toPlacementRequest(body)));
  }
}
