import { Controller, Get, HttpStatus } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckResult, HealthCheckService, HealthIndicatorResult, HealthIndicatorService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { Public } from '../auth/public.decorator';
import { ClusterLink } from '../cluster/cluster-link';
import { ProblemException } from '../http/problem';
import { ApiProblem } from '../docs/problem-responses';

@ApiTags('health')
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly indicators: HealthIndicatorService,
    private readonly cluster: ClusterLink,
  ) {}

  /**
   * Liveness probe
   * @remarks Answers while the process is up and serving HTTP; needs no token.
   */
  @Get('live')
  @ApiOperation({ security: [] })
  // Documented here rather than by terminus, whose schema lists an error shape this route never sends.
  @HealthCheck({ swaggerDocumentation: false })
  @ApiOkResponse({
    description: 'The process serves HTTP',
    schema: { type: 'object', example: { status: 'ok', info: {}, error: {}, details: {} } },
  })
  live(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  /**
   * Readiness probe
   * @remarks Ready to serve: the catalog database answers within a second. With several queens, `cluster`
   * also tells whether this queen leads, in which term, and whether it reaches the shared database (a
   * queen cut from it stops leading and is not ready) and the fan-out. Needs no token.
   */
  @Get('ready')
  @ApiOperation({ security: [] })
  // Documented here rather than by terminus: the 503 is problem JSON, not terminus' error shape.
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  @ApiOkResponse({
    description: 'The database answers',
    schema: {
      type: 'object',
      example: { status: 'ok', info: { database: { status: 'up' } }, error: {}, details: { database: { status: 'up' } } },
    },
  })
  @ApiProblem(503, 'The database is not reachable; `checks` says why')
  async ready(): Promise<HealthCheckResult> {
    try {
      return await this.health.check([() => this.database.pingCheck('database', { timeout: 1000 }), () => this.clusterCheck()]);
    } catch (error) {
      const checks = (error as { response?: HealthCheckResult }).response?.details;
      const why = checks?.cluster?.status === 'down' && checks.database?.status !== 'down' ? 'this queen is cut from the shared database' : 'the database is not reachable';
      throw new ProblemException(HttpStatus.SERVICE_UNAVAILABLE, 'not-ready', why, { checks });
    }
  }

  private clusterCheck(): HealthIndicatorResult {
    const health = this.cluster.health();
    if (health === null) return {};
    const session = this.indicators.check('cluster');
    return health.healthy ? session.up(health.details) : session.down(health.details);
  }
}
