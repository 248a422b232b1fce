import { randomBytes } from 'node:crypto';
import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import Redis from 'ioredis';
import { Clock } from '../platform/clock/clock';
import { ClusterLink, PeerMessage } from '../platform/cluster/cluster-link';
import { QueenConfig } from '../platform/config/queen-config';
import { QueenMetrics } from '../platform/metrics/queen-metrics';
import { PeerApplier } from './peer-applier';

/** Facts are sent this often, together: one stream entry per queen per batch, not one per heartbeat. */
export const FANOUT_BATCH_MS = 50;
/** Messages in one stream entry at most; a larger batch goes as several entries in one round trip. */
const ENTRY_MESSAGES = 2000;
/** Stream entries read per round trip, and how long a read waits for more. */
const READ_COUNT = 200;
const READ_BLOCK_MS = 1000;
/** The longest wait between two attempts to reach Redis again. */
const RECONNECT_MAX_MS = 1000;
/** How often a queen writes its presence and reads the others'. */
const PRESENCE_MS = 1000;
/** Queens not seen for this long are left out of GET /v1/cluster (and forgotten after an hour). */
const QUEEN_SHOWN_MS = 60_000;
const QUEEN_FORGOTTEN_MS = 3_600_000;
/** How long an acknowledged fact waits to be sent before the answer goes out anyway (Redis away: it follows when Redis is back). */
const ACKNOWLEDGED_WAIT_MS = 1000;
/** Facts kept for Redis while it is away, at most; beyond that the oldest heartbeats go first (newer ones follow). */
const MAX_BUFFERED = 200_000;

export interface QueenPresence {
  queenId: string;
  url: string;
  lastSeenAt: number;
}

/**
 * The fan-out between queens: one Redis stream (`<prefix>fleet`) that every queen appends its facts to
 * (heartbeats it applied, events, names of catalog rows it changed), in batches of
 * {@link FANOUT_BATCH_MS}, and reads from in order. A stream rather than pub/sub because a queen that
 * was away (restarted, or cut from Redis for a while) reads on from where it stopped, and a queen
 * that joins reads the last heartbeat timeout's worth, which holds every live hive's latest beat: its
 * registry is warm before it could mark anyone offline. The stream is trimmed to that window.
 * While Redis is away a queen keeps serving: it buffers what it has to tell, and its live view
 * counts as incomplete (no liveness sweep) until it has caught up again.
 */
@Injectable()
export class FleetFanout implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Fanout');
  /** This process's name in the stream: its own heartbeats are not applied twice (a restarted queen's old ones are). */
  private readonly source = randomBytes(8).toString('hex');
  private writer: Redis | null = null;
  private reader: Redis | null = null;
  private pending: PeerMessage[] = [];
  /** Callers waiting for their fact to be sent (see ClusterLink.shareNow). */
  private waiters: (() => void)[] = [];
  private flushing = false;
  private stopped = false;
  private reading: Promise<void> | null = null;
  private lastId = '0-0';
  private batchTimer: NodeJS.Timeout | undefined;
  private presenceTimer: NodeJS.Timeout | undefined;
  private readerUp = false;
  /** The stream was unreadable since the start: what others buffered meanwhile is yet to come. */
  private lost = false;
  /**
   * After an outage the live view is complete only once caught up and, from the reconnection, one
   * heartbeat interval plus the other queens' reconnection delay later: by then each of them has sent
   * what it buffered, and every live hive has beaten again (covering beats a restarted Redis lost).
   */
  private completeAfter = 0;
  private presence: QueenPresence[] = [];

  constructor(
    private readonly config: QueenConfig,
    private readonly link: ClusterLink,
    private readonly applier: PeerApplier,
    private readonly metrics: QueenMetrics,
    private readonly clock: Clock,
  ) {}

  private get streamKey(): string {
    return `${this.config.cluster!.keyPrefix}fleet`;
  }

  private get queensKey(): string {
    return `${this.config.cluster!.keyPrefix}queens`;
  }

  /** Whether this queen reads the fan-out now. */
  get connected(): boolean {
    return this.readerUp;
  }

  /** The queens seen lately, this one included, from the last read of their presence. */
  get queens(): readonly QueenPresence[] {
    return this.presence;
  }

  onApplicationBootstrap(): void {
    if (!this.link.clustered) return;
    const url = this.config.cluster!.redisUrl;
    const options = { connectTimeout: 2000, retryStrategy: (attempt: number) => Math.min(attempt * 200, RECONNECT_MAX_MS), lazyConnect: false };
    // Commands fail at once while Redis is away: the queen buffers itself rather than waiting on them.
    this.writer = new Redis(url, { ...options, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    this.reader = new Redis(url, { ...options, maxRetriesPerRequest: null });
    for (const connection of [this.writer, this.reader]) connection.on('error', () => undefined);
    this.writer.on('ready', () => this.logger.log('connected to Redis'));
    this.writer.on('close', () => {
      if (!this.stopped) this.logger.warn('Redis connection lost; buffering what the other queens must hear');
    });
    // The blocked read is sent again once Redis is back; until it has caught up, heartbeats other queens received may be missing.
    this.reader.on('close', () => this.lostStream('the Redis connection closed'));
    this.link.attach((message, acknowledged) => this.enqueue(message, acknowledged));
    // A joining queen reads the last timeout's worth: the latest beat of every hive alive.
    this.lastId = `${Math.max(0, this.clock.now() - this.config.heartbeatTimeoutMs)}-0`;
    this.batchTimer = setInterval(() => void this.flush(), FANOUT_BATCH_MS);
    this.presenceTimer = setInterval(() => void this.announce(), PRESENCE_MS);
    void this.announce();
    this.reading = this.readLoop();
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (!this.link.clustered) return;
    await this.flush();
    this.stopped = true;
    clearInterval(this.batchTimer);
    clearInterval(this.presenceTimer);
    this.reader?.disconnect();
    await this.reading;
    this.writer?.disconnect();
  }

  private enqueue(message: PeerMessage, acknowledged: boolean): Promise<void> | void {
    this.pending.push(message);
    if (this.pending.length > MAX_BUFFERED) {
      const firstBeat = this.pending.findIndex((queued) => queued.t === 'hb');
      this.pending.splice(firstBeat >= 0 ? firstBeat : 0, 1);
    }
    if (!acknowledged) return;
    return new Promise<void>((resolve) => {
      this.waiters.push(resolve);
      setTimeout(resolve, ACKNOWLEDGED_WAIT_MS).unref();
      setImmediate(() => void this.flush());
    });
  }

  /** Sends what is queued, in entries of at most {@link ENTRY_MESSAGES}, in one round trip; kept for the next try when Redis is away. */
  async flush(): Promise<void> {
    if (this.flushing || this.pending.length === 0 || !this.writer || this.writer.status !== 'ready') return;
    this.flushing = true;
    const batch = this.pending;
    const waiters = this.waiters;
    this.pending = [];
    this.waiters = [];
    try {
      const trimBelow = String(Math.max(0, this.clock.now() - this.config.heartbeatTimeoutMs));
      const pipeline = this.writer.pipeline();
      for (let i = 0; i < batch.length; i += ENTRY_MESSAGES) {
        pipeline.xadd(this.streamKey, 'MINID', '~', trimBelow, '*', 'src', this.source, 'm', JSON.stringify(batch.slice(i, i + ENTRY_MESSAGES)));
      }
      const results = await pipeline.exec();
      const failed = results?.find(([error]) => error !== null);
      if (failed) throw failed[0];
      this.metrics.fanoutMessages.inc({ direction: 'sent' }, batch.length);
      for (const resolve of waiters) resolve();
    } catch {
      this.pending = batch.concat(this.pending);
      this.waiters = waiters.concat(this.waiters);
    } finally {
      this.flushing = false;
      // Asked for while this flush ran: sent now rather than a batch later.
      if (this.waiters.length > 0) setImmediate(() => void this.flush());
    }
  }

  private async readLoop(): Promise<void> {
    while (!this.stopped) {
      try {
        const result = (await this.reader!.xread('COUNT', READ_COUNT, 'BLOCK', READ_BLOCK_MS, 'STREAMS', this.streamKey, this.lastId)) as
          | [string, [string, string[]][]][]
          | null;
        if (!this.readerUp) {
          this.readerUp = true;
          // The other queens reconnect and send what they buffered meanwhile within about a second.
          if (this.lost) this.completeAfter = this.clock.now() + this.config.heartbeatIntervalMs + RECONNECT_MAX_MS;
          this.logger.log(`reading the fleet stream from ${this.lastId}`);
        }
        const entries = result?.[0]?.[1] ?? [];
        for (const [id, fields] of entries) {
          this.lastId = id;
          await this.take(fields);
        }
        if (entries.length < READ_COUNT && !this.link.liveViewComplete && this.clock.now() >= this.completeAfter) {
          this.link.setLiveViewComplete(true);
          this.logger.log('caught up with the other queens');
        }
      } catch (error) {
        if (this.stopped) return;
        this.lostStream((error as Error).message);
        await new Promise((done) => setTimeout(done, 200));
      }
    }
  }

  private lostStream(why: string): void {
    if (this.stopped) return;
    if (this.readerUp) this.logger.warn(`fleet stream unreadable, holding the liveness sweep until caught up: ${why}`);
    this.readerUp = false;
    this.lost = true;
    this.link.setLiveViewComplete(false);
  }

  /** One stream entry: every queen's events; other processes' facts. */
  private async take(fields: string[]): Promise<void> {
    let source = '';
    let body = '[]';
    for (let i = 0; i < fields.length; i += 2) {
      if (fields[i] === 'src') source = fields[i + 1];
      else if (fields[i] === 'm') body = fields[i + 1];
    }
    const messages = JSON.parse(body) as PeerMessage[];
    const own = source === this.source;
    for (const message of messages) {
      if (own && message.t !== 'event') continue;
      try {
        await this.applier.apply(message);
      } catch (error) {
        this.logger.warn(`could not apply a ${message.t} from another queen: ${(error as Error).message}`);
      }
    }
    if (!own) this.metrics.fanoutMessages.inc({ direction: 'received' }, messages.length);
  }

  /** Writes this queen's presence and reads everyone's. */
  private async announce(): Promise<void> {
    const now = this.clock.now();
    try {
      await this.writer!.hset(this.queensKey, this.config.queenId, JSON.stringify({ url: this.config.advertiseUrl, seen: now }));
      const all = await this.writer!.hgetall(this.queensKey);
      const seen: QueenPresence[] = [];
      for (const [queenId, value] of Object.entries(all)) {
        const { url, seen: lastSeenAt } = JSON.parse(value) as { url: string; seen: number };
        if (now - lastSeenAt > QUEEN_FORGOTTEN_MS) await this.writer!.hdel(this.queensKey, queenId);
        else if (now - lastSeenAt <= QUEEN_SHOWN_MS) seen.push({ queenId, url, lastSeenAt });
      }
      this.presence = seen.sort((a, b) => (a.queenId < b.queenId ? -1 : 1));
    } catch {
      // Redis is away: the last list read stands, and this queen shows itself as seen now.
      this.presence = [
        ...this.presence.filter((queen) => queen.queenId !== this.config.queenId),
        { queenId: this.config.queenId, url: this.config.advertiseUrl, lastSeenAt: now },
      ].sort((a, b) => (a.queenId < b.queenId ? -1 : 1));
    }
  }
}
