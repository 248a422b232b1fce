import { Body, Controller, HttpCode, HttpStatus, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { ApiAdminProblems, ApiProblemResponse } from '../platform/docs/problem-responses';
import { PlacementDto, PlacementRejectedDto, PlacementRequestDto } from './dto/placement.dto';
import { PlacementService } from './placement.service';
import { toPlacementDto, toPlacementRequest } from './scheduling.mapping';

@ApiTags('scheduling')
@ApiBearerAuth()
@ApiAdminProblems()
@Controller('v1/placements')
export class PlacementsController {
  constructor(private readonly placements: PlacementService) {}

  /** Where a worker would go now: a plan only, nothing is reserved or started. */
  @Post()
  @HttpCode(HttpStatus.OK)
  @ApiProblemResponse(409, 'No hive can take the worker; `rejections` says why per hive', PlacementRejectedDto)
  @ApiProblemResponse(404, 'The pinned hive does not exist')
  plan(@Body() body: PlacementRequestDto): PlacementDto {
    return toPlacementDto(this.placements.plan(toPlacementRequest(body)));
  }
}
