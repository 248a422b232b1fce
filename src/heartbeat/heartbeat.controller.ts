import { Body, Controller, Headers, HttpCode, HttpStatus, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Public } from '../platform/auth/public.decorator';
import { ApiBodyProblems, ApiProblem } from '../platform/docs/problem-responses';
import { bearerToken } from '../platform/security/tokens';
import { HeartbeatAckDto } from './dto/heartbeat-ack.dto';
import { HEARTBEAT_SCHEMA } from './dto/heartbeat.schema';
import { HEARTBEAT_APPLIED } from './heartbeat-metrics.middleware';
import { HeartbeatService } from './heartbeat.service';

@ApiTags('heartbeat')
@ApiBearerAuth()
@Public()
@Controller('v1/heartbeat')
export class HeartbeatController {
  constructor(private readonly heartbeats: HeartbeatService) {}

  /**
   * Report a hive's heartbeat
   * @remarks A hive reports its workers (rbee's HiveHeartbeatPayload). Authenticated by the hive's own
   * token, not the admin token, and checked in this order: a hive id (400), a registered hive (404), its
   * token (401, 403), then the whole body (400). Unknown fields are ignored.
   */
  // Plain JSON heartbeats are answered by HeartbeatEndpoint, ahead of the generic pipeline, with the same
  // checks and answers; this handler takes the rest, such as gzip bodies.
  @Post()
  @HttpCode(HttpStatus.OK)
  @ApiBody({ schema: HEARTBEAT_SCHEMA as object })
  @ApiOkResponse({ type: HeartbeatAckDto, description: 'Acknowledged; `applied` says whether it changed anything' })
  @ApiProblem(400, 'Invalid heartbeat: `errors` names each bad field')
  @ApiProblem(401, 'Missing or invalid hive token')
  @ApiProblem(403, 'The token belongs to another hive')
  @ApiProblem(404, 'No hive with this id is registered')
  @ApiBodyProblems()
  receive(
    @Body() body: Record<string, unknown>,
    @Res({ passthrough: true }) res: Response,
    @Headers('authorization') authorization?: string,
  ): HeartbeatAckDto {
    const ack = this.heartbeats.receive(body, bearerToken(authorization));
    res.locals[HEARTBEAT_APPLIED] = ack.applied;
    return ack;
  }
}
