import { Agent, request } from 'undici';
import { estimateModelFootprint, GIB } from './hive-model';
import { HiveCall, SimulatedHive, SimulatedHiveOptions } from './hive-server';

/** A client of our own, so keep-alive sockets die with the test file. */
const agent = new Agent({ keepAliveTimeout: 1000 });

interface HttpAnswer {
  status: number;
  body: unknown;
}

async function call(
  hive: SimulatedHive,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  options: { body?: unknown; rawBody?: string; timeoutMs?: number } = {},
): Promise<HttpAnswer> {
  const payload = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const response = await request(`${hive.url}${path}`, {
    method,
    dispatcher: agent,
    body: payload,
    headers: payload === undefined ? {} : { 'content-type': 'application/json' },
    signal: AbortSignal.timeout(options.timeoutMs ?? 2000),
  });
  const text = await response.body.text();
  return { status: response.statusCode, body: text === '' ? null : (JSON.parse(text) as unknown) };
}

function spawnBody(workerId: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { worker_id: workerId, model_ref: 'llama-3-8b', backend: 'cuda', device: 0, ...extra };
}

/** Polls instead of sleeping a fixed time: load delays here are a few ms. */
async function waitFor(condition: () => boolean, timeoutMs = 1000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

describe('SimulatedHive', () => {
  const hives: SimulatedHive[] = [];
  const calls: HiveCall[] = [];

  async function startHive(overrides: Partial<SimulatedHiveOptions> = {}): Promise<SimulatedHive> {
    const hive = new SimulatedHive({
      id: 'hive-test',
      gpus: [
        { name: 'RTX 4090', vramBytes: 24 * GIB },
        { name: 'RTX 4090', vramBytes: 24 * GIB },
      ],
      cpuCores: 32,
      ramBytes: 128 * GIB,
      loadDelayMs: 'manual',
      onCall: (received) => calls.push(received),
      ...overrides,
    });
    hives.push(hive);
    await hive.start();
    return hive;
  }

  afterEach(async () => {
    await Promise.all(hives.splice(0).map((hive) => hive.close()));
    calls.length = 0;
  });

  afterAll(async () => {
    await agent.close();
  });

  describe('spawn', () => {
    it('answers 200 with the worker, which is Loading until loading finishes, then Idle', async () => {
      const hive = await startHive();

      const answer = await call(hive, 'POST', '/v1/workers/spawn', { body: spawnBody('w-1') });

      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ worker_id: 'w-1', state: 'Loading', backend: 'cuda', device: 0 });
      expect(hive.listWorkers()).toEqual([expect.objectContaining({ workerId: 'w-1', state: 'Loading' })]);
      hive.finishLoading('w-1');
      expect(hive.listWorkers()[0].state).toBe('Idle');
    });

    it('turns a worker Idle by itself after the load delay', async () => {
      const hive = await startHive({ loadDelayMs: 5 });

      await call(hive, 'POST', '/v1/workers/spawn', { body: spawnBody('w-1') });

      expect(hive.listWorkers()[0].state).toBe('Loading');
      await waitFor(() => hive.listWorkers()[0].state === 'Idle');
    });

    it('holds the VRAM and RAM the body asks for, on the GPU it names', async () => {
      const hive = await startHive();

      await call(hive, 'POST', '/v1/workers/spawn', {
        body: spawnBody('w-1', { device: 1, vram_bytes: 10 * GIB, ram_bytes: 3 * GIB }),
      });

      expect(hive.listWorkers()[0]).toMatchObject({ deviceId: 1, vramBytes: 10 * GIB, ramBytes: 3 * GIB });
    });

    it('sizes a worker from its model name when the body gives no size', async () => {
      const hive = await startHive();

      await call(hive, 'POST', '/v1/workers/spawn', { body: spawnBody('w-1') });

      const expected = estimateModelFootprint('llama-3-8b');
      expect(expected.vramBytes).toBe(17_600_000_000);
      expect(hive.listWorkers()[0]).toMatchObject(expected);
    });

    it('puts a cpu worker in RAM only', async () => {
      const hive = await startHive();

      await call(hive, 'POST', '/v1/workers/spawn', {
        body: { worker_id: 'w-cpu', model_ref: 'tiny', backend: 'cpu', ram_bytes: GIB },
      });

      expect(hive.listWorkers()[0]).toMatchObject({ backend: 'cpu', deviceId: null, vramBytes: 0, ramBytes: GIB });
    });

    it.each([
      ['not JSON', '{nope', 400, 'invalid_json'],
      ['no worker_id', JSON.stringify({ model_ref: 'm', backend: 'cuda', device: 0 }), 400, 'invalid_body'],
      ['a GPU it does not have', JSON.stringify(spawnBody('w-1', { device: 2 })), 400, 'unknown_device'],
      ['a fractional size', JSON.stringify(spawnBody('w-1', { vram_bytes: 1.5 })), 400, 'invalid_body'],
      ['metal', JSON.stringify(spawnBody('w-1', { backend: 'metal' })), 400, 'unsupported_backend'],
      ['more VRAM than the GPU has', JSON.stringify(spawnBody('w-1', { vram_bytes: 25 * GIB })), 409, 'insufficient_vram'],
      ['more RAM than the host has', JSON.stringify(spawnBody('w-1', { ram_bytes: 129 * GIB })), 409, 'insufficient_ram'],
    ])('refuses %s', async (_case, rawBody, status, error) => {
      const hive = await startHive();

      const answer = await call(hive, 'POST', '/v1/workers/spawn', { rawBody });

      expect(answer).toEqual({ status, body: { error, detail: expect.any(String) } });
      expect(hive.listWorkers()).toEqual([]);
    });

    it('refuses a worker id it already runs', async () => {
      const hive = await startHive();
      await call(hive, 'POST', '/v1/workers/spawn', { body: spawnBody('w-1', { vram_bytes: GIB }) });

      const answer = await call(hive, 'POST', '/v1/workers/spawn', { body: spawnBody('w-1', { vram_bytes: GIB }) });

      expect(answer.status).toBe(409);
      expect(answer.body).toMatchObject({ error: 'worker_exists' });
    });

    it('counts VRAM per GPU: a full GPU 0 leaves GPU 1 free', async () => {
      const hive = await startHive();
      await call(hive, 'POST', '/v1/workers/spawn', { body: spawnBody('w-1', { vram_bytes: 20 * GIB }) });

      const onFullGpu = await call(hive, 'POST', '/v1/workers/spawn', {
        body: spawnBody('w-2', { vram_bytes: 8 * GIB }),
      });
      const onOtherGpu = await call(hive, 'POST', '/v1/workers/spawn', {
        body: spawnBody('w-2', { device: 1, vram_bytes: 8 * GIB }),
      });

      expect(onFullGpu.status).toBe(409);
      expect(onOtherGpu.status).toBe(200);
    });
  });

  describe('delete and other routes', () => {
    it('removes a worker, then answers 404 for it', async () => {
      const hive = await startHive();
      await call(hive, 'POST', '/v1/workers/spawn', { body: spawnBody('w-1') });

      const deleted = await call(hive, 'DELETE', '/v1/workers/w-1');
      const again = await call(hive, 'DELETE', '/v1/workers/w-1');

      expect(deleted.status).toBe(200);
      expect(hive.listWorkers()).toEqual([]);
      expect(again.status).toBe(404);
      expect(again.body).toMatchObject({ error: 'worker_not_found' });
    });

    it('answers 404 for an unknown route', async () => {
      const hive = await startHive();

      const answer = await call(hive, 'GET', '/v1/nothing');

      expect(answer.status).toBe(404);
    });

    it('lists workers and serves each one at the url it reports', async () => {
      const hive = await startHive();
      await call(hive, 'POST', '/v1/workers/spawn', { body: spawnBody('w-1') });

      const list = await call(hive, 'GET', '/v1/workers');
      const one = await call(hive, 'GET', '/v1/workers/w-1');

      expect(list.body).toEqual({ workers: [expect.objectContaining({ worker_id: 'w-1' })] });
      expect(one.body).toMatchObject({ worker_id: 'w-1', url: `${hive.url}/v1/workers/w-1` });
    });

    it('describes its devices in rbee format, sizes in GiB', async () => {
      const hive = await startHive({
        gpus: [
          { name: 'A100', vramBytes: 40 * GIB },
          { name: 'RTX 4090', vramBytes: 24 * GIB },
        ],
        cpuCores: 16,
        ramBytes: 64 * GIB,
      });

      const answer = await call(hive, 'GET', '/v1/devices');

      expect(answer).toEqual({
        status: 200,
        body: {
          cpu: { cores: 16, ram_gb: 64 },
          gpus: [
            { id: 'gpu0', name: 'A100', vram_gb: 40 },
            { id: 'gpu1', name: 'RTX 4090', vram_gb: 24 },
          ],
        },
      });
    });

    it('records the calls it receives', async () => {
      const hive = await startHive();
      await call(hive, 'POST', '/v1/workers/spawn', { body: spawnBody('w-1') });
      await call(hive, 'DELETE', '/v1/workers/w-1');
      await call(hive, 'GET', '/v1/devices');

      expect(calls).toEqual([
        { kind: 'spawn', hiveId: 'hive-test', body: spawnBody('w-1') },
        { kind: 'delete', hiveId: 'hive-test', workerId: 'w-1' },
        { kind: 'devices', hiveId: 'hive-test' },
      ]);
    });
  });

  describe('failure modes', () => {
    it('answers spawn with 500 and starts nothing', async () => {
      const hive = await startHive();
      hive.setFaults({ spawn: 'error' });

      const answer = await call(hive, 'POST', '/v1/workers/spawn', { body: spawnBody('w-1') });

      expect(answer.status).toBe(500);
      expect(hive.listWorkers()).toEqual([]);
    });

    it('lets a spawn hang past the client timeout, and cuts it on stop', async () => {
      const hive = await startHive();
      hive.setFaults({ spawn: 'hang' });

      const hung = call(hive, 'POST', '/v1/workers/spawn', { body: spawnBody('w-1'), timeoutMs: 50 });

      await expect(hung).rejects.toThrow(expect.objectContaining({ name: 'TimeoutError' }));
      expect(calls.map((received) => received.kind)).toEqual(['spawn']);
      expect(hive.listWorkers()).toEqual([]);
      const hungUntilStop = call(hive, 'POST', '/v1/workers/spawn', { body: spawnBody('w-2'), timeoutMs: 5000 });
      await waitFor(() => calls.length === 2);
      await hive.stop();
      await expect(hungUntilStop).rejects.toThrow();
    });

    it('refuses connections while stopped and comes back on the same port', async () => {
      const hive = await startHive();
      const port = hive.port;

      await hive.stop();
      const refused = call(hive, 'GET', '/v1/devices');

      await expect(refused).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      await hive.start();
      expect(hive.port).toBe(port);
      expect((await call(hive, 'GET', '/v1/devices')).status).toBe(200);
    });

    it('answers slowly when told to', async () => {
      const hive = await startHive();
      hive.setFaults({ responseDelayMs: 30 });

      const startedAt = Date.now();
      const answer = await call(hive, 'GET', '/v1/devices');

      expect(answer.status).toBe(200);
      expect(Date.now() - startedAt).toBeGreaterThanOrEqual(25);
    });
  });

  describe('heartbeat body', () => {
    const TOP_LEVEL_FIELDS = ['capabilities', 'hive_id', 'sequence', 'timestamp', 'workers'];
    const WORKER_FIELDS = [
      'backend',
      'cpu_percent',
      'device_id',
      'gpu_percent',
      'health_status',
      'last_heartbeat',
      'model_id',
      'ram_bytes',
      'state',
      'url',
      'vram_bytes',
      'worker_id',
    ];
    const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

    it('has the fields of API.md, snake_case, sizes as integer bytes', async () => {
      const hive = await startHive({ now: () => Date.parse('2026-11-27T10:00:00Z') });
      await call(hive, 'POST', '/v1/workers/spawn', { body: spawnBody('w-1', { vram_bytes: 8 * GIB }) });
      hive.finishLoading();

      const body = hive.heartbeatBody();

      expect(Object.keys(body).sort()).toEqual(TOP_LEVEL_FIELDS);
      expect(body).toMatchObject({ hive_id: 'hive-test', timestamp: '2026-11-27T10:00:00.000Z', sequence: 1 });
      expect(body.capabilities).toEqual({
        cpu_cores: 32,
        ram_bytes: 128 * GIB,
        gpus: [
          { index: 0, name: 'RTX 4090', vram_bytes: 24 * GIB, backend: 'cuda' },
          { index: 1, name: 'RTX 4090', vram_bytes: 24 * GIB, backend: 'cuda' },
        ],
      });
      expect(body.workers).toHaveLength(1);
      const [worker] = body.workers;
      expect(Object.keys(worker).sort()).toEqual(WORKER_FIELDS);
      expect(worker).toMatchObject({
        worker_id: 'w-1',
        state: 'Idle',
        health_status: 'healthy',
        model_id: 'llama-3-8b',
        backend: 'cuda',
        device_id: 0,
        vram_bytes: 8 * GIB,
      });
      expect(worker.last_heartbeat).toMatch(RFC3339);
      expect(Number.isSafeInteger(worker.vram_bytes) && Number.isSafeInteger(worker.ram_bytes)).toBe(true);
    });

    it('leaves device_id out for a cpu worker', async () => {
      const hive = await startHive();
      await call(hive, 'POST', '/v1/workers/spawn', {
        body: { worker_id: 'w-cpu', model_ref: 'tiny', backend: 'cpu' },
      });

      const [worker] = hive.heartbeatBody().workers;

      expect(worker.backend).toBe('cpu');
      expect(worker).not.toHaveProperty('device_id');
    });

    it('numbers beats in order with real timestamps', async () => {
      const hive = await startHive();

      const sequences = [hive.heartbeatBody(), hive.heartbeatBody(), hive.heartbeatBody()].map((body) => {
        expect(body.timestamp).toMatch(RFC3339);
        return body.sequence;
      });

      expect(sequences).toEqual([1, 2, 3]);
    });

    it('sends capabilities on the first beat, then only when the queen asks or a beat carrying them failed', async () => {
      const hive = await startHive();

      const first = hive.heartbeatBody();
      hive.recordHeartbeatAnswer({ capabilities_required: false });
      const second = hive.heartbeatBody();
      hive.recordHeartbeatAnswer({ capabilities_required: true });
      const asked = hive.heartbeatBody();
      hive.recordHeartbeatFailure();
      const afterFailure = hive.heartbeatBody();
      hive.recordHeartbeatAnswer({ capabilities_required: false });
      const settled = hive.heartbeatBody();

      expect(first.capabilities).toBeDefined();
      expect(second.capabilities).toBeUndefined();
      expect(asked.capabilities).toBeDefined();
      expect(afterFailure.capabilities).toBeDefined();
      expect(settled.capabilities).toBeUndefined();
    });

    it('never sends capabilities under the never policy, even when asked', async () => {
      const hive = await startHive({ capabilities: 'never' });

      const first = hive.heartbeatBody();
      hive.recordHeartbeatAnswer({ capabilities_required: true });
      const asked = hive.heartbeatBody();

      expect(first).not.toHaveProperty('capabilities');
      expect(asked).not.toHaveProperty('capabilities');
    });

    it('sends capabilities on every beat under the always policy', async () => {
      const hive = await startHive({ capabilities: 'always' });

      expect([hive.heartbeatBody(), hive.heartbeatBody()].every((body) => body.capabilities)).toBe(true);
    });
  });

  it('starts 200 hives in well under a few seconds', async () => {
    const startedAt = Date.now();
    const many = Array.from(
      { length: 200 },
      (_, index) => new SimulatedHive({ id: `many-${index}`, gpus: [{ name: 'L40S', vramBytes: 48 * GIB }] }),
    );
    hives.push(...many);

    await Promise.all(many.map((hive) => hive.start()));

    expect(new Set(many.map((hive) => hive.port)).size).toBe(200);
    expect(Date.now() - startedAt).toBeLessThan(3000);
  });
});
