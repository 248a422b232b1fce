import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiAdminProblems } from '../platform/docs/problem-responses';
import { ClusterService } from './cluster.service';
import { ClusterDto } from './dto/cluster.dto';

@ApiTags('cluster')
@ApiBearerAuth()
@ApiAdminProblems()
@Controller('v1/cluster')
export class ClusterController {
  constructor(private readonly cluster: ClusterService) {}

  /**
   * Get the cluster
   * @remarks The queens serving this fleet, the one that answered and the one that leads.
   */
  @Get()
  @ApiOkResponse({ type: ClusterDto, description: 'The queens and the leader' })
  describe(): ClusterDto {
    return this.cluster.describe();
  }
}
