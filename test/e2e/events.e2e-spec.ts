/**
 * GET /v1/events over a real socket: which fleet changes become events, their
 * wire format, the types filter, admin auth (header or ?access_token=), slow
 * clients being dropped without holding up publishers, and shutdown.
 */
import { get, IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { ManualClock } from '../../src/platform/clock/clock';
import { EventStream } from '../../src/platform/events/event-stream';
import { FleetEvents } from '../../src/platform/events/fleet-events';
import { LivenessSweeper } from '../../src/heartbeat/liveness-sweeper';
import { redactUrl } from '../../src/platform/logging/logging.module';
import { QueenMetrics } from '../../src/platform/metrics/queen-metrics';
import type { HeartbeatWorker } from '../../tools/simulator/wire';
import { FakeHiveFleet, startFakeHives } from '../support/fake-hive';
import { TestQueen } from '../support/queen';
import { beat } from '../support/heartbeats';

const GIB = 2 ** 30;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

interface SseEvent {
  event: string;
  id: string | null;
  data: Record<string, unknown>;
}

/** A minimal SSE client on node:http, as a browser's EventSource would read the stream. */
class SseClient {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  /** The body of a non-200 answer. */
  body = '';
  ended = false;
  private buffer = '';
  private readonly waiters = new Set<() => void>();

  private constructor(readonly response: IncomingMessage) {}

  static open(queen: TestQueen, path: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const { port } = queen.app.getHttpServer().address() as AddressInfo;
    return new Promise((resolve, reject) => {
      const request = get({ host: '127.0.0.1', port, path, headers: { accept: 'text/event-stream', ...headers }, agent: false });
      request.on('error', reject);
      request.on('response', (response) => {
        const client = new SseClient(response);
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => client.feed(chunk));
        response.on('error', () => undefined);
        response.on('close', () => {
          client.ended = true;
          client.notify();
        });
        if (response.statusCode !== 200) {
          response.on('end', () => resolve(client));
          return;
        }
        // Connected once the server's opening comment arrives (the client is then subscribed).
        void client.waitFor(() => client.comments.length > 0).then(() => resolve(client), reject);
      });
    });
  }

  get status(): number {
    return this.response.statusCode ?? 0;
  }

  get headers(): IncomingHttpHeaders {
    return this.response.headers;
  }

  ofType(type: string): SseEvent[] {
    return this.events.filter((event) => event.event === type);
  }

  /** Resolves once `condition` holds; fails after `timeoutMs`, naming what was received. */
  waitFor(condition: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!condition()) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out waiting for ${what}; received ${this.events.length} event(s), the last: ${this.events.slice(-10).map((e) => e.event).join(', ') || 'nothing'}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
    });
  }

  waitForEvent(type: string, match: (data: Record<string, unknown>) => boolean = () => true): Promise<SseEvent> {
    const find = () => this.events.find((event) => event.event === type && match(event.data));
    return this.waitFor(() => find() !== undefined, 5000, `event ${type}`).then(() => find()!);
  }

  close(): void {
    this.response.destroy();
  }

  private feed(chunk: string): void {
    if (this.status !== 200) {
      this.body += chunk;
      return;
    }
    this.buffer += chunk;
    let end: number;
    while ((end = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      this.parse(block);
    }
    this.notify();
  }

  private parse(block: string): void {
    let event = 'message';
    let id: string | null = null;
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) {
        this.comments.push(line.slice(1).trim());
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'id') id = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length > 0) this.events.push({ event, id, data: JSON.parse(data.join('\n')) as Record<string, unknown> });
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(10);
  }
}

function worker(id: string, deviceId: number, vramGb: number): HeartbeatWorker {
  return {
    worker_id: id,
    state: 'Idle',
    last_heartbeat: '2026-11-27T10:00:00Z',
    health_status: 'healthy',
    url: `http://127.0.0.1:9001/${id}`,
    model_id: 'llama-3-8b',
    backend: 'cuda',
    device_id: deviceId,
    vram_bytes: vramGb * GIB,
    ram_bytes: 2 * GIB,
    cpu_percent: 1,
    gpu_percent: 0,
  };
}

describe('GET /v1/events', () => {
  let queen: TestQueen;
  let fleet: FakeHiveFleet;
  const tokens = new Map<string, string>();
  const open: SseClient[] = [];

  const connect = async (path = '/v1/events', headers: Record<string, string> = {}) => {
    const client = await SseClient.open(queen, path, headers);
    open.push(client);
    return client;
  };

  async function register(id: string): Promise<void> {
    const res = await queen.http().post('/v1/hives').send(fleet.registration(id)).expect(201);
    tokens.set(id, (res.body as { heartbeat_token: string }).heartbeat_token);
  }

  /** The fake hive's next heartbeat, with other workers when given. */
  async function beatAs(id: string, workers?: HeartbeatWorker[]): Promise<void> {
    const body = { ...fleet.hive(id).heartbeatBody() };
    await beat(queen, { id, token: tokens.get(id)! }, workers ? { ...body, workers } : body);
  }

  beforeAll(async () => {
    fleet = await startFakeHives([
      { id: 'hive-a', gpus: [{ vramGb: 24 }, { vramGb: 24 }] },
      { id: 'hive-b', gpus: [{ vramGb: 48 }] },
    ]);
    queen = await TestQueen.start({ env: { CATALOG_FLUSH_MS: '600000' } });
    await register('hive-a');
    await register('hive-b');
  });

  afterEach(() => {
    for (const client of open.splice(0)) client.close();
  });

  afterAll(async () => {
    await queen?.destroy();
    await fleet?.close();
  });

  it('answers with an open text/event-stream', async () => {
    const client = await connect();
    expect(client.status).toBe(200);
    expect(client.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(client.headers['cache-control']).toContain('no-cache');
    expect(client.comments[0]).toBe('queen events');
    await client.waitFor(() => queen.get(EventStream).clientCount === 1);
  });

  it('streams hive.online and worker.added from a heartbeat, in the documented format', async () => {
    const client = await connect();
    await beatAs('hive-a', [worker('w-a1', 0, 8), worker('w-a2', 1, 4)]);

    const online = await client.waitForEvent('hive.online', (d) => d.hive_id === 'hive-a');
    expect(online.data).toEqual({ type: 'hive.online', at: '2026-11-27T10:00:00.000Z', hive_id: 'hive-a' });
    expect(online.data.at).toMatch(RFC3339);
    await client.waitFor(() => client.ofType('worker.added').length === 2);
    expect(client.ofType('worker.added').map((e) => e.data)).toEqual([
      expect.objectContaining({ type: 'worker.added', hive_id: 'hive-a', worker_id: 'w-a1', model_id: 'llama-3-8b', device: 'cuda:0' }),
      expect.objectContaining({ type: 'worker.added', hive_id: 'hive-a', worker_id: 'w-a2', device: 'cuda:1' }),
    ]);
    expect(client.ofType('hive.capabilities')[0]?.data).toEqual(expect.objectContaining({ hive_id: 'hive-a' }));

    // Ids are `<boot>.<n>`: one run of the queen, numbers increasing; internal events (hive.capabilities_missing) never show up.
    const ids = client.events.map((e) => /^([0-9a-f]{16})\.(\d+)$/.exec(e.id ?? '')!);
    expect(ids.every(Boolean)).toBe(true);
    expect(new Set(ids.map((id) => id[1])).size).toBe(1);
    expect(ids.every((id, i) => i === 0 || Number(id[2]) > Number(ids[i - 1][2]))).toBe(true);
    expect(client.events.every((e) => (PUBLIC_TYPES as readonly string[]).includes(e.event))).toBe(true);

    // A later beat without a worker: worker.removed.
    await beatAs('hive-a', [worker('w-a1', 0, 8)]);
    const removed = await client.waitForEvent('worker.removed');
    expect(removed.data).toEqual(expect.objectContaining({ hive_id: 'hive-a', worker_id: 'w-a2' }));
  });

  it('streams placement.created when POST /v1/workers starts a worker, not for a plan', async () => {
    await beatAs('hive-b', []);
    const client = await connect();
    await queen.http().post('/v1/placements').send({ model_id: 'qwen-7b', vram_bytes: 30 * GIB }).expect(200);
    const started = await queen.http().post('/v1/workers').send({ model_id: 'qwen-7b', vram_bytes: 30 * GIB }).expect(202);
    const { worker_id: workerId } = started.body as { worker_id: string };

    const created = await client.waitForEvent('placement.created');
    expect(created.data).toEqual({
      type: 'placement.created',
      at: expect.stringMatching(RFC3339),
      worker_id: workerId,
      hive_id: 'hive-b',
      device: 'cuda:0',
      model_id: 'qwen-7b',
      reservation_id: expect.any(String),
    });
    expect(client.ofType('placement.created')).toHaveLength(1);
    expect(fleet.spawnCalls('hive-b')).toEqual([expect.objectContaining({ worker_id: workerId })]);
  });

  it('sends only the asked-for types with ?types=', async () => {
    const onlyWorkers = await connect('/v1/events?types=worker.added,worker.removed');
    const all = await connect();
    await beatAs('hive-a', [worker('w-a1', 0, 8), worker('w-a3', 1, 2)]);
    queen.get(FleetEvents).publish('hive.capabilities', queen.clock.now(), { hive_id: 'hive-a' });
    await all.waitForEvent('hive.capabilities');
    await onlyWorkers.waitForEvent('worker.added', (d) => d.worker_id === 'w-a3');
    expect(onlyWorkers.events.map((e) => e.event)).toEqual(['worker.added']);
    expect(all.events.map((e) => e.event)).toEqual(['worker.added', 'hive.capabilities']);
    // The same event has the same id on every stream.
    expect(onlyWorkers.events[0].id).toBe(all.events[0].id);
  });

  it('refuses unknown types with a 400 problem naming the field', async () => {
    const client = await connect('/v1/events?types=hive.online,hive.exploded');
    expect(client.status).toBe(400);
    expect(client.headers['content-type']).toMatch(/^application\/problem\+json/);
    const problem = JSON.parse(client.body) as { errors: { field: string; message: string }[] };
    expect(problem.errors).toEqual([{ field: 'types', message: expect.stringContaining('hive.exploded') }]);
  });

  it('streams hive.offline when the sweeper finds a silent hive', async () => {
    const client = await connect('/v1/events?types=hive.offline,hive.online');
    const clock = queen.clock as ManualClock;
    // hive-a beats just before hive-b's silence passes the timeout (and the start-up grace ends).
    clock.advance(queen.config.heartbeatTimeoutMs - 1000);
    await beatAs('hive-a', [worker('w-a1', 0, 8)]);
    clock.advance(2000);
    queen.get(LivenessSweeper).sweep();
    const offline = await client.waitForEvent('hive.offline');
    expect(offline.data).toEqual({ type: 'hive.offline', at: new Date(clock.now()).toISOString(), hive_id: 'hive-b' });
    expect(client.ofType('hive.offline')).toHaveLength(1);
    // hive-b's next beat brings it back.
    await beatAs('hive-b', []);
    await client.waitForEvent('hive.online', (d) => d.hive_id === 'hive-b');
  });

  it('sends a keep-alive comment while idle', async () => {
    const controller = queen.get(EventStream);
    controller.keepAliveMs = 50;
    try {
      const client = await connect();
      await client.waitFor(() => client.comments.filter((c) => c === 'keep-alive').length >= 2, 3000, 'keep-alives');
    } finally {
      controller.keepAliveMs = 15_000;
    }
  });

  it('counts clients, and forgets them when they disconnect', async () => {
    const controller = queen.get(EventStream);
    const gauge = async () => (await queen.get(QueenMetrics).eventClients.get()).values[0]?.value ?? 0;
    await until(() => controller.clientCount === 0, 'earlier clients to be gone');
    const a = await connect();
    await connect('/v1/events?types=hive.online');
    expect(controller.clientCount).toBe(2);
    expect(await gauge()).toBe(2);
    a.close();
    await until(() => controller.clientCount === 1, 'the server to see the close');
    expect(await gauge()).toBe(1);
  });

  it('drops a client that never reads, without slowing publishers', async () => {
    const metrics = queen.get(QueenMetrics);
    const dropped = async () => (await metrics.eventClientsDropped.get()).values[0]?.value ?? 0;
    const droppedBefore = await dropped();
    const controller = queen.get(EventStream);
    await until(() => controller.clientCount === 0, 'earlier clients to be gone');

    // Connected, then never reads again: the kernel buffers fill, then the queen's.
    const stalled = await connect();
    stalled.response.pause();

    const events = queen.get(FleetEvents);
    const padding = 'x'.repeat(256 * 1024);
    const started = performance.now();
    let published = 0;
    for (; published < 400 && controller.clientCount > 0; published++) {
      events.publish('hive.capabilities', queen.clock.now(), { hive_id: 'bulk', n: published, padding });
    }
    const elapsedMs = performance.now() - started;

    expect(controller.clientCount).toBe(0);
    expect(await dropped()).toBe(droppedBefore + 1);
    expect(published).toBeLessThan(400);
    // ~100 MiB at most went into the socket or was refused: the loop never waited for the client.
    expect(elapsedMs).toBeLessThan(2000);
    await stalled.waitFor(() => stalled.ended, 3000, 'the stalled stream to be cut');
    expect((await metrics.eventClients.get()).values[0]?.value ?? 0).toBe(0);

    // The queen carries on: heartbeats are answered and new clients get events.
    const fresh = await connect('/v1/events?types=worker.added');
    await beatAs('hive-a', [worker('w-a1', 0, 8), worker('w-a9', 1, 1)]);
    await fresh.waitForEvent('worker.added', (d) => d.worker_id === 'w-a9');
  });

  it('keeps a client that reads, while events come faster than one socket write', async () => {
    const metrics = queen.get(QueenMetrics);
    const droppedBefore = (await metrics.eventClientsDropped.get()).values[0]?.value ?? 0;
    const reader = await connect('/v1/events?types=hive.capabilities');
    const events = queen.get(FleetEvents);
    const padding = 'y'.repeat(64 * 1024);
    for (let batch = 0; batch < 20; batch++) {
      for (let i = 0; i < 8; i++) events.publish('hive.capabilities', queen.clock.now(), { hive_id: 'bulk', padding });
      await delay(5);
    }
    await reader.waitFor(() => reader.events.length === 160, 10_000, '160 events');
    expect((await metrics.eventClientsDropped.get()).values[0]?.value ?? 0).toBe(droppedBefore);
  });
});

const PUBLIC_TYPES = [
  'hive.online',
  'hive.offline',
  'hive.capabilities',
  'hive.removed',
  'worker.added',
  'worker.removed',
  'placement.created',
] as const;

describe('GET /v1/events with QUEEN_API_TOKEN set', () => {
  const TOKEN = 'events-admin-token-0123456789';
  let queen: TestQueen;
  const open: SseClient[] = [];
  const connect = async (path: string, headers: Record<string, string> = {}) => {
    const client = await SseClient.open(queen, path, headers);
    open.push(client);
    return client;
  };

  beforeAll(async () => {
    queen = await TestQueen.start({ env: { QUEEN_API_TOKEN: TOKEN, HOST: '127.0.0.1' } });
  });

  afterEach(() => {
    for (const client of open.splice(0)) client.close();
  });

  afterAll(async () => {
    await queen?.destroy();
  });

  it('is 401 problem JSON without a token, naming both ways to send one', async () => {
    const client = await connect('/v1/events');
    expect(client.status).toBe(401);
    expect(client.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(client.body)).toEqual(
      expect.objectContaining({ status: 401, detail: expect.stringContaining('access_token') }),
    );
  });

  it('is 401 with a wrong token, in the header or the query', async () => {
    expect((await connect('/v1/events?access_token=nope')).status).toBe(401);
    expect((await connect('/v1/events', { authorization: 'Bearer nope' })).status).toBe(401);
    expect((await connect(`/v1/events?access_token=${TOKEN}x`)).status).toBe(401);
  });

  it('streams with the Authorization header or with ?access_token=', async () => {
    const byHeader = await connect('/v1/events', { authorization: `Bearer ${TOKEN}` });
    const byQuery = await connect(`/v1/events?types=hive.removed&access_token=${encodeURIComponent(TOKEN)}`);
    expect(byHeader.status).toBe(200);
    expect(byQuery.status).toBe(200);
    queen.get(FleetEvents).publish('hive.removed', queen.clock.now(), { hive_id: 'gone' });
    await byHeader.waitForEvent('hive.removed');
    await byQuery.waitForEvent('hive.removed');
  });

  it('keeps query values out of the request log, but for the API\'s own filters, however a name is spelt', () => {
    expect(redactUrl(`/v1/events?types=hive.online&access_token=${TOKEN}`)).toBe('/v1/events?types=hive.online&access_token=[redacted]');
    expect(redactUrl(`/v1/events?access%5Ftoken=${TOKEN}&x=1`)).toBe('/v1/events?access%5Ftoken=[redacted]&x=[redacted]');
    for (const spelling of ['access_token[]', 'access_token%5B%5D', 'Access_Token', 'token', 'access_token ', '']) {
      expect(redactUrl(`/v1/events?${spelling}=${TOKEN}`)).not.toContain(TOKEN);
    }
    expect(redactUrl(`/v1/events?${TOKEN}`)).toBe('/v1/events?[redacted]');
    expect(redactUrl('/v1/hives?limit=5&offset=10&status=online')).toBe('/v1/hives?limit=5&offset=10&status=online');
  });

  it('does not take ?access_token= on other admin routes', async () => {
    await queen.http().get(`/v1/hives?access_token=${TOKEN}`).expect(401);
    await queen.http().get('/v1/hives').set('authorization', `Bearer ${TOKEN}`).expect(200);
  });
});

describe('GET /v1/events at shutdown', () => {
  it('ends open streams so app.close() does not hang', async () => {
    const queen = await TestQueen.start();
    const client = await SseClient.open(queen, '/v1/events');
    try {
      const started = performance.now();
      await queen.destroy();
      expect(performance.now() - started).toBeLessThan(3000);
      await client.waitFor(() => client.ended, 3000, 'the stream to end');
      expect(client.response.complete).toBe(true); // ended cleanly, not cut
    } finally {
      client.close();
    }
  });
});

describe('GET /v1/events with Last-Event-ID', () => {
  let fleet: FakeHiveFleet;
  let queen: TestQueen;
  let restarted: TestQueen | undefined;
  const tokens = new Map<string, string>();
  const open: SseClient[] = [];

  const connect = async (target: TestQueen, path = '/v1/events', headers: Record<string, string> = {}) => {
    const client = await SseClient.open(target, path, headers);
    open.push(client);
    return client;
  };
  const beatAs = (target: TestQueen, id: string) =>
    beat(target, { id, token: tokens.get(id)! }, fleet.hive(id).heartbeatBody() as unknown as Record<string, unknown>);

  beforeAll(async () => {
    fleet = await startFakeHives([{ id: 'replay-a' }, { id: 'replay-b' }]);
    queen = await TestQueen.start({ env: { CATALOG_FLUSH_MS: '600000' } });
    for (const hive of fleet.hives) {
      const res = await queen.http().post('/v1/hives').send(fleet.registration(hive.id)).expect(201);
      tokens.set(hive.id, (res.body as { heartbeat_token: string }).heartbeat_token);
    }
  });

  afterEach(() => {
    for (const client of open.splice(0)) client.close();
  });

  afterAll(async () => {
    await restarted?.destroy();
    await fleet?.close();
  });

  it('sends the events missed since that id, of the types asked for, then follows live', async () => {
    const first = await connect(queen);
    await beatAs(queen, 'replay-a');
    const online = await first.waitForEvent('hive.online', (data) => data.hive_id === 'replay-a');
    first.close();

    // Missed while away: replay-b comes online with its workers; one more event of replay-a's workers.
    await beatAs(queen, 'replay-b');
    const missed = await connect(queen, '/v1/events?types=hive.online');
    const replayed = await connect(queen, '/v1/events?types=hive.online', { 'last-event-id': online.id! });
    await replayed.waitForEvent('hive.online', (data) => data.hive_id === 'replay-b');
    expect(replayed.events.map((e) => [e.event, e.data.hive_id])).toEqual([['hive.online', 'replay-b']]);
    expect(replayed.ofType('reset')).toEqual([]);
    expect(missed.events).toEqual([]); // without the id: live only

    // And live afterwards, in order after the replayed ones.
    queen.get(FleetEvents).publish('hive.online', queen.clock.now(), { hive_id: 'live-after-replay' });
    await replayed.waitForEvent('hive.online', (data) => data.hive_id === 'live-after-replay');
    expect(replayed.events.map((e) => e.data.hive_id)).toEqual(['replay-b', 'live-after-replay']);
  });

  it('sends nothing extra for the latest id, and a reset for an id it cannot place', async () => {
    const latest = await connect(queen);
    queen.get(FleetEvents).publish('hive.removed', queen.clock.now(), { hive_id: 'latest' });
    const last = await latest.waitForEvent('hive.removed', (data) => data.hive_id === 'latest');
    const upToDate = await connect(queen, '/v1/events', { 'last-event-id': last.id! });
    for (const unknown of ['not-an-id', '0000000000000000.1', `${last.id!}9`]) {
      const reset = await connect(queen, '/v1/events', { 'last-event-id': unknown });
      const frame = await reset.waitForEvent('reset');
      expect(frame.data).toEqual({ type: 'reset', at: expect.stringMatching(RFC3339), reason: expect.any(String), last_event_id: unknown });
      expect(frame.id).toBe(last.id); // the client's next Last-Event-ID is now
      expect(reset.events[0].event).toBe('reset');
    }
    queen.get(FleetEvents).publish('hive.removed', queen.clock.now(), { hive_id: 'after' });
    await upToDate.waitForEvent('hive.removed', (data) => data.hive_id === 'after');
    expect(upToDate.events.map((e) => e.data.hive_id)).toEqual(['after']);
  });

  it('keeps the last 10,000 events: an id older than those gets a reset', async () => {
    const watcher = await connect(queen, '/v1/events?types=hive.capabilities');
    const events = queen.get(FleetEvents);
    events.publish('hive.capabilities', queen.clock.now(), { hive_id: 'oldest' });
    const oldest = await watcher.waitForEvent('hive.capabilities', (data) => data.hive_id === 'oldest');
    for (let i = 0; i < 9_999; i++) events.publish('worker.removed', queen.clock.now(), { hive_id: 'h', worker_id: `w${i}` });
    // `oldest` is still kept, so the one before it is the oldest id that replays.
    const stillHeld = await connect(queen, '/v1/events?types=hive.capabilities', { 'last-event-id': oldest.id! });
    events.publish('hive.capabilities', queen.clock.now(), { hive_id: 'pushes-oldest-out' });
    await stillHeld.waitForEvent('hive.capabilities', (data) => data.hive_id === 'pushes-oldest-out');
    expect(stillHeld.ofType('reset')).toEqual([]);
    // All the events after `oldest` are still kept; after one more, the first of them is not.
    events.publish('worker.removed', queen.clock.now(), { hive_id: 'h', worker_id: 'one-more' });
    const evicted = await connect(queen, '/v1/events', { 'last-event-id': oldest.id! });
    await evicted.waitForEvent('reset');
  });

  it('tells a client that reconnects across a queen restart to re-read state, then follows the new queen', async () => {
    const before = await connect(queen);
    await beatAs(queen, 'replay-a');
    queen.get(FleetEvents).publish('hive.removed', queen.clock.now(), { hive_id: 'before-restart' });
    const last = await before.waitForEvent('hive.removed', (data) => data.hive_id === 'before-restart');
    before.close();
    await queen.close();

    restarted = await TestQueen.start({ databaseUrl: queen.databaseUrl, dataDir: queen.config.dataDir, env: { CATALOG_FLUSH_MS: '600000' } });
    const after = await connect(restarted, '/v1/events', { 'last-event-id': last.id! });
    const reset = await after.waitForEvent('reset');
    expect(reset.data.reason).toMatch(/not from this queen run/);
    await beatAs(restarted, 'replay-b');
    const online = await after.waitForEvent('hive.online', (data) => data.hive_id === 'replay-b');
    // The new run's ids are its own: a client that keeps the latest one resumes from it.
    expect(online.id!.split('.')[0]).not.toBe(last.id!.split('.')[0]);
    const resumed = await connect(restarted, '/v1/events', { 'last-event-id': reset.id! });
    await resumed.waitForEvent('hive.online', (data) => data.hive_id === 'replay-b');
    expect(resumed.ofType('reset')).toEqual([]);
  });
});
