import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiConflictResponse, ApiNotFoundResponse, ApiTags } from '@nestjs/swagger';
import { ProblemDto } from '../common/problem.dto';
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

@ApiTags('hives')
@ApiBearerAuth()
@ApiNotFoundResponse({ type: ProblemDto, description: 'No such hive' })
@Controller('v1/hives')
export class HivesController {
  constructor(private readonly catalog: HiveCatalog) {}

  /** Registers a hive. The response carries its heartbeat token, shown this once. */
  @Post()
  @ApiConflictResponse({ type: ProblemDto, description: 'A hive with this id exists' })
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
  list(@Query() query: ListHivesQueryDto): HiveListDto {
    const { items, total } = this.catalog.list(query);
    return { items: items.map(toHiveDto), total };
  }

  @Get(':id')
  get(@Param('id') id: string): HiveDto {
    return toHiveDto(this.catalog.getById(id));
  }

  /** Changes host, port, SSH settings, labels or the cordon flag. */
  @Patch(':id')
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

  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  async remove(@Param('id') id: string): Promise<void> {
    await this.catalog.remove(id);
  }

  /** Issues a new heartbeat token; the old one stops working at once. */
  @Post(':id/token')
  @HttpCode(HttpStatus.OK)
  async rotateToken(@Param('id') id: string): Promise<HiveTokenDto> {
    return { heartbeat_token: await this.catalog.rotateToken(id) };
  }
}
