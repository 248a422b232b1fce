import { Body, Controller, Headers, HttpCode, HttpStatus, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { ApiProblemResponse } from '../platform/docs/problem-responses';
import { Public } from '../platform/auth/public.decorator';
import { bearerToken } from '../platform/security/tokens';
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
  @ApiProblemResponse(400, 'Invalid heartbeat: `errors` names each bad field')
  @ApiProblemResponse(401, 'Missing or invalid hive token')
  @ApiProblemResponse(403, 'The token belongs to another hive')
  @ApiProblemResponse(404, 'No hive with this id is registered')
  @ApiProblemResponse(413, 'Request body larger than 1 MiB')
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
