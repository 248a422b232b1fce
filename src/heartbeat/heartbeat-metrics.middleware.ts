import { Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { QueenMetrics } from '../platform/metrics/queen-metrics';

const RESULT_BY_STATUS: Record<number, string> = { 401: 'unauthorized', 403: 'forbidden', 404: 'unknown_hive' };

/** Where the heartbeat controller leaves `applied` or `stale` for the counter. */
export const HEARTBEAT_RESULT = 'heartbeatResult';

/**
 * Counts heartbeats by result and times them, validation included. A plain
 * `finish` listener, not an interceptor: this runs thousands of times a second
 * and an interceptor's Observable wrapping costs measurably more.
 */
@Injectable()
export class HeartbeatMetricsMiddleware implements NestMiddleware {
  constructor(private readonly metrics: QueenMetrics) {}

  use(_req: Request, res: Response, next: NextFunction): void {
    const started = performance.now();
    res.once('finish', () => {
      this.metrics.heartbeatDuration.observe((performance.now() - started) / 1000);
      const status = res.statusCode;
      const result =
        (res.locals[HEARTBEAT_RESULT] as string | undefined) ?? RESULT_BY_STATUS[status] ?? (status < 500 ? 'invalid' : 'error');
      this.metrics.heartbeats.inc({ result });
    });
    next();
  }
}
