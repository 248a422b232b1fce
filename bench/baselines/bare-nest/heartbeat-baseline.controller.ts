import { Body, Controller, Headers, HttpCode, HttpStatus, Post } from '@nestjs/common';
import { HeartbeatAckDto } from '../../../src/heartbeat/dto/heartbeat-ack.dto';
import { HeartbeatDto } from './heartbeat.dto';
import { BaselineStore } from './baseline-store';

/**
 * POST /v1/heartbeat with the queen's own DTO class (so the same class-validator
 * and class-transformer work), storing the validated body in a Map and
 * answering the queen's ack. No auth, registry, events or metrics.
 */
@Controller('v1/heartbeat')
export class HeartbeatBaselineController {
  constructor(private readonly store: BaselineStore) {}

  @Post()
  @HttpCode(HttpStatus.OK)
  receive(@Body() body: HeartbeatDto, @Headers('authorization') authorization?: string): HeartbeatAckDto {
    this.store.heartbeats.set(body.hive_id, { body, authorization });
    return { acknowledged: true, applied: true, next_heartbeat_ms: 5000, capabilities_required: false };
  }
}
