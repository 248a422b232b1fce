import { Injectable } from '@nestjs/common';
import { BehaviorSubject, Observable } from 'rxjs';
import type { HiveCapabilities } from '../../domain/fleet';
import { QueenConfig } from '../config/queen-config';
import type { FleetEvent } from '../events/fleet-event';

/**
 * What one queen tells the others. Facts travel once, from the queen that learnt them: a heartbeat
 * from the queen that received it, an event from the queen that caused it, a catalog change as the
 * names of the rows to read again (the rows themselves are in the shared database).
 */
export type PeerMessage =
  | {
      t: 'hb';
      hive: string;
      /** When the receiving queen got it, epoch ms. */
      at: number;
      seq: number | null;
      /** The hive's own timestamp, epoch ms. */
      ts: number;
      /** The workers exactly as the validated body listed them. */
      workers: unknown[];
    }
  | { t: 'caps'; hive: string; caps: HiveCapabilities; at: number }
  | { t: 'hive'; id: string }
  | { t: 'deployments'; names: string[]; workers: string[] }
  | { t: 'event'; event: FleetEvent };

export interface Leadership {
  /** This queen leads: it sweeps liveness and reconciles. */
  leading: boolean;
  /** The term of the leadership this queen last saw; it only increases. */
  term: number;
  /** The queen that leads, as far as this one knows; null while none does. */
  leaderId: string | null;
}

/** How this queen stands in the cluster, as /health/ready reports it. */
export interface ClusterHealth {
  /** False when the queen cannot do its part: it is cut from the shared database. */
  healthy: boolean;
  details: { leading: boolean; term: number; leader_id: string | null; database: string; fanout: string };
}

/**
 * The seam between the features and the other queens. A queen on its own has no peers: it always
 * leads, in term 1, shares nothing and its live view is always complete. With several queens the
 * cluster module plugs a transport in ({@link attach}) and reports leadership and the state of the
 * fan-out here; features only ask and share, and never know about Redis or the election.
 */
@Injectable()
export class ClusterLink {
  readonly clustered: boolean;
  private transport: ((message: PeerMessage, acknowledged: boolean) => Promise<void> | void) | null = null;
  private readonly leadership: BehaviorSubject<Leadership>;
  /** False while peers' heartbeats may be missing (fan-out down or catching up): silence then proves nothing. */
  private complete: boolean;
  private healthReader: (() => ClusterHealth) | null = null;

  constructor(config: QueenConfig) {
    this.clustered = config.cluster !== null;
    this.complete = !this.clustered;
    this.leadership = new BehaviorSubject<Leadership>(
      this.clustered ? { leading: false, term: 0, leaderId: null } : { leading: true, term: 1, leaderId: config.queenId },
    );
  }

  /** Whether this queen leads now. */
  get leading(): boolean {
    return this.leadership.value.leading;
  }

  get current(): Leadership {
    return this.leadership.value;
  }

  get changes(): Observable<Leadership> {
    return this.leadership.asObservable();
  }

  /** Whether every queen's heartbeats are known here: the leader marks hives offline only then. */
  get liveViewComplete(): boolean {
    return this.complete;
  }

  /** How this queen stands in the cluster; null for a queen on its own. */
  health(): ClusterHealth | null {
    return this.healthReader?.() ?? null;
  }

  /** Sends a fact to the other queens; with none, there is nobody to tell. */
  share(message: PeerMessage): void {
    void this.transport?.(message, false);
  }

  /**
   * Sends a fact the caller is about to acknowledge (a catalog change) and resolves once it is on its
   * way to the other queens, so that it survives this queen's death right after the answer.
   */
  async shareNow(message: PeerMessage): Promise<void> {
    await this.transport?.(message, true);
  }

  // -- for the cluster module ----------------------------------------------------

  attach(transport: (message: PeerMessage, acknowledged: boolean) => Promise<void> | void): void {
    this.transport = transport;
  }

  reportHealth(read: () => ClusterHealth): void {
    this.healthReader = read;
  }

  setLeadership(next: Leadership): void {
    const now = this.leadership.value;
    if (now.leading !== next.leading || now.term !== next.term || now.leaderId !== next.leaderId) this.leadership.next(next);
  }

  setLiveViewComplete(complete: boolean): void {
    this.complete = complete;
  }
}
