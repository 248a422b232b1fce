import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { HeartbeatFleet, isLoopbackHost, QueenClient, QueenRequestError } from './queen-client';
import { GIB } from './hive-model';
import { SimulatedHive } from './hive-server';
import type { HeartbeatPayload } from './wire';

interface ReceivedRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  body: unknown;
}

/** `null`: never answer, like a queen that hangs. */
type Route = (request: ReceivedRequest) => { status: number; body?: unknown } | null;

/** A stand-in for the queen: records what it receives, answers what `route` says. */
class FakeQueen {
  readonly received: ReceivedRequest[] = [];
  route: Route = () => ({ status: 404, body: { title: 'Not Found' } });
  private readonly server: Server = createServer((req, res) => void this.handle(req, res));

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  heartbeats(): HeartbeatPayload[] {
    return this.received
      .filter((request) => request.path === '/v1/heartbeat')
      .map((request) => request.body as HeartbeatPayload);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const request: ReceivedRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      authorization: req.headers.authorization,
      body: text === '' ? null : (JSON.parse(text) as unknown),
    };
    this.received.push(request);
    const answer = this.route(request);
    if (answer === null) return;
    res.writeHead(answer.status, { 'content-type': 'application/json' });
    res.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
  }
}

const HEARTBEAT_OK = { acknowledged: true, applied: true, next_heartbeat_ms: 10, capabilities_required: false };

function hiveRoutes(): Route {
  let tokens = 0;
  return (request) => {
    if (request.path === '/v1/hives' && request.method === 'POST') {
      const { id } = request.body as { id: string };
      return { status: 201, body: { id, heartbeat_token: `token-${id}-${++tokens}` } };
    }
    if (request.path === '/v1/heartbeat') return { status: 200, body: HEARTBEAT_OK };
    return { status: 404, body: { title: 'Not Found' } };
  };
}

async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

describe('isLoopbackHost', () => {
  it.each(['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]'])('accepts %s', (host) => {
    expect(isLoopbackHost(host)).toBe(true);
  });

  it.each(['10.0.0.5', '0.0.0.0', 'example.com', '::', '128.0.0.1'])('refuses %s', (host) => {
    expect(isLoopbackHost(host)).toBe(false);
  });
});

describe('QueenClient', () => {
  let queen: FakeQueen;
  let queenUrl: string;
  let client: QueenClient;

  beforeEach(async () => {
    queen = new FakeQueen();
    queenUrl = await queen.start();
    client = new QueenClient({ queenUrl, adminToken: 'admin-secret', requestTimeoutMs: 5000 });
  });

  afterEach(async () => {
    await client.close();
    await queen.close();
  });

  it('refuses a queen that is not on loopback', () => {
    expect(() => new QueenClient({ queenUrl: 'http://10.0.0.5:7833' })).toThrow(/loopback/);
  });

  it('registers a hive with the admin token and keeps the heartbeat token', async () => {
    queen.route = hiveRoutes();

    const result = await client.registerHive({ id: 'sim-1', host: '127.0.0.1', port: 4000 });

    expect(result).toEqual({ heartbeatToken: 'token-sim-1-1', created: true });
    expect(queen.received).toEqual([
      {
        method: 'POST',
        path: '/v1/hives',
        authorization: 'Bearer admin-secret',
        body: { id: 'sim-1', host: '127.0.0.1', port: 4000 },
      },
    ]);
  });

  it('on 409 moves the existing hive to its new port and rotates its token', async () => {
    queen.route = (request) => {
      if (request.path === '/v1/hives') return { status: 409, body: { title: 'Conflict', detail: 'exists' } };
      if (request.method === 'PATCH') return { status: 200, body: { id: 'sim-1' } };
      return { status: 200, body: { heartbeat_token: 'rotated' } };
    };

    const result = await client.registerHive({ id: 'sim-1', host: '127.0.0.1', port: 4001 });

    expect(result).toEqual({ heartbeatToken: 'rotated', created: false });
    expect(queen.received.map(({ method, path, body }) => ({ method, path, body }))).toEqual([
      { method: 'POST', path: '/v1/hives', body: { id: 'sim-1', host: '127.0.0.1', port: 4001 } },
      { method: 'PATCH', path: '/v1/hives/sim-1', body: { host: '127.0.0.1', port: 4001 } },
      { method: 'POST', path: '/v1/hives/sim-1/token', body: null },
    ]);
    expect(queen.received.every((request) => request.authorization === 'Bearer admin-secret')).toBe(true);
  });

  it('reports a refused admin token as an auth rejection, with the problem detail', async () => {
    queen.route = () => ({ status: 401, body: { title: 'Unauthorized', detail: 'bad admin token' } });

    const failure = client.registerHive({ id: 'sim-1', host: '127.0.0.1', port: 4000 });

    await expect(failure).rejects.toMatchObject({ status: 401, reason: 'bad admin token', isAuthRejection: true });
  });

  it('sends a heartbeat with the hive token and reads the answer', async () => {
    queen.route = hiveRoutes();
    const hive = new SimulatedHive({ id: 'sim-1', gpus: [] });

    const answer = await client.sendHeartbeat('hive-token', hive.heartbeatBody());

    expect(answer).toEqual(HEARTBEAT_OK);
    expect(queen.received[0]).toMatchObject({ authorization: 'Bearer hive-token', body: { hive_id: 'sim-1' } });
  });

  it('gives up on a queen that does not answer within the request timeout', async () => {
    queen.route = () => null;
    const impatientClient = new QueenClient({ queenUrl, requestTimeoutMs: 50 });

    const failure = impatientClient.sendHeartbeat('t', new SimulatedHive({ id: 'x', gpus: [] }).heartbeatBody());

    await expect(failure).rejects.toMatchObject({ status: null, reason: 'timed out' });
    await impatientClient.close();
  });

  it('turns a closed queen port into a QueenRequestError without a status', async () => {
    await queen.close();

    const failure = client.sendHeartbeat('t', new SimulatedHive({ id: 'x', gpus: [] }).heartbeatBody());

    await expect(failure).rejects.toBeInstanceOf(QueenRequestError);
    await expect(failure).rejects.toMatchObject({ status: null, reason: 'ECONNREFUSED' });
  });
});

describe('HeartbeatFleet', () => {
  let queen: FakeQueen;
  let client: QueenClient;
  let fleet: HeartbeatFleet | undefined;
  const hives: SimulatedHive[] = [];

  function makeHives(count: number): SimulatedHive[] {
    const made = Array.from(
      { length: count },
      (_, index) => new SimulatedHive({ id: `sim-${index + 1}`, gpus: [{ name: 'L40S', vramBytes: 48 * GIB }] }),
    );
    hives.push(...made);
    return made;
  }

  beforeEach(async () => {
    queen = new FakeQueen();
    client = new QueenClient({ queenUrl: await queen.start(), requestTimeoutMs: 5000 });
  });

  afterEach(async () => {
    fleet?.stop();
    fleet = undefined;
    await client.close();
    await queen.close();
    hives.length = 0;
  });

  it('registers every hive, reporting progress', async () => {
    queen.route = hiveRoutes();
    fleet = new HeartbeatFleet(client, makeHives(5), { registrationConcurrency: 2 });
    const progress: number[] = [];

    const summary = await fleet.registerAll((done) => progress.push(done));

    expect(summary).toEqual({ registered: 5, errors: [] });
    expect(progress).toEqual([1, 2, 3, 4, 5]);
    expect(fleet.stats()).toMatchObject({ hives: 5, registered: 5 });
  });

  it('beats at the interval the queen asks, each hive with its own token, capabilities on the first beat only', async () => {
    queen.route = hiveRoutes();
    fleet = new HeartbeatFleet(client, makeHives(2), { defaultIntervalMs: 10 });
    await fleet.registerAll();

    fleet.start();
    await waitFor(() => queen.heartbeats().filter((body) => body.hive_id === 'sim-1').length >= 3);
    await waitFor(() => fleet?.stats().beating === 2);

    const sim1Beats = queen.heartbeats().filter((body) => body.hive_id === 'sim-1');
    expect(sim1Beats.map((body) => body.capabilities !== undefined).slice(0, 3)).toEqual([true, false, false]);
    expect(sim1Beats.map((body) => body.sequence).slice(0, 3)).toEqual([1, 2, 3]);
    const tokensByHive = new Map(
      queen.received
        .filter((request) => request.path === '/v1/heartbeat')
        .map((request) => [(request.body as HeartbeatPayload).hive_id, request.authorization]),
    );
    expect(tokensByHive).toEqual(
      new Map([
        ['sim-1', 'Bearer token-sim-1-1'],
        ['sim-2', 'Bearer token-sim-2-2'],
      ]),
    );
  });

  it('sends capabilities again when the queen asks for them', async () => {
    let beats = 0;
    const routes = hiveRoutes();
    queen.route = (request) => {
      if (request.path !== '/v1/heartbeat') return routes(request);
      beats += 1;
      return { status: 200, body: { ...HEARTBEAT_OK, capabilities_required: beats === 2 } };
    };
    fleet = new HeartbeatFleet(client, makeHives(1), { defaultIntervalMs: 10 });
    await fleet.registerAll();

    fleet.start();
    await waitFor(() => queen.heartbeats().length >= 4);

    expect(queen.heartbeats().map((body) => body.capabilities !== undefined).slice(0, 4)).toEqual([
      true,
      false,
      true,
      false,
    ]);
  });

  it('backs off while the queen fails instead of retrying at the beat interval', async () => {
    const routes = hiveRoutes();
    queen.route = (request) =>
      request.path === '/v1/heartbeat' ? { status: 503, body: { title: 'Service Unavailable' } } : routes(request);
    fleet = new HeartbeatFleet(client, makeHives(1), { defaultIntervalMs: 10, maxBackoffMs: 10_000 });
    await fleet.registerAll();

    fleet.start();
    await new Promise((resolve) => setTimeout(resolve, 300));

    // Without backoff ~30 attempts fit in 300 ms; doubling from 10 ms allows about 6.
    expect(queen.heartbeats().length).toBeGreaterThanOrEqual(2);
    expect(queen.heartbeats().length).toBeLessThanOrEqual(7);
    expect(fleet.stats()).toMatchObject({ beating: 0, lastError: 'POST /v1/heartbeat: 503 Service Unavailable' });
  });

  it('registers again when the queen no longer knows the hive', async () => {
    let forgotten = true;
    const routes = hiveRoutes();
    queen.route = (request) => {
      if (request.path === '/v1/heartbeat' && forgotten) {
        forgotten = false;
        return { status: 404, body: { title: 'Not Found', detail: 'unknown hive' } };
      }
      return routes(request);
    };
    fleet = new HeartbeatFleet(client, makeHives(1), { defaultIntervalMs: 10 });
    await fleet.registerAll();

    fleet.start();
    await waitFor(() => fleet?.stats().beating === 1);

    const registrations = queen.received.filter((request) => request.path === '/v1/hives');
    expect(registrations).toHaveLength(2);
    expect(queen.received.at(-1)?.authorization).toBe('Bearer token-sim-1-2');
  });

  it('sends nothing for a silent hive', async () => {
    queen.route = hiveRoutes();
    const [talker, silent] = makeHives(2);
    silent.setFaults({ heartbeatsStopped: true });
    fleet = new HeartbeatFleet(client, [talker, silent], { defaultIntervalMs: 10 });
    await fleet.registerAll();

    fleet.start();
    await waitFor(() => queen.heartbeats().length >= 5);

    expect(new Set(queen.heartbeats().map((body) => body.hive_id))).toEqual(new Set(['sim-1']));
    expect(fleet.stats()).toMatchObject({ beating: 1, silent: 1 });
  });

  it('stops beating on stop()', async () => {
    queen.route = hiveRoutes();
    fleet = new HeartbeatFleet(client, makeHives(1), { defaultIntervalMs: 10 });
    await fleet.registerAll();
    fleet.start();
    await waitFor(() => queen.heartbeats().length >= 1);

    fleet.stop();
    const beatsAtStop = queen.heartbeats().length;
    await new Promise((resolve) => setTimeout(resolve, 50));

    // One beat may have been in flight when stop() ran.
    expect(queen.heartbeats().length).toBeLessThanOrEqual(beatsAtStop + 1);
  });
});
