import { Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { HeartbeatResults } from './heartbeat-results';

/** Where the heartbeat controller leaves whether the heartbeat was applied, for the counter. */
export const HEARTBEAT_APPLIED = 'heartbeatApplied';

/**
 * Counts the heartbeats that reach HeartbeatController (those HeartbeatEndpoint
 * passes on) by result and times them, validation included: a `finish` listener,
 * not an interceptor, as on the endpoint.
 */
@Injectable()
export class HeartbeatMetricsMiddleware implements NestMiddleware {
  constructor(private readonly results: HeartbeatResults) {}

  use(_req: Request, res: Response, next: NextFunction): void {
    const started = performance.now();
    res.once('finish', () => {
      const applied = res.locals[HEARTBEAT_APPLIED] as boolean | undefined;
      this.results.record(res.statusCode, applied ?? null, started);
    });
    next();
  }
}
