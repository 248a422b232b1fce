import { Injectable } from '@nestjs/common';
import { Clock } from '../platform/clock/clock';
import { QueenConfig } from '../platform/config/queen-config';
import type { ClusterDto } from './dto/cluster.dto';

/**
 * Which queens serve the fleet and which one leads. A queen on its own database (SQLite, or PostgreSQL
 * without peers) is the whole cluster: it leads, in the first and only term, and was seen just now.
 */
@Injectable()
export class ClusterService {
  constructor(
    private readonly config: QueenConfig,
    private readonly clock: Clock,
  ) {}

  describe(): ClusterDto {
    const self = this.config.queenId;
    return {
      queen_id: self,
      leader_id: self,
      term: 1,
      queens: [{ queen_id: self, url: this.config.advertiseUrl, last_seen_at: new Date(this.clock.now()).toISOString() }],
    };
  }
}
