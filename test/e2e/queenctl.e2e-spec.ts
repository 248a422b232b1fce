/**
 * The BUILT queenctl (`node dist/tools/queenctl/main.js`, build first) against a real queen on
 * loopback with fake hives: what operators type, what they read, and the exit codes scripts test.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parse } from 'yaml';
import { SchedulingWorld } from './scheduling-support';

const CLI = join(__dirname, '../../dist/tools/queenctl/main.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs queenctl without blocking this process (the queen under test lives in it). */
function queenctl(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, COLUMNS: '120', ...env }, timeout: 20_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('queenctl against a real queen', () => {
  let world: SchedulingWorld;
  let env: Record<string, string>;
  const TOKEN = 'queenctl-admin-token-0123456789';
  const ctl = (...args: string[]) => queenctl(args, env);

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" first`);
    world = await SchedulingWorld.start(
      [
        { id: 'gpu-node-01', gpus: [{ vramGb: 24 }, { vramGb: 24 }] },
        { id: 'gpu-node-02', gpus: [{ vramGb: 80, name: 'A100' }] },
      ],
      { env: { QUEEN_API_TOKEN: TOKEN, HOST: '127.0.0.1' }, labels: { 'gpu-node-01': { zone: 'a' } }, admin: TOKEN },
    );
    const { port } = world.queen.app.getHttpServer().address() as AddressInfo;
    env = { QUEEN_URL: `http://127.0.0.1:${port}`, QUEEN_API_TOKEN: TOKEN };
  });
  afterAll(() => world?.close());

  it('lists hives in a table that fits the terminal, and as JSON or YAML', async () => {
    const table = await ctl('hives', 'ls');
    expect(table).toMatchObject({ code: 0, stderr: '' });
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+STATUS\s+ADDRESS\s+GPUS\s+LABELS\s+LAST HEARTBEAT$/);
    expect(lines[1]).toMatch(/^gpu-node-01\s+online\s+127\.0\.0\.1:\d+\s+2x RTX 4090 24\.0 GiB\s+zone=a\s+\d+[smh] ago$/);
    expect(lines[2]).toMatch(/^gpu-node-02\s+online\s+.*1x A100 80\.0 GiB\s+-/);
    const narrow = await queenctl(['hives', 'ls'], { ...env, COLUMNS: '60' });
    expect(Math.max(...narrow.stdout.trimEnd().split('\n').map((line) => line.length))).toBeLessThanOrEqual(60);

    const json = JSON.parse((await ctl('hives', 'ls', '-o', 'json')).stdout) as { id: string; status: string }[];
    expect(json.map(({ id, status }) => [id, status])).toEqual([
      ['gpu-node-01', 'online'],
      ['gpu-node-02', 'online'],
    ]);
    const yaml = parse((await ctl('--output', 'yaml', 'hives', 'get', 'gpu-node-02')).stdout) as { id: string; capabilities: { gpus: unknown[] } };
    expect(yaml).toMatchObject({ id: 'gpu-node-02', capabilities: { gpus: [expect.objectContaining({ name: 'A100' })] } });
  });

  it('cordons and uncordons, and placement follows', async () => {
    expect(await ctl('hives', 'cordon', 'gpu-node-02')).toMatchObject({ code: 0, stdout: 'hive gpu-node-02 cordoned\n' });
    const placed = await ctl('place', '--model', 'big', '--vram', '40GiB');
    expect(placed.code).toBe(1);
    expect(placed.stderr).toBe('queenctl: 409 Conflict: no hive can take this worker\n  gpu-node-01: insufficient_vram\n  gpu-node-02: cordoned\n');
    expect(await ctl('hives', 'uncordon', 'gpu-node-02')).toMatchObject({ code: 0, stdout: 'hive gpu-node-02 uncordoned\n' });
    expect((await ctl('place', '--model', 'big', '--vram', '40GiB')).stdout).toMatch(/^gpu-node-02 cuda:0 \(score \d\.\d\d\)\n$/);
  });

  it('starts, lists and stops workers; a start is safe to retry and takes an id', async () => {
    const started = await ctl('workers', 'start', '--model', 'tiny-model', '--vram', '4GiB', '--ram', '2GiB', '--hive', 'gpu-node-01', '--id', 'chat-a');
    expect(started).toMatchObject({ code: 0, stdout: 'worker chat-a starting on gpu-node-01 (cuda:0)\n' });
    expect(world.fleet.spawnCalls('gpu-node-01')).toEqual([expect.objectContaining({ worker_id: 'chat-a' })]);
    const again = await ctl('workers', 'start', '--model', 'tiny-model', '--vram', '4GiB', '--id', 'chat-a');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^queenctl: 409 Conflict: a worker "chat-a" exists/);

    const listed = await ctl('workers', 'ls');
    expect(listed.stdout).toMatch(/^WORKER\s+HIVE\s+DEVICE\s+MODEL\s+STATE\s+VRAM\nchat-a\s+gpu-node-01\s+cuda:0\s+tiny-model\s+starting\s+4\.0 GiB\n$/);
    expect(await ctl('workers', 'stop', 'chat-a')).toMatchObject({ code: 0, stdout: 'worker chat-a stopping on gpu-node-01\n' });
    expect(world.fleet.deleteCalls('gpu-node-01')).toContain('chat-a');
  });

  it('follows events, and resumes after an id with --since', async () => {
    const follow = ctl('events', '--types', 'hive.removed,hive.capabilities', '--limit', '1', '-o', 'json');
    // The follower is subscribed once the queen counts it; then an event it asked for.
    await until(async () => (await world.http().get('/metrics')).text.includes('queen_event_clients 1'));
    await world.http().post('/v1/hives').set('Authorization', `Bearer ${TOKEN}`).send({ id: 'short-lived', host: '10.0.0.9', port: 1 }).expect(201);
    expect(await ctl('hives', 'rm', 'short-lived')).toMatchObject({ code: 0, stdout: 'hive short-lived removed\n' });
    const first = await follow;
    expect(first.code).toBe(0);
    const event = JSON.parse(first.stdout) as { id: string; type: string; hive_id: string };
    expect(event).toMatchObject({ type: 'hive.removed', hive_id: 'short-lived', id: expect.stringMatching(/^[0-9a-f]{16}\.\d+$/) });

    // What happened after that id, though nobody was listening.
    await world.http().post('/v1/hives').set('Authorization', `Bearer ${TOKEN}`).send({ id: 'later', host: '10.0.0.9', port: 1 }).expect(201);
    await ctl('hives', 'rm', 'later');
    const resumed = await ctl('events', '--since', event.id, '--types', 'hive.removed', '--limit', '1');
    expect(resumed.stdout).toMatch(/^\S+Z {2}hive\.removed +hive_id=later\n$/);
  });

  it('applies a deployment file, lists, scales and removes it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'queenctl-'));
    try {
      const file = join(dir, 'chat.yaml');
      const write = (replicas: number, model = 'tiny-model') =>
        writeFileSync(file, `name: chat\nmodel_id: ${model}\nreplicas: ${replicas}\nvram_bytes: 4GiB\nram_bytes: 2GiB\nmax_per_hive: 1\nstrategy: spread\n`);
      write(1);
      expect(await ctl('deployments', 'apply', '-f', file)).toMatchObject({ code: 0, stdout: 'deployment chat created\n' });
      expect(await ctl('deployments', 'apply', '-f', file)).toMatchObject({ code: 0, stdout: 'deployment chat unchanged\n' });
      write(2);
      expect(await ctl('deployments', 'apply', '-f', file)).toMatchObject({ code: 0, stdout: 'deployment chat configured (replicas)\n' });
      write(2, 'other-model');
      const fixed = await ctl('deployments', 'apply', '-f', file);
      expect(fixed).toMatchObject({ code: 2, stderr: expect.stringContaining('deployment chat: model_id cannot change') });

      const listed = await ctl('deployments', 'ls');
      expect(listed.stdout).toMatch(/^NAME\s+MODEL\s+READY\s+STARTING\s+LOST\s+UNPLACED\s+REASON\nchat\s+tiny-model\s+\d\/2\s+\d\s+0\s+\d\s+\S+\n$/);
      const shown = parse((await ctl('deployments', 'get', 'chat', '-o', 'yaml')).stdout) as { replicas: number; vram_bytes: number; strategy: string };
      expect(shown).toMatchObject({ replicas: 2, vram_bytes: 4 * 2 ** 30, strategy: 'spread' });
      expect(await ctl('deployments', 'scale', 'chat', '--replicas', '0')).toMatchObject({ code: 0, stdout: 'deployment chat scaled to 0\n' });
      expect(await ctl('deployments', 'rm', 'chat')).toMatchObject({ code: 0, stdout: 'deployment chat deleted; its workers are being stopped\n' });
      expect((await ctl('deployments', 'get', 'chat')).code).toBe(1);
      writeFileSync(file, 'name: [unclosed');
      expect((await ctl('deployments', 'apply', '-f', file)).code).toBe(2);
      expect((await ctl('deployments', 'apply', '-f', join(dir, 'missing.yaml'))).code).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('shows the cluster: this queen, leading', async () => {
    const cluster = await ctl('cluster');
    expect(cluster.code).toBe(0);
    expect(cluster.stdout).toMatch(/^answered by: \S+\nleader: +\S+\nterm: +1\n\nQUEEN +URL +LAST SEEN\n\S+ \(leader\) +http:\/\/127\.0\.0\.1:\d+ +\d+[smh] ago\n$/);
  });

  it('exits 1 with the problem, 2 on bad usage, 3 when the queen is unreachable', async () => {
    const missing = await ctl('hives', 'get', 'nope');
    expect(missing).toMatchObject({ code: 1, stdout: '', stderr: 'queenctl: 404 Not Found: hive "nope" does not exist\n' });
    const asJson = await ctl('hives', 'get', 'nope', '-o', 'json');
    expect(JSON.parse(asJson.stderr)).toMatchObject({ status: 404, type: expect.stringMatching(/not-found$/) });
    const refused = await queenctl(['hives', 'ls'], { ...env, QUEEN_API_TOKEN: 'wrong-token-wrong-token' });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^queenctl: 401 Unauthorized/);

    expect((await ctl('hives', 'frobnicate')).code).toBe(2);
    const badSize = await ctl('place', '--model', 'm', '--vram', 'lots');
    expect(badSize).toMatchObject({ code: 2, stderr: expect.stringContaining('--vram: "lots" is not a size') });
    expect((await ctl('-o', 'xml', 'hives', 'ls')).code).toBe(2);

    const unreachable = await queenctl(['hives', 'ls'], { ...env, QUEEN_URL: 'http://127.0.0.1:9' });
    expect(unreachable).toMatchObject({ code: 3, stderr: expect.stringMatching(/^queenctl: cannot reach the queen at http:\/\/127\.0\.0\.1:9/) });
  });

  it('prints help for every command', async () => {
    const help = await ctl('--help');
    expect(help.code).toBe(0);
    for (const command of ['hives', 'workers', 'deployments', 'place', 'events', 'cluster']) expect(help.stdout).toContain(command);
    expect((await ctl('workers', 'start', '--help')).stdout).toMatch(/--vram <size>/);
  });
});

async function until(condition: () => Promise<boolean>): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('condition not met');
}
