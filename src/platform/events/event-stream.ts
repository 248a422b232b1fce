import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { BeforeApplicationShutdown, HttpStatus, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Subscription } from 'rxjs';
import { Clock } from '../clock/clock';
import { ProblemException } from '../http/problem';
import { validationProblem } from '../http/validation';
import { QueenMetrics } from '../metrics/queen-metrics';
import { FleetEvent, PUBLIC_EVENT_TYPES } from './fleet-event';
import { FleetEvents } from './fleet-events';

/** A comment line is sent this often, so proxies and browsers keep an idle stream open. */
export const EVENT_KEEP_ALIVE_MS = 15_000;

/**
 * Bytes a client may have queued (in the queen's memory, beyond what the
 * kernel took) before it is dropped. Large enough for bursts: a sweep that
 * marks 10,000 hives offline publishes ~1.5 MB within one tick.
 */
export const EVENT_CLIENT_MAX_PENDING_BYTES = 4 * 1024 * 1024;

/** A client with events waiting for longer than this is dropped, however little it has queued. */
export const EVENT_CLIENT_MAX_BACKED_UP_MS = 5_000;

/** Events kept for clients that reconnect with `Last-Event-ID` (API.md: at least the last 10,000). */
export const EVENT_HISTORY_SIZE = 10_000;

/** Reconnect delay browsers' EventSource uses after the stream ends. */
const RETRY_MS = 3000;

const PUBLIC_TYPES: ReadonlySet<string> = new Set(PUBLIC_EVENT_TYPES);

interface StreamClient {
  readonly res: Response;
  /** Types to send; null for all. */
  readonly types: ReadonlySet<string> | null;
  readonly remote: string;
  /** Frames waiting for the socket: shared buffers, not copies. */
  readonly queue: Buffer[];
  queuedBytes: number;
  /** performance.now() when the oldest frame still queued (here or in the socket) was queued. */
  backedUpSince: number | null;
  /** The socket refused more; nothing is written until it drains. */
  waitingForDrain: boolean;
  closed: boolean;
}

/** The event types a `?types=` list asks for; null for all. Unknown names are a 400. */
export function parseEventTypes(raw: string | undefined): ReadonlySet<string> | null {
  if (raw === undefined) return null;
  const names = raw
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const unknown = names.filter((name) => !PUBLIC_TYPES.has(name));
  if (unknown.length > 0) {
    throw validationProblem([
      { field: 'types', message: `unknown event type ${unknown.map((name) => `"${name}"`).join(', ')}; known: ${PUBLIC_EVENT_TYPES.join(', ')}` },
    ]);
  }
  return names.length === 0 ? null : new Set(names);
}

/** One SSE frame. JSON never contains a raw line break, so `data` is one line. */
function frame(id: string, event: FleetEvent): Buffer {
  const at = new Date(event.at).toISOString();
  // type and at first, and not overridable by the event's own data.
  const body = Object.assign({ type: event.type, at }, event.data, { type: event.type, at });
  return Buffer.from(`event: ${event.type}\nid: ${id}\ndata: ${JSON.stringify(body)}\n\n`, 'utf8');
}

/** An event as kept for replay: its number in this process, its type (for `?types=`) and its frame. */
interface KeptEvent {
  seq: number;
  type: string;
  bytes: Buffer;
}

/**
 * Event ids are `<boot>.<n>`: a random name for this run of the process, and the event's number in
 * it. Unique across restarts (and queens) without coordination; a client passes them back verbatim.
 */
const ID = /^([0-9a-f]{16})\.(\d{1,15})$/;

/**
 * The open event streams: their clients, the keep-alive timer and the
 * subscription to the bus (held only while someone listens).
 *
 * Publishing only queues: each event is serialized once, and a reference to
 * it is put on every client's queue; the sockets are written after the
 * publisher (a heartbeat, a sweep) has returned, in one pass for everything
 * queued meanwhile. A socket that refuses more is not written again until it
 * drains. A client that does not keep up (more than
 * {@link EVENT_CLIENT_MAX_PENDING_BYTES} waiting, or events waiting longer
 * than {@link EVENT_CLIENT_MAX_BACKED_UP_MS}) is disconnected at once, so the
 * heartbeat path never pays for it.
 */
@Injectable()
export class EventStream implements OnModuleInit, OnModuleDestroy, BeforeApplicationShutdown {
  /** Tunable per instance (tests shorten them); defaults above. */
  keepAliveMs = EVENT_KEEP_ALIVE_MS;
  maxPendingBytes = EVENT_CLIENT_MAX_PENDING_BYTES;
  maxBackedUpMs = EVENT_CLIENT_MAX_BACKED_UP_MS;

  private readonly logger = new Logger('EventStream');
  private readonly clients = new Set<StreamClient>();
  private subscription: Subscription | null = null;
  private keepAliveTimer: NodeJS.Timeout | null = null;
  private readonly boot = randomBytes(8).toString('hex');
  private lastSeq = 0;
  /** The last {@link EVENT_HISTORY_SIZE} events, oldest first, for replay (a ring: `historyStart` is the oldest). */
  private readonly history: KeptEvent[] = [];
  private historyStart = 0;
  private shuttingDown = false;
  private flushScheduled = false;

  constructor(
    private readonly events: FleetEvents,
    private readonly metrics: QueenMetrics,
    private readonly clock: Clock,
  ) {}

  /** Clients connected now. */
  get clientCount(): number {
    return this.clients.size;
  }

  /** Events are kept from the start, for replay, whether or not anyone listens yet. */
  onModuleInit(): void {
    this.subscription = this.events.stream.subscribe((event) => this.broadcast(event));
  }

  /** The id of the latest event (`<boot>.0` before the first). */
  get lastEventId(): string {
    return `${this.boot}.${this.lastSeq}`;
  }

  /**
   * Turns the response into an event stream of the given types (null: all). With `lastEventId` (the
   * client's `Last-Event-ID`), the events after it are sent first, if they are still kept; otherwise a
   * `reset` event tells the client to read the state again before following.
   */
  open(req: Request, res: Response, types: ReadonlySet<string> | null, lastEventId?: string): void {
    if (this.shuttingDown) {
      throw new ProblemException(HttpStatus.SERVICE_UNAVAILABLE, 'shutting-down', 'the queen is shutting down');
    }
    res.status(HttpStatus.OK);
    res.set({
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      // nginx and similar proxies would otherwise buffer the stream.
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    req.socket.setNoDelay(true);

    const client: StreamClient = {
      res,
      types,
      remote: `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`,
      queue: [],
      queuedBytes: 0,
      backedUpSince: null,
      waitingForDrain: false,
      closed: false,
    };
    this.clients.add(client);
    this.metrics.eventClients.inc();
    res.on('close', () => this.remove(client));
    res.on('drain', () => {
      client.waitingForDrain = false;
      this.flush(client);
    });
    this.startKeepAlive();
    this.enqueue(client, Buffer.from(`: queen events\nretry: ${RETRY_MS}\n\n`, 'utf8'));
    if (lastEventId !== undefined) this.resume(client, lastEventId);
  }

  /** Queues what a reconnecting client missed, or a reset when that cannot be told. */
  private resume(client: StreamClient, lastEventId: string): void {
    const match = ID.exec(lastEventId.trim());
    const seq = match && match[1] === this.boot ? Number(match[2]) : null;
    const oldestKept = this.history.length === 0 ? this.lastSeq + 1 : this.history[this.historyStart].seq;
    if (seq === null || seq > this.lastSeq || seq < oldestKept - 1) {
      const reason = seq === null ? 'that event id is not from this queen run (restarted, or unknown)' : 'the events after that id are no longer kept';
      const body = { type: 'reset', at: new Date(this.clock.now()).toISOString(), reason, last_event_id: lastEventId.slice(0, 64) };
      this.enqueue(client, Buffer.from(`event: reset\nid: ${this.lastEventId}\ndata: ${JSON.stringify(body)}\n\n`, 'utf8'));
      return;
    }
    for (let i = 0; i < this.history.length; i++) {
      const kept = this.history[(this.historyStart + i) % this.history.length];
      if (kept.seq > seq && (!client.types || client.types.has(kept.type))) this.enqueue(client, kept.bytes);
    }
  }

  onModuleDestroy(): void {
    this.subscription?.unsubscribe();
    this.subscription = null;
    this.stopKeepAlive();
  }

  /** Ends open streams, so they do not hold `app.close()` (and the HTTP server) open. */
  beforeApplicationShutdown(): void {
    this.shuttingDown = true;
    const open = this.clients.size;
    for (const client of [...this.clients]) {
      this.remove(client);
      client.res.end();
    }
    this.stopKeepAlive();
    this.logger.log(`shutdown: ${open} event stream(s) closed`);
  }

  private startKeepAlive(): void {
    if (!this.keepAliveTimer) {
      const comment = Buffer.from(': keep-alive\n\n', 'utf8');
      this.keepAliveTimer = setInterval(() => {
        for (const client of this.clients) this.enqueue(client, comment);
      }, this.keepAliveMs);
      this.keepAliveTimer.unref();
    }
  }

  private stopKeepAlive(): void {
    if (this.keepAliveTimer) clearInterval(this.keepAliveTimer);
    this.keepAliveTimer = null;
  }

  /** Frames the event once, keeps it for replay and queues it for every client that asked for its type. */
  private broadcast(event: FleetEvent): void {
    this.lastSeq += 1;
    const kept: KeptEvent = { seq: this.lastSeq, type: event.type, bytes: frame(this.lastEventId, event) };
    if (this.history.length < EVENT_HISTORY_SIZE) {
      this.history.push(kept);
    } else {
      this.history[this.historyStart] = kept;
      this.historyStart = (this.historyStart + 1) % EVENT_HISTORY_SIZE;
    }
    for (const client of this.clients) {
      if (client.types && !client.types.has(event.type)) continue;
      this.enqueue(client, kept.bytes);
    }
  }

  /** Queues a frame for a client, or drops the client when it is too far behind; the write comes after this turn. */
  private enqueue(client: StreamClient, bytes: Buffer): void {
    if (client.closed) return;
    const now = performance.now();
    client.queue.push(bytes);
    client.queuedBytes += bytes.length;
    client.backedUpSince ??= now;
    const pending = client.queuedBytes + client.res.writableLength;
    if (pending > this.maxPendingBytes) {
      this.drop(client, `${pending} bytes waiting (limit ${this.maxPendingBytes})`);
    } else if (now - client.backedUpSince > this.maxBackedUpMs) {
      this.drop(client, `events waiting for ${Math.round(now - client.backedUpSince)} ms (limit ${this.maxBackedUpMs})`);
    } else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        for (const queued of this.clients) this.flush(queued);
      });
    }
  }

  /** Writes a client's queue until its socket refuses more. */
  private flush(client: StreamClient): void {
    if (client.closed) return;
    while (client.queue.length > 0 && !client.waitingForDrain) {
      const bytes = client.queue.shift()!;
      client.queuedBytes -= bytes.length;
      client.waitingForDrain = !client.res.write(bytes);
    }
    // Caught up once nothing waits here nor in the socket.
    if (client.queue.length === 0 && !client.waitingForDrain) client.backedUpSince = null;
  }

  private drop(client: StreamClient, reason: string): void {
    if (client.closed) return;
    this.remove(client);
    this.metrics.eventClientsDropped.inc();
    this.logger.warn(`event stream client ${client.remote} dropped: too slow, ${reason}`);
    client.res.destroy();
  }

  private remove(client: StreamClient): void {
    if (client.closed) return;
    client.closed = true;
    this.clients.delete(client);
    this.metrics.eventClients.dec();
    if (this.clients.size === 0) this.stopKeepAlive();
  }
}
