import { Controller, Get, Headers, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOkResponse, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength } from 'class-validator';
import type { Request, Response } from 'express';
import { AllowQueryToken } from '../auth/public.decorator';
import { ApiProblem } from '../docs/problem-responses';
import { EventStream, parseEventTypes } from './event-stream';
import { PUBLIC_EVENT_TYPES } from './fleet-event';

export class EventsQueryDto {
  @ApiPropertyOptional({
    description: `Comma-separated event types to receive; all when absent. One of: ${PUBLIC_EVENT_TYPES.join(', ')}.`,
    example: 'hive.online,hive.offline',
  })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  types?: string;

  @ApiPropertyOptional({
    description:
      'QUEEN_API_TOKEN, for clients that cannot send an Authorization header (browsers\' EventSource). Accepted on this route only.',
  })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  access_token?: string;
}

@ApiTags('events')
@ApiBearerAuth()
@Controller('v1/events')
export class EventsController {
  constructor(private readonly stream: EventStream) {}

  /**
   * Follow fleet events
   * @remarks Server-Sent Events: `hive.online`, `hive.offline`, `hive.capabilities`,
   * `hive.removed`, `worker.added`, `worker.removed`, `placement.created`.
   * Each event is `event: <type>`, `id: <opaque id>`, and `data:` one JSON
   * object `{ "type", "at" (RFC 3339), ...details }` such as `hive_id`,
   * `worker_id`, `model_id`, `device`. A comment line is sent every 15 s.
   * Reconnect with `Last-Event-ID` (browsers' EventSource does) to get the
   * events missed meanwhile, of the last 10,000; when they cannot be told (a
   * restarted queen, an id too old), the stream starts with `event: reset`:
   * read the state again, then follow. Browsers, whose EventSource cannot set
   * headers, may pass the admin token as `?access_token=`.
   */
  @Get()
  @AllowQueryToken()
  @ApiOkResponse({
    description: 'An endless text/event-stream',
    content: {
      'text/event-stream': {
        schema: { type: 'string' },
        example:
          'event: hive.online\nid: 5f0c2a9e1b7d4c3a.1\ndata: {"type":"hive.online","at":"2026-11-27T10:00:00.000Z","hive_id":"gpu-node-01"}\n\n',
      },
    },
  })
  @ApiHeader({
    name: 'Last-Event-ID',
    required: false,
    description: 'The id of the last event received: the events after it are sent first, or `event: reset` when they are no longer kept',
    schema: { type: 'string', maxLength: 64, example: '5f0c2a9e1b7d4c3a.1' },
  })
  @ApiProblem(400, 'Unknown event type in `types`')
  @ApiProblem(401, 'Missing or wrong admin token (`Authorization: Bearer` or `?access_token=`)')
  @ApiProblem(429, 'The queen is overloaded; try again after `Retry-After` seconds')
  open(
    @Query() query: EventsQueryDto,
    @Req() req: Request,
    @Res() res: Response,
    @Headers('last-event-id') lastEventId?: string,
  ): void {
    this.stream.open(req, res, parseEventTypes(query.types), lastEventId);
  }
}
