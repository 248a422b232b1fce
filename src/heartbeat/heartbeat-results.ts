import { performance } from 'node:perf_hooks';
import { Injectable } from '@nestjs/common';
import { QueenMetrics } from '../platform/metrics/queen-metrics';

const RESULT_BY_STATUS: Record<number, string> = { 401: 'unauthorized', 403: 'forbidden', 404: 'unknown_hive' };

/** Counts heartbeats by result and times them; label children are bound once, so nothing is allocated per beat. */
@Injectable()
export class HeartbeatResults {
  private readonly counters = new Map<string, { inc(): void }>();

  constructor(private readonly metrics: QueenMetrics) {}

  /** `applied`: whether an answered heartbeat was applied; null when it was refused (then `status` says why). */
  record(status: number, applied: boolean | null, startedAt: number): void {
    this.metrics.heartbeatDuration.observe((performance.now() - startedAt) / 1000);
    const result = applied === null ? (RESULT_BY_STATUS[status] ?? (status < 500 ? 'invalid' : 'error')) : applied ? 'applied' : 'stale';
    let counter = this.counters.get(result);
    if (counter === undefined) {
      counter = this.metrics.heartbeats.labels(result);
      this.counters.set(result, counter);
    }
    counter.inc();
  }
}
