import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiAdminProblems } from '../platform/docs/problem-responses';
import { FleetSummaryDto } from './dto/live-state.dto';
import { FleetView } from './fleet-view';

@ApiTags('fleet')
@ApiBearerAuth()
@ApiAdminProblems()
@Controller('v1/fleet')
export class FleetController {
  constructor(private readonly fleet: FleetView) {}

  /**
   * Get fleet totals
   * @remarks Fleet-wide totals, as the dashboard shows them: the same figures as the `queen_hives`,
   * `queen_workers`, `queen_vram_bytes` and `queen_reservations` metrics.
   */
  @Get()
  @ApiOkResponse({ type: FleetSummaryDto, description: 'Fleet totals' })
  summary(): FleetSummaryDto {
    return this.fleet.summary();
  }
}
