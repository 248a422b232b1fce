import { Body, Controller, Headers, HttpCode, HttpStatus, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiForbiddenResponse, ApiNotFoundResponse, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { Public } from '../auth/public.decorator';
import { ProblemDto } from '../common/problem.dto';
import { bearerToken } from '../security/tokens';
import { HeartbeatAckDto, HeartbeatDto } from './dto/heartbeat.dto';
import type { Response } from 'express';
import { HEARTBEAT_RESULT } from './heartbeat-metrics.middleware';
import { HeartbeatService } from './heartbeat.service';

@ApiTags('heartbeat')
@ApiBearerAuth()
@Public()
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
  receive(
    @Body() body: HeartbeatDto,
    @Res({ passthrough: true }) res: Response,
    @Headers('authorization') authorization?: string,
  ): HeartbeatAckDto {
    const ack = this.heartbeats.receive(body, bearerToken(authorization));
    res.locals[HEARTBEAT_RESULT] = ack.applied ? 'applied' : 'stale';
    return ack;
  }
}
