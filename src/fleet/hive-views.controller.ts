import { Controller, Get, Param, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiParam, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ETAG_HEADER_DOC } from '../platform/docs/problem-responses';
import { ApiAdminProblems, ApiProblem } from '../platform/docs/problem-responses';
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

  /**
   * List hives
   * @remarks One page of hives sorted by id, optionally only those with one status, with how many match
   * in all.
   */
  @Get()
  @ApiOkResponse({ type: HiveListDto, description: 'One page of hives and how many match in all' })
  list(@Query() query: ListHivesQueryDto): HiveListDto {
    return this.fleet.listHives(query);
  }

  /**
   * List the ids of live hives
   * @remarks Ids of the hives heard from within HEARTBEAT_TIMEOUT_MS, sorted.
   */
  @Get('active')
  @ApiOkResponse({ description: 'Ids of live hives, sorted', schema: { type: 'array', items: { type: 'string' }, example: ['gpu-node-01'] } })
  active(): string[] {
    return this.fleet.activeHiveIds();
  }

  /**
   * Get a hive
   * @remarks The hive's catalog entry and live status, without its SSH secret. The `ETag` changes with
   * every change of what operators set; send it back in `If-Match` to change or remove the hive only
   * if nobody changed it meanwhile.
   */
  @Get(':id')
  @ApiHiveId()
  @ApiOkResponse({ type: HiveDto, description: 'The hive', headers: ETAG_HEADER_DOC })
  @ApiProblem(404, 'No such hive')
  get(@Param('id') id: string, @Res({ passthrough: true }) res: Response): HiveDto {
    const hive = this.fleet.hive(id);
    res.setHeader('ETag', this.fleet.hiveEtag(id)!);
    return hive;
  }

  /**
   * Get a hive's live state
   * @remarks Workers, per-GPU and RAM usage of one hive as its latest heartbeat and the queen's
   * reservations show them.
   */
  @Get(':id/state')
  @ApiHiveId()
  @ApiOkResponse({ type: HiveStateDto, description: 'Live state of the hive' })
  @ApiProblem(404, 'No such hive')
  state(@Param('id') id: string): HiveStateDto {
    return this.fleet.state(id);
  }
}
