import { CallHandler, ExecutionContext, HttpException, Injectable, NestInterceptor } from '@nestjs/common';
import { Observable, tap } from 'rxjs';
import { QueenMetrics } from '../metrics/queen-metrics';
import type { HeartbeatAckDto } from './dto/heartbeat.dto';

const RESULT_BY_STATUS: Record<number, string> = { 401: 'unauthorized', 403: 'forbidden', 404: 'unknown_hive' };

/** Counts heartbeats by result and times them, validation included. */
@Injectable()
export class HeartbeatMetricsInterceptor implements NestInterceptor {
  constructor(private readonly metrics: QueenMetrics) {}

  intercept(_context: ExecutionContext, next: CallHandler<HeartbeatAckDto>): Observable<HeartbeatAckDto> {
    const stopTimer = this.metrics.heartbeatDuration.startTimer();
    return next.handle().pipe(
      tap({
        next: (ack) => {
          this.metrics.heartbeats.inc({ result: ack.applied ? 'applied' : 'stale' });
          stopTimer();
        },
        error: (error: unknown) => {
          const status = error instanceof HttpException ? error.getStatus() : 500;
          this.metrics.heartbeats.inc({ result: RESULT_BY_STATUS[status] ?? (status < 500 ? 'invalid' : 'error') });
          stopTimer();
        },
      }),
    );
  }
}
