import { Body, Controller, Headers, HttpCode, HttpStatus, Post, UseInterceptors } from '@nestjs/common';
import { ApiBearerAuth, ApiForbiddenResponse, ApiNotFoundResponse, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { Public } from '../auth/public.decorator';
import { ProblemDto } from '../common/problem.dto';
import { bearerToken } from '../security/tokens';
import { HeartbeatAckDto, HeartbeatDto } from './dto/heartbeat.dto';
import { HeartbeatMetricsInterceptor } from './heartbeat-metrics.interceptor';
import { HeartbeatService } from './heartbeat.service';

@ApiTags('heartbeat')
@ApiBearerAuth()
@Public()
@UseInterceptors(HeartbeatMetricsInterceptor)
@Controller('v1/heartbeat')
export class HeartbeatController {
  constructor(private readonly heartbeats: HeartbeatService) {}

  /**
   * A hive reports its workers (rbee's HiveHeartbeatPayload). Authenticated by
   * the hive's own token, not the admin token. Unknown fields are ignored.
   */
  @Post()
  @HttpCode(HttpStatus.OK)
  @ApiUnauthorizedResponse({ type: ProblemDto, description: 'Missing or invalid hive token' })
  @ApiForbiddenResponse({ type: ProblemDto, description: 'The token belongs to another hive' })
  @ApiNotFoundResponse({ type: ProblemDto, description: 'No hive with this id is registered' })
  receive(@Body() body: HeartbeatDto, @Headers('authorization') authorization?: string): HeartbeatAckDto {
    return this.heartbeats.receive(body, bearerToken(authorization));
  }
}
