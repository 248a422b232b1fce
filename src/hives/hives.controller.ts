import { Body, Controller, Delete, Headers, HttpCode, HttpStatus, Param, Patch, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiParam, ApiTags } from '@nestjs/swagger';
import { HiveDto } from '../fleet/dto/hive.dto';
import { FleetView } from '../fleet/fleet-view';
import { Clock } from '../platform/clock/clock';
import type { Response } from 'express';
import { ApiAdminProblems, ApiBodyProblems, ApiDatabaseProblem, ApiIfMatch, ApiProblem, ETAG_HEADER_DOC } from '../platform/docs/problem-responses';
import { CreatedHiveDto, CreateHiveDto, HiveTokenDto, PatchHiveDto } from './dto/hive.dto';
import { HivesService } from './hives.service';

const ApiHiveId = () => ApiParam({ name: 'id', description: 'Hive id', example: 'gpu-node-01' });
const ApiNoSuchHive = () => ApiProblem(404, 'No such hive');

@ApiTags('hives')
@ApiBearerAuth()
@ApiAdminProblems()
@Controller('v1/hives')
export class HivesController {
  constructor(
    private readonly hives: HivesService,
    private readonly fleet: FleetView,
    private readonly clock: Clock,
  ) {}

  /**
   * Register a hive
   * @remarks Adds a hive to the catalog with status `unknown` until its first heartbeat. The answer
   * carries the hive's heartbeat token, shown this once: give it to the hive agent.
   */
  @Post()
  @ApiCreatedResponse({
    type: CreatedHiveDto,
    description: 'The hive, with its heartbeat token',
    headers: { Location: { description: 'The new hive: /v1/hives/{id}', schema: { type: 'string' } }, ...ETAG_HEADER_DOC },
  })
  @ApiProblem(409, 'A hive with this id exists')
  @ApiBodyProblems()
  @ApiDatabaseProblem()
  async create(@Body() body: CreateHiveDto, @Res({ passthrough: true }) res: Response): Promise<CreatedHiveDto> {
    const { hive, token } = await this.hives.create({
      id: body.id,
      host: body.host,
      port: body.port,
      labels: body.labels,
      ssh: body.ssh && {
        user: body.ssh.user,
        port: body.ssh.port,
        privateKey: body.ssh.private_key,
        password: body.ssh.password,
      },
    });
    res.location(`/v1/hives/${encodeURIComponent(hive.id)}`).setHeader('ETag', this.fleet.hiveEtag(hive.id)!);
    return { ...this.fleet.toHiveDto(hive, this.clock.now()), heartbeat_token: token };
  }

  /**
   * Change a hive
   * @remarks Changes host, port, SSH settings, labels or the cordon flag; fields left out keep their
   * value, and `ssh: null` removes the stored SSH settings. A cordoned hive keeps its workers but is
   * offered no new ones.
   */
  @Patch(':id')
  @ApiHiveId()
  @ApiOkResponse({ type: HiveDto, description: 'The hive as changed', headers: ETAG_HEADER_DOC })
  @ApiNoSuchHive()
  @ApiIfMatch()
  @ApiBodyProblems()
  @ApiDatabaseProblem()
  async update(
    @Param('id') id: string,
    @Body() body: PatchHiveDto,
    @Res({ passthrough: true }) res: Response,
    @Headers('if-match') ifMatch?: string,
  ): Promise<HiveDto> {
    const hive = await this.hives.update(id, {
      host: body.host,
      port: body.port,
      labels: body.labels,
      cordoned: body.cordoned,
      ssh:
        body.ssh &&
        ({ user: body.ssh.user, port: body.ssh.port, privateKey: body.ssh.private_key, password: body.ssh.password }),
    }, ifMatch);
    res.setHeader('ETag', this.fleet.hiveEtag(id)!);
    return this.fleet.toHiveDto(hive, this.clock.now());
  }

  /**
   * Remove a hive
   * @remarks Removes the hive from the catalog with its SSH secret and token; its heartbeats are
   * refused from then on. Its workers are not stopped.
   */
  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiHiveId()
  @ApiNoContentResponse({ description: 'Removed' })
  @ApiNoSuchHive()
  @ApiIfMatch()
  @ApiDatabaseProblem()
  async remove(@Param('id') id: string, @Headers('if-match') ifMatch?: string): Promise<void> {
    await this.hives.remove(id, ifMatch);
  }

  /**
   * Rotate a hive's heartbeat token
   * @remarks Issues a new heartbeat token, shown this once; the old one stops working at once.
   */
  @Post(':id/token')
  @HttpCode(HttpStatus.OK)
  @ApiHiveId()
  @ApiOkResponse({ type: HiveTokenDto, description: 'The new token, shown this once' })
  @ApiNoSuchHive()
  @ApiDatabaseProblem()
  async rotateToken(@Param('id') id: string): Promise<HiveTokenDto> {
    return { heartbeat_token: await this.hives.rotateToken(id) };
  }
}
