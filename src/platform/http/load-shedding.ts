import { IntervalHistogram, monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { HttpStatus, Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { QueenConfig } from '../config/queen-config';
import { QueenMetrics } from '../metrics/queen-metrics';
import { PROBLEM_CONTENT_TYPE, problemType, serializeProblem, statusTitle } from './problem';

/** How often the event-loop delay is read; overload is judged on the mean delay of the last window. */
const WINDOW_MS = 250;
/** The histogram's sampling timer: an idle loop reads as this much delay. */
const RESOLUTION_MS = 10;
const RETRY_AFTER_SECONDS = 1;

/**
 * Watches how late the event loop runs. When it runs later than
 * OVERLOAD_LAG_MS, every request waits at least that long, so the queen sheds
 * what can wait: admin requests are refused at once (429 with Retry-After,
 * before their body is read), and heartbeats, which are never refused (a
 * refused beat is a step to a false offline), are told to come back later.
 */
@Injectable()
export class LoadMonitor implements OnModuleInit, OnModuleDestroy {
  private readonly delay: IntervalHistogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  private timer: NodeJS.Timeout | undefined;
  /** How late the event loop ran over the last window, in ms: the mean delay of its turns, or the window's own lateness. */
  private lagMs = 0;
  /** The window before: overload is two late windows in a row, so one long pause (a GC, start-up work) is not. */
  private previousLagMs = 0;
  private lastReadAt = 0;

  constructor(
    private readonly config: QueenConfig,
    private readonly metrics: QueenMetrics,
  ) {}

  onModuleInit(): void {
    if (this.config.overloadLagMs === 0) return;
    this.delay.enable();
    this.lastReadAt = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      const mean = this.delay.count === 0 ? 0 : this.delay.mean / 1e6 - RESOLUTION_MS;
      this.previousLagMs = this.lagMs;
      this.lagMs = Math.max(0, mean, now - this.lastReadAt - WINDOW_MS);
      this.lastReadAt = now;
      this.delay.reset();
    }, WINDOW_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
    this.delay.disable();
  }

  /** How far past the bound the loop runs: 0 when it keeps up, 1 at twice the bound, and so on. */
  get pressure(): number {
    const bound = this.config.overloadLagMs;
    return bound === 0 ? 0 : Math.max(0, this.lagMs / bound - 1);
  }

  get overloaded(): boolean {
    const bound = this.config.overloadLagMs;
    return bound > 0 && this.lagMs > bound && this.previousLagMs > bound;
  }

  /**
   * The interval to tell a hive: the configured one while the queen keeps up;
   * under load longer (up to half the timeout, so no hive is marked offline
   * for obeying) and spread by ±10%, so that a herd does not beat in step.
   */
  heartbeatIntervalMs(): number {
    const interval = this.config.heartbeatIntervalMs;
    if (!this.overloaded) return interval;
    const stretched = Math.min(interval * (1 + this.pressure), this.config.heartbeatTimeoutMs / 2);
    return Math.round(Math.max(interval, stretched) * (0.9 + Math.random() * 0.2));
  }

  /** Express middleware, before body parsing: refuses admin API requests while overloaded. */
  shedder(): (req: Request, res: Response, next: NextFunction) => void {
    return (req, res, next) => {
      if (!this.overloaded || !req.path.startsWith('/v1/') || req.path === '/v1/heartbeat') {
        next();
        return;
      }
      this.metrics.requestsShed.inc();
      const status = HttpStatus.TOO_MANY_REQUESTS;
      const detail = `the queen is overloaded (its event loop runs ${Math.round(this.lagMs)} ms late); try again in ${RETRY_AFTER_SECONDS} s`;
      res
        .status(status)
        .set({ 'Content-Type': PROBLEM_CONTENT_TYPE, 'Retry-After': String(RETRY_AFTER_SECONDS) })
        .send(serializeProblem({ type: problemType('overloaded'), title: statusTitle(status), status, detail }));
    };
  }
}
