import { Controller, Get, HttpStatus } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckResult, HealthCheckService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { Public } from '../auth/public.decorator';
import { ProblemException } from '../http/problem';
import { ApiProblemResponse } from '../docs/problem-responses';

@ApiTags('health')
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: TypeOrmHealthIndicator,
  ) {}

  /** The process is up and serving HTTP. */
  @Get('live')
  @HealthCheck()
  live(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  /** Ready to serve: the database answers within a second. */
  @Get('ready')
  // Documented here rather than by terminus: the 503 is problem JSON, not terminus' error shape.
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  @ApiOkResponse({
    description: 'The database answers',
    schema: {
      type: 'object',
      example: { status: 'ok', info: { database: { status: 'up' } }, error: {}, details: { database: { status: 'up' } } },
    },
  })
  @ApiProblemResponse(503, 'The database is not reachable; `checks` says why')
  async ready(): Promise<HealthCheckResult> {
    try {
      return await this.health.check([() => this.database.pingCheck('database', { timeout: 1000 })]);
    } catch (error) {
      const checks = (error as { response?: HealthCheckResult }).response?.details;
      throw new ProblemException(HttpStatus.SERVICE_UNAVAILABLE, 'not-ready', 'the database is not reachable', { checks });
    }
  }
}
