import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiParam, ApiTags } from '@nestjs/swagger';
import { ApiAdminProblems, ApiProblemResponse } from '../platform/docs/problem-responses';
import { HiveDto, HiveListDto, ListHivesQueryDto } from './dto/hive.dto';
import { HiveStateDto } from './dto/live-state.dto';
import { FleetView } from './fleet-view';

const ApiHiveId = () => ApiParam({ name: 'id', description: 'Hive id', example: 'gpu-node-01' });

/** Reads of hives: catalog facts joined with live state. `active` is declared before `:id`, so it is not read as an id. */
@ApiTags('hives')
@ApiBearerAuth()
@ApiAdminProblems()
@Controller('v1/hives')
export class HiveViewsController {
  constructor(private readonly fleet: FleetView) {}

  /** Lists hives by id, optionally only those with one status. */
  @Get()
  @ApiOkResponse({ type: HiveListDto, description: 'One page of hives and how many match in all' })
  list(@Query() query: ListHivesQueryDto): HiveListDto {
    return this.fleet.listHives(query);
  }

  /**
   * Ids of hives heard from within HEARTBEAT_TIMEOUT_MS, sorted.
   * @example ["gpu-node-01"]
   */
  @Get('active')
  active(): string[] {
    return this.fleet.activeHiveIds();
  }

  /** One hive, without its SSH secret. */
  @Get(':id')
  @ApiHiveId()
  @ApiOkResponse({ type: HiveDto })
  @ApiProblemResponse(404, 'No such hive')
  get(@Param('id') id: string): HiveDto {
    return this.fleet.hive(id);
  }

  /** Workers, per-GPU and RAM usage of one hive as its heartbeats and reservations show them. */
  @Get(':id/state')
  @ApiHiveId()
  @ApiProblemResponse(404, 'No such hive')
  state(@Param('id') id: string): HiveStateDto {
    return this.fleet.state(id);
  }
}
