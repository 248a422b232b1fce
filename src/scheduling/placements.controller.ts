import { Body, Controller, HttpCode, HttpStatus, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiAdminProblems, ApiBodyProblems, ApiProblem } from '../platform/docs/problem-responses';
import { PLACEMENT_REQUEST_EXAMPLES, PlacementDto, PlacementRejectedDto, PlacementRequestDto } from './dto/placement.dto';
import { PlacementService } from './placement.service';
import { toPlacementDto, toPlacementRequest } from './scheduling.mapping';

@ApiTags('scheduling')
@ApiBearerAuth()
@ApiAdminProblems()
@Controller('v1/placements')
export class PlacementsController {
  constructor(private readonly placements: PlacementService) {}

  /**
   * Plan a placement
   * @remarks Where a worker with these needs would go now: the hive and GPU that fit best. A plan only:
   * nothing is reserved or started.
   */
  @Post()
  @HttpCode(HttpStatus.OK)
  @ApiBody({ type: PlacementRequestDto, examples: PLACEMENT_REQUEST_EXAMPLES })
  @ApiOkResponse({ type: PlacementDto, description: 'The hive and device chosen' })
  @ApiBodyProblems()
  @ApiProblem(409, 'No hive can take the worker; `rejections` says why per hive', PlacementRejectedDto)
  @ApiProblem(404, 'The pinned hive does not exist')
  plan(@Body() body: PlacementRequestDto): PlacementDto {
    return toPlacementDto(this.placements.plan(toPlacementRequest(body)));
  }
}
