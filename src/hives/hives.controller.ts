import { Body, Controller, Delete, HttpCode, HttpStatus, Param, Patch, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiParam, ApiTags } from '@nestjs/swagger';
import { HiveDto } from '../fleet/dto/hive.dto';
import { FleetView } from '../fleet/fleet-view';
import { Clock } from '../platform/clock/clock';
import { ApiAdminProblems, ApiProblemResponse } from '../platform/docs/problem-responses';
import { CreatedHiveDto, CreateHiveDto, HiveTokenDto, PatchHiveDto } from './dto/hive.dto';
import { HivesService } from './hives.service';

const ApiHiveId = () => ApiParam({ name: 'id', description: 'Hive id', example: 'gpu-node-01' });
const ApiNoSuchHive = () => ApiProblemResponse(404, 'No such hive');

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

  /** Registers a hive. The response carries its heartbeat token, shown this once. */
  @Post()
  @ApiCreatedResponse({ type: CreatedHiveDto, description: 'The hive, with its heartbeat token' })
  @ApiProblemResponse(409, 'A hive with this id exists')
  @ApiProblemResponse(413, 'Request body larger than 1 MiB')
  async create(@Body() body: CreateHiveDto): Promise<CreatedHiveDto> {
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
    return { ...this.fleet.toHiveDto(hive, this.clock.now()), heartbeat_token: token };
  }

  /** Changes host, port, SSH settings, labels or the cordon flag. */
  @Patch(':id')
  @ApiHiveId()
  @ApiOkResponse({ type: HiveDto, description: 'The hive as changed' })
  @ApiNoSuchHive()
  @ApiProblemResponse(413, 'Request body larger than 1 MiB')
  async update(@Param('id') id: string, @Body() body: PatchHiveDto): Promise<HiveDto> {
    const hive = await this.hives.update(id, {
      host: body.host,
      port: body.port,
      labels: body.labels,
      cordoned: body.cordoned,
      ssh:
        body.ssh &&
        ({ user: body.ssh.user, port: body.ssh.port, privateKey: body.ssh.private_key, password: body.ssh.password }),
    });
    return this.fleet.toHiveDto(hive, this.clock.now());
  }

  /** Removes a hive from the catalog, with its SSH secret and token. */
  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiHiveId()
  @ApiNoContentResponse({ description: 'Removed' })
  @ApiNoSuchHive()
  async remove(@Param('id') id: string): Promise<void> {
    await this.hives.remove(id);
  }

  /** Issues a new heartbeat token; the old one stops working at once. */
  @Post(':id/token')
  @HttpCode(HttpStatus.OK)
  @ApiHiveId()
  @ApiOkResponse({ type: HiveTokenDto, description: 'The new token, shown this once' })
  @ApiNoSuchHive()
  async rotateToken(@Param('id') id: string): Promise<HiveTokenDto> {
    return { heartbeat_token: await this.hives.rotateToken(id) };
  }
}
