import { Body, Controller, HttpCode, HttpStatus, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiConflictResponse, ApiNotFoundResponse, ApiTags } from '@nestjs/swagger';
import { ProblemDto } from '../common/problem.dto';
import { PlacementDto, PlacementRejectedDto, PlacementRequestDto } from './dto/placement.dto';
import { toPlacementDto, toPlacementRequest } from './scheduling.mapping';
import { SchedulerService } from './scheduler.service';

@ApiTags('scheduling')
@ApiBearerAuth()
@Controller('v1/placements')
export class PlacementsController {
  constructor(private readonly scheduler: SchedulerService) {}

  /** Where a worker would go now: a plan only, nothing is reserved or started. */
  @Post()
  @HttpCode(HttpStatus.OK)
  @ApiConflictResponse({ type: PlacementRejectedDto, description: 'No hive can take the worker; `rejections` says why per hive' })
  @ApiNotFoundResponse({ type: ProblemDto, description: 'The pinned hive does not exist' })
  plan(@Body() body: PlacementRequestDto): PlacementDto {
    return toPlacementDto(this.scheduler.plan(toPlacementRequest(body)));
  }
}
