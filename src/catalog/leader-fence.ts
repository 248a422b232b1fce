import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { ClusterLink } from '../platform/cluster/cluster-link';

/** A leader-only write came from a queen that no longer leads in the term it was elected for. */
export class NotLeaderError extends Error {
  constructor(term: number) {
    super(`this queen no longer leads (term ${term} has ended): the write was not made`);
  }
}

/**
 * Fencing by term for the writes only the leader makes (worker records of deployments, hives marked
 * offline). The check runs inside the writing transaction and share-locks the leadership row until
 * commit, so a new leader's term cannot begin between the check and the write. A queen on its own
 * always leads.
 */
@Injectable()
export class LeaderFence {
  constructor(private readonly cluster: ClusterLink) {}

  async holds(manager: EntityManager): Promise<boolean> {
    if (!this.cluster.clustered) return true;
    const { leading, term } = this.cluster.current;
    if (!leading) return false;
    const rows: { term: string | number }[] = await manager.query('SELECT term FROM queen_leadership WHERE id = 1 FOR SHARE');
    return rows.length === 1 && Number(rows[0].term) === term;
  }

  async check(manager: EntityManager): Promise<void> {
    if (!(await this.holds(manager))) throw new NotLeaderError(this.cluster.current.term);
  }
}
