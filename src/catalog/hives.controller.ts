import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiParam, ApiTags } from '@nestjs/swagger';
import { ApiAdminProblems, ApiProblemResponse } from '../docs/problem-responses';
import {
  CreatedHiveDto,
  CreateHiveDto,
  HiveDto,
  HiveListDto,
  HiveTokenDto,
  ListHivesQueryDto,
  PatchHiveDto,
  toHiveDto,
} from './dto/hive.dto';
import { HiveCatalog } from './hive-catalog.service';

const ApiHiveId = () => ApiParam({ name: 'id', description: 'Hive id', example: 'gpu-node-01' });
const ApiNoSuchHive = () => ApiProblemResponse(404, 'No such hive');

@ApiTags('hives')
@ApiBearerAuth()
@ApiAdminProblems()
@Controller('v1/hives')
export class HivesController {
  constructor(private readonly catalog: HiveCatalog) {}

  /** Registers a hive. The response carries its heartbeat token, shown this once. */
  @Post()
  @ApiCreatedResponse({ type: CreatedHiveDto, description: 'The hive, with its heartbeat token' })
  @ApiProblemResponse(409, 'A hive with this id exists')
  @ApiProblemResponse(413, 'Request body larger than 1 MiB')
  async create(@Body() body: CreateHiveDto): Promise<CreatedHiveDto> {
    const { hive, token } = await this.catalog.create({
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
    return { ...toHiveDto(hive), heartbeat_token: token };
  }

  /** Lists hives by id, optionally only those with one status. */
  @Get()
  @ApiOkResponse({ type: HiveListDto, description: 'One page of hives and how many match in all' })
  list(@Query() query: ListHivesQueryDto): HiveListDto {
    const { items, total } = this.catalog.list(query);
    return { items: items.map(toHiveDto), total };
  }

  /** One hive, without its SSH secret. */
  @Get(':id')
  @ApiHiveId()
  @ApiOkResponse({ type: HiveDto })
  @ApiNoSuchHive()
  get(@Param('id') id: string): HiveDto {
    return toHiveDto(this.catalog.getById(id));
  }

  /** Changes host, port, SSH settings, labels or the cordon flag. */
  @Patch(':id')
  @ApiHiveId()
  @ApiOkResponse({ type: HiveDto, description: 'The hive as changed' })
  @ApiNoSuchHive()
  @ApiProblemResponse(413, 'Request body larger than 1 MiB')
  async update(@Param('id') id: string, @Body() body: PatchHiveDto): Promise<HiveDto> {
    const hive = await this.catalog.update(id, {
      host: body.host,
      port: body.port,
      labels: body.labels,
      cordoned: body.cordoned,
      ssh:
        body.ssh &&
        ({ user: body.ssh.user, port: body.ssh.port, privateKey: body.ssh.private_key, password: body.ssh.password }),
    });
    return toHiveDto(hive);
  }

  /** Removes a hive from the catalog, with its SSH secret and token. */
  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiHiveId()
  @ApiNoContentResponse({ description: 'Removed' })
  @ApiNoSuchHive()
  async remove(@Param('id') id: string): Promise<void> {
    await this.catalog.remove(id);
  }

  /** Issues a new heartbeat token; the old one stops working at once. */
  @Post(':id/token')
  @HttpCode(HttpStatus.OK)
  @ApiHiveId()
  @ApiOkResponse({ type: HiveTokenDto, description: 'The new token, shown this once' })
  @ApiNoSuchHive()
  async rotateToken(@Param('id') id: string): Promise<HiveTokenDto> {
    return { heartbeat_token: await this.catalog.rotateToken(id) };
  }
}
