/**
 * The BUILT server (`node dist/src/main.js`; build first) killed with SIGKILL while a reconcile pass
 * waits on a spawn, then started again on the same SQLite file: the fake hives count the spawn calls,
 * and no replica ever gets a second worker.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HeartbeatAnswer } from '../../tools/simulator/wire';
import { until } from '../support/cluster';
import { FakeHiveFleet, startFakeHives } from '../support/fake-hive';
import { freePort } from '../support/ports';

const MAIN = join(__dirname, '../../dist/src/main.js');
const GIB = 2 ** 30;

describe('a queen killed mid-reconcile', () => {
  let dir: string;
  let fleet: FakeHiveFleet;
  let server: ChildProcess | undefined;
  let base = '';
  const tokens = new Map<string, string>();

  const startServer = async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    server = spawn(process.execPath, [MAIN], {
      env: {
        PATH: process.env.PATH,
        PORT: String(port),
        QUEEN_DATA_DIR: dir,
        LOG_LEVEL: 'silent',
        RECONCILE_INTERVAL_MS: '100',
        HIVE_REQUEST_TIMEOUT_MS: '30000',
      },
      stdio: 'ignore',
    });
    await until(async () => (await fetch(`${base}/health/ready`).catch(() => null))?.status === 200, 'the server to be ready');
  };
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const beatAll = async () => {
    for (const hive of fleet.hives) {
      hive.finishLoading();
      const res = await post('/v1/heartbeat', hive.heartbeatBody(), { authorization: `Bearer ${tokens.get(hive.id)}` });
      expect(res.status).toBe(200);
      hive.recordHeartbeatAnswer((await res.json()) as HeartbeatAnswer);
    }
  };

  beforeAll(async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run "npm run build" first`);
    dir = mkdtempSync(join(tmpdir(), 'queen-crash-'));
    fleet = await startFakeHives(['c1', 'c2', 'c3', 'c4'].map((id) => ({ id, gpus: [{ vramGb: 24 }] })));
  });
  afterAll(async () => {
    server?.kill('SIGKILL');
    await fleet?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('never starts a second worker for a replica after a restart', async () => {
    await startServer();
    for (const hive of fleet.hives) {
      const res = await post('/v1/hives', fleet.registration(hive.id));
      expect(res.status).toBe(201);
      tokens.set(hive.id, ((await res.json()) as { heartbeat_token: string }).heartbeat_token);
    }
    // Two beats each: the first is answered with a request for capabilities, the second carries them.
    await beatAll();
    await beatAll();

    // Every hive starts the worker and then never answers: the pass waits on its first spawn.
    for (const hive of fleet.hives) hive.setFaults({ spawn: 'start-then-hang' });
    const created = await post('/v1/deployments', { name: 'crash', model_id: 'tiny-model', replicas: 3, vram_bytes: 4 * GIB, ram_bytes: 2 * GIB, max_per_hive: 1 });
    expect(created.status).toBe(201);
    await until(() => fleet.spawnCalls().length > 0, 'the first spawn call');
    server!.kill('SIGKILL');
    await new Promise((resolve) => server!.once('exit', resolve));
    const beforeRestart = fleet.spawnCalls().length;
    expect(beforeRestart).toBe(1);

    for (const hive of fleet.hives) hive.setFaults({ spawn: 'ok' });
    await startServer();
    await until(async () => {
      await beatAll();
      const res = await fetch(`${base}/v1/deployments/crash`);
      return ((await res.json()) as { status: { ready: number } }).status.ready === 3;
    }, 'three ready replicas');

    // The worker started before the kill was recognised as the deployment's; two more were started.
    expect(fleet.spawnCalls()).toHaveLength(3);
    const running = fleet.hives.flatMap((hive) => hive.listWorkers().map((worker) => `${hive.id}/${worker.workerId}`));
    expect(running).toHaveLength(3);
    expect(new Set(running.map((entry) => entry.split('/')[0])).size).toBe(3);
    const status = ((await (await fetch(`${base}/v1/deployments/crash`)).json()) as { status: { workers: { worker_id: string }[] } }).status;
    expect(status.workers.map((w) => w.worker_id).sort()).toEqual(running.map((entry) => entry.split('/')[1]).sort());
  });
});
