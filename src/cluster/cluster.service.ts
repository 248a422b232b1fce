import { Injectable, OnModuleInit } from '@nestjs/common';
import { Clock } from '../platform/clock/clock';
import { ClusterHealth, ClusterLink } from '../platform/cluster/cluster-link';
import { QueenConfig } from '../platform/config/queen-config';
import type { ClusterDto } from './dto/cluster.dto';
import { FleetFanout } from './fleet-fanout';
import { LeaderElection } from './leader-election';

/**
 * Which queens serve the fleet and which one leads. A queen on its own (SQLite, or PostgreSQL without
 * REDIS_URL) is the whole cluster: it leads, in the first and only term, and was seen just now.
 */
@Injectable()
export class ClusterService implements OnModuleInit {
  constructor(
    private readonly config: QueenConfig,
    private readonly clock: Clock,
    private readonly link: ClusterLink,
    private readonly election: LeaderElection,
    private readonly fanout: FleetFanout,
  ) {}

  onModuleInit(): void {
    if (this.link.clustered) this.link.reportHealth(() => this.health());
  }

  describe(): ClusterDto {
    const self = this.config.queenId;
    const { leaderId, term } = this.link.current;
    const queens = this.link.clustered
      ? this.fanout.queens.map((queen) => ({ queen_id: queen.queenId, url: queen.url, last_seen_at: new Date(queen.lastSeenAt).toISOString() }))
      : [{ queen_id: self, url: this.config.advertiseUrl, last_seen_at: new Date(this.clock.now()).toISOString() }];
    return { queen_id: self, leader_id: leaderId, term, queens };
  }

  private health(): ClusterHealth {
    const { leading, term, leaderId } = this.link.current;
    const failure = this.election.databaseFailure;
    return {
      healthy: failure === null,
      details: {
        leading,
        term,
        leader_id: leaderId,
        database: failure === null ? 'reachable' : `unreachable: ${failure}; not leading`,
        fanout: this.fanout.connected ? (this.link.liveViewComplete ? 'connected' : 'catching up') : 'disconnected',
      },
    };
  }
}
