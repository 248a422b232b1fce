import { Body, Controller, HttpCode, HttpStatus, Post } from '@nestjs/common';
import { PlacementDto, PlacementRequestDto } from '../../../src/scheduling/dto/placement.dto';
import { toPlacementRequest } from '../../../src/scheduling/scheduling.mapping';

/**
 * POST /v1/placements with the queen's own DTO class and mapping (the same
 * class-validator and class-transformer work as the queen), answering a
 * placement-shaped body without looking at any fleet. What is left of the
 * queen's time per request on top of this is the placement decision itself
 * (plus auth guard, metrics and logging).
 */
@Controller('v1/placements')
export class PlacementBaselineController {
  @Post()
  @HttpCode(HttpStatus.OK)
  plan(@Body() body: PlacementRequestDto): PlacementDto {
    const request = toPlacementRequest(body);
    const cpu = request.backend === 'cpu' || request.vramBytes === 0;
    return {
      hive_id: request.hiveId ?? 'bench-00001',
      device: cpu ? 'cpu' : 'cuda:0',
      backend: cpu ? 'cpu' : (request.backend ?? 'cuda'),
      device_id: cpu ? null : 0,
      score: 0.5,
    };
  }
}
