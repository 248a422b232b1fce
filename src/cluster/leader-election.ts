import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { Client } from 'pg';
import { Clock } from '../platform/clock/clock';
import { ClusterLink } from '../platform/cluster/cluster-link';
import { QueenConfig } from '../platform/config/queen-config';
import { FleetEvents } from '../platform/events/fleet-events';

/** How often a queen tries for the lead, and the leader proves it still holds it. */
export const LEADERSHIP_POLL_MS = 1000;
/** A check the database has not answered by then counts as the database lost. */
const CHECK_TIMEOUT_MS = 2000;
/**
 * The session holding the lock is ended by PostgreSQL itself once idle this long: a leader cut off
 * from the database (no packets either way) lets the lock go after it, while its own checks have
 * told it to stop leading well before (one poll plus one check timeout).
 */
const IDLE_SESSION_TIMEOUT = '5s';
/** The session-level advisory lock whose holder leads ("lead" in ASCII). */
const LEADER_LOCK = 0x6c656164;

/**
 * Leadership through PostgreSQL. Each queen keeps one connection of its own and tries the
 * session-level advisory lock every {@link LEADERSHIP_POLL_MS}; the queen that holds it leads, and on
 * taking it raises the term in `queen_leadership`, the number every leader-only write is fenced by.
 * The lock goes with the session: a leader killed (the kernel closes its socket) is replaced within a
 * poll. A leader whose check fails or times out, or whose connection ends, stops leading at once.
 * A queen on its own (no REDIS_URL) leads without asking.
 */
@Injectable()
export class LeaderElection implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Leadership');
  private client: Client | null = null;
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private stopped = false;
  /** What the last check found of the database: null when it answered. */
  private lastFailure: string | null = null;

  constructor(
    private readonly config: QueenConfig,
    private readonly link: ClusterLink,
    private readonly events: FleetEvents,
    private readonly clock: Clock,
  ) {}

  /** Why the last check of the database failed; null when it answered. */
  get databaseFailure(): string | null {
    return this.lastFailure;
  }

  onApplicationBootstrap(): void {
    if (!this.link.clustered) return;
    this.timer = setInterval(() => void this.poll(), LEADERSHIP_POLL_MS);
    this.timer.unref();
    void this.poll();
  }

  /** Lets the lock go, so that another queen leads within a poll rather than after a timeout. */
  async beforeApplicationShutdown(): Promise<void> {
    if (!this.link.clustered) return;
    this.stopped = true;
    clearInterval(this.timer);
    if (this.link.leading) this.logger.log(`shutdown: giving up the lead (term ${this.link.current.term})`);
    this.stepDown(null);
    const client = this.client;
    this.client = null;
    // A database that does not answer must not hold the shutdown.
    await Promise.race([client?.end().catch(() => undefined), new Promise((done) => setTimeout(done, CHECK_TIMEOUT_MS).unref())]);
  }

  /** One try for the lead, or one proof that this queen still holds it. */
  async poll(): Promise<void> {
    if (this.polling || this.stopped) return;
    this.polling = true;
    try {
      const client = await this.connection();
      if (!this.link.leading) {
        const { rows } = await client.query<{ acquired: boolean }>('SELECT pg_try_advisory_lock($1) AS acquired', [LEADER_LOCK]);
        if (rows[0].acquired) {
          const elected = await client.query<{ term: string }>(
            'UPDATE queen_leadership SET term = term + 1, leader_id = $1, elected_at = now() WHERE id = 1 RETURNING term',
            [this.config.queenId],
          );
          this.lead(Number(elected.rows[0].term));
          this.lastFailure = null;
          return;
        }
      }
      const { rows } = await client.query<{ leader_id: string | null; term: string }>('SELECT leader_id, term FROM queen_leadership WHERE id = 1');
      const term = Number(rows[0].term);
      if (this.link.leading && term !== this.link.current.term) {
        this.stepDown(`term ${term} began elsewhere`);
        this.dropConnection();
      } else {
        this.link.setLeadership({ leading: this.link.leading, term, leaderId: rows[0].leader_id });
      }
      this.lastFailure = null;
    } catch (error) {
      this.lastFailure = (error as Error).message;
      this.stepDown(`the database does not answer (${this.lastFailure})`);
      this.dropConnection();
    } finally {
      this.polling = false;
    }
  }

  private lead(term: number): void {
    this.link.setLeadership({ leading: true, term, leaderId: this.config.queenId });
    this.logger.log(`leading the cluster, term ${term}`);
    this.events.publish('queen.leader', this.clock.now(), { queen_id: this.config.queenId, term });
  }

  /** Stops leading now; `why` is logged (null: quietly, at shutdown). */
  private stepDown(why: string | null): void {
    const current = this.link.current;
    if (!current.leading) return;
    if (why !== null) this.logger.warn(`no longer leading (term ${current.term}): ${why}`);
    this.link.setLeadership({ leading: false, term: current.term, leaderId: null });
  }

  private async connection(): Promise<Client> {
    if (this.client) return this.client;
    const url = this.config.database.type === 'postgres' ? this.config.database.url : '';
    const client = new Client({ connectionString: url, connectionTimeoutMillis: CHECK_TIMEOUT_MS, query_timeout: CHECK_TIMEOUT_MS, keepAlive: true });
    // The lock lives with this session: once it ends, so does this queen's lead.
    const lost = (reason: string) => {
      if (this.client !== client) return;
      this.client = null;
      this.stepDown(reason);
    };
    client.on('error', (error) => lost(`the leadership connection failed: ${error.message}`));
    client.on('end', () => lost('the leadership connection closed'));
    try {
      await client.connect();
      await client.query(`SET idle_session_timeout = '${IDLE_SESSION_TIMEOUT}'`);
      await client.query(`SET application_name = 'queen leadership ${this.config.queenId.slice(0, 40)}'`);
    } catch (error) {
      void client.end().catch(() => undefined);
      throw error;
    }
    this.client = client;
    return client;
  }

  private dropConnection(): void {
    const client = this.client;
    this.client = null;
    void client?.end().catch(() => undefined);
  }
}
