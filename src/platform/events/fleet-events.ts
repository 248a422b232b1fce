import { Injectable } from '@nestjs/common';
import { Observable, Subject } from 'rxjs';
import { ClusterLink } from '../cluster/cluster-link';
import type { FleetEvent } from './fleet-event';

/**
 * The fleet's event bus. Publishing is synchronous and never blocks on
 * subscribers' I/O: the SSE stream buffers per client, so a slow client cannot
 * slow the heartbeat path. With several queens an event goes to every queen
 * (this one included) through the cluster's fan-out, and {@link stream}
 * carries the events of the whole fleet, each once, in the order of the fan-out.
 */
@Injectable()
export class FleetEvents {
  private readonly subject = new Subject<FleetEvent>();

  constructor(private readonly cluster: ClusterLink) {}

  publish(type: FleetEvent['type'], at: number, data: Record<string, unknown>): void {
    if (this.cluster.clustered) this.cluster.share({ t: 'event', event: { type, at, data } });
    else this.deliver({ type, at, data });
  }

  /** Hands an event of the fleet to this queen's subscribers (the cluster's fan-out calls it with every queen's events). */
  deliver(event: FleetEvent): void {
    if (this.subject.observed) this.subject.next(event);
  }

  get stream(): Observable<FleetEvent> {
    return this.subject.asObservable();
  }
}
