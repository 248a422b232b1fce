import { Body, Controller, Delete, Get, Headers, HttpCode, HttpStatus, Param, Patch, Post, Query, Res, UseInterceptors } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiCreatedResponse, ApiHeader, ApiOkResponse, ApiParam, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { IDEMPOTENCY_KEY_HEADER, IdempotencyInterceptor } from '../idempotency/idempotency.interceptor';
import { ApiAdminProblems, ApiBodyProblems, ApiDatabaseProblem, ApiIfMatch, ApiProblem, ETAG_HEADER_DOC } from '../platform/docs/problem-responses';
import { DeploymentsService } from './deployments.service';
import { CreateDeploymentDto, DeploymentDto, DeploymentListDto, ListDeploymentsQueryDto, PatchDeploymentDto } from './dto/deployment.dto';

const ApiDeploymentName = () => ApiParam({ name: 'name', description: 'Deployment name', example: 'chat-8b' });
const location = (name: string) => `/v1/deployments/${encodeURIComponent(name)}`;

@ApiTags('deployments')
@ApiBearerAuth()
@ApiAdminProblems()
@Controller('v1/deployments')
export class DeploymentsController {
  constructor(private readonly deployments: DeploymentsService) {}

  /**
   * Create a deployment
   * @remarks Asks the queen to keep `replicas` workers of a model running: it starts them, replaces
   * those that fail or whose hive stays away, and stops surplus ones. With `Idempotency-Key`, a retry
   * within 24 h gets the first answer.
   */
  @Post()
  @UseInterceptors(IdempotencyInterceptor)
  @ApiHeader({
    name: IDEMPOTENCY_KEY_HEADER,
    required: false,
    description: 'Any unique string: a repeat with the same key and body within 24 h gets the first answer',
    schema: { type: 'string', minLength: 1, maxLength: 255, example: '2f1c0d7e-4a7b-4c1e-9d7a-0b6c5e4f3a21' },
  })
  @ApiCreatedResponse({
    type: DeploymentDto,
    description: 'The deployment; its workers are being started',
    headers: { Location: { description: 'The new deployment: /v1/deployments/{name}', schema: { type: 'string' } }, ...ETAG_HEADER_DOC },
  })
  @ApiProblem(409, 'A deployment with this name exists')
  @ApiProblem(422, 'The `Idempotency-Key` was used for a request with another body')
  @ApiBodyProblems()
  @ApiDatabaseProblem()
  async create(@Body() body: CreateDeploymentDto, @Res({ passthrough: true }) res: Response): Promise<DeploymentDto> {
    const created = await this.deployments.create(body);
    res.location(location(created.name)).setHeader('ETag', this.deployments.etagOf(created.name));
    return created;
  }

  /**
   * List deployments
   * @remarks One page of deployments by name, each with its status, and how many there are in all.
   */
  @Get()
  @ApiOkResponse({ type: DeploymentListDto, description: 'One page of deployments' })
  list(@Query() query: ListDeploymentsQueryDto): DeploymentListDto {
    return this.deployments.list(query.limit, query.offset);
  }

  /**
   * Get a deployment
   * @remarks The deployment and its status as the live view shows it now: ready, starting and lost
   * workers, replicas that could not be placed, and why not all are ready.
   */
  @Get(':name')
  @ApiDeploymentName()
  @ApiOkResponse({ type: DeploymentDto, description: 'The deployment', headers: ETAG_HEADER_DOC })
  @ApiProblem(404, 'No such deployment')
  get(@Param('name') name: string, @Res({ passthrough: true }) res: Response): DeploymentDto {
    const deployment = this.deployments.get(name);
    res.setHeader('ETag', this.deployments.etagOf(name));
    return deployment;
  }

  /**
   * Change a deployment
   * @remarks Changes `replicas`, `strategy`, `labels` or `max_per_hive`; the reconciler acts at once.
   */
  @Patch(':name')
  @ApiDeploymentName()
  @ApiOkResponse({ type: DeploymentDto, description: 'The deployment as changed', headers: ETAG_HEADER_DOC })
  @ApiProblem(404, 'No such deployment')
  @ApiIfMatch()
  @ApiBodyProblems()
  @ApiDatabaseProblem()
  async update(
    @Param('name') name: string,
    @Body() body: PatchDeploymentDto,
    @Res({ passthrough: true }) res: Response,
    @Headers('if-match') ifMatch?: string,
  ): Promise<DeploymentDto> {
    const updated = await this.deployments.update(name, body, ifMatch);
    res.setHeader('ETag', this.deployments.etagOf(name));
    return updated;
  }

  /**
   * Delete a deployment
   * @remarks Removes the deployment; the queen then asks each hive to stop its workers.
   */
  @Delete(':name')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiDeploymentName()
  @ApiAcceptedResponse({ description: 'Deleted; its workers are being stopped' })
  @ApiProblem(404, 'No such deployment')
  @ApiIfMatch()
  @ApiDatabaseProblem()
  async remove(@Param('name') name: string, @Headers('if-match') ifMatch?: string): Promise<void> {
    await this.deployments.remove(name, ifMatch);
  }
}
