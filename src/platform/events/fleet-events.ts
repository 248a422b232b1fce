import { Injectable } from '@nestjs/common';
import { Observable, Subject } from 'rxjs';

/** Event types streamed to clients on GET /v1/events. */
export const PUBLIC_EVENT_TYPES = [
  'hive.online',
  'hive.offline',
  'hive.capabilities',
  'hive.removed',
  'worker.added',
  'worker.removed',
  'placement.created',
  'deployment.created',
  'deployment.updated',
  'deployment.deleted',
  'deployment.worker_started',
  'deployment.worker_replaced',
  'fleet.outage',
  'fleet.recovered',
] as const;
export type PublicEventType = (typeof PUBLIC_EVENT_TYPES)[number];

export interface FleetEvent {
  type: PublicEventType;
  /** Queen clock, epoch ms. */
  at: number;
  data: Record<string, unknown>;
}

/**
 * An in-process event bus. Publishing is synchronous and never blocks on
 * subscribers' I/O: the SSE stream buffers per client, so a slow client cannot
 * slow the heartbeat path.
 */
@Injectable()
export class FleetEvents {
  private readonly subject = new Subject<FleetEvent>();

  publish(type: FleetEvent['type'], at: number, data: Record<string, unknown>): void {
    if (this.subject.observed) this.subject.next({ type, at, data });
  }

  get stream(): Observable<FleetEvent> {
    return this.subject.asObservable();
  }
}
