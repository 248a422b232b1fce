/**
 * The BUILT server as a process (`node dist/src/main.js`): build first with
 * `npm run build`.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Database } from 'sqlite3';

const MAIN = join(__dirname, '../../dist/src/main.js');

/** A port nobody listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Resolves with the exit of `child`; rejects if it has not exited within `ms`. */
function exitOf(child: ChildProcess, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve({ code: child.exitCode, signal: child.signalCode });
    const timer = setTimeout(() => reject(new Error(`the server did not exit within ${ms} ms`)), ms);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

/** Resolves when the server logs that it listens; rejects if it exits first. */
function listening(child: ChildProcess, output: { stdout: string; stderr: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    const onData = () => {
      if (output.stdout.includes('queen listening on')) {
        child.stdout!.off('data', onData);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`the server exited (${code}) before listening: ${output.stderr}${output.stdout}`)));
  });
}

function queryRows(file: string, sql: string): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const db = new Database(file, (openError) => {
      if (openError) return reject(openError);
      db.all(sql, (error, rows) => db.close(() => (error ? reject(error) : resolve(rows as Record<string, unknown>[]))));
    });
  });
}

describe('the built server process', () => {
  let dir: string;
  let child: ChildProcess | undefined;

  beforeAll(() => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run "npm run build" first`);
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'queen-process-'));
  });
  afterEach(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    child = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('shuts down gracefully on SIGTERM: exit code 0, data on disk', async () => {
    const port = await freePort();
    const database = join(dir, 'queen.sqlite');
    const output = { stdout: '', stderr: '' };
    child = spawn(process.execPath, [MAIN], {
      cwd: dir,
      env: { PATH: process.env.PATH, PORT: String(port), DATABASE_URL: `sqlite://${database}`, QUEEN_DATA_DIR: dir, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output.stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output.stderr += chunk));
    await listening(child, output);

    const base = `http://127.0.0.1:${port}`;
    expect((await fetch(`${base}/health/ready`)).status).toBe(200);
    const created = await fetch(`${base}/v1/hives`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'before-sigterm', host: '10.0.0.5', port: 7835 }),
    });
    expect(created.status).toBe(201);
    // The fetch above leaves a keep-alive connection open: shutdown must not wait on it.

    child.kill('SIGTERM');
    const exit = await exitOf(child, 10_000);
    expect({ ...exit, stderr: output.stderr }).toEqual({ code: 0, signal: null, stderr: '' });

    const rows = await queryRows(database, 'SELECT id, host, port FROM hives');
    expect(rows).toEqual([{ id: 'before-sigterm', host: '10.0.0.5', port: 7835 }]);
  });

  it('logs JSON lines with request ids, no heartbeat lines and no secret', async () => {
    const port = await freePort();
    const adminToken = 'admin-token-that-must-not-be-logged-42';
    const output = { stdout: '', stderr: '' };
    child = spawn(process.execPath, [MAIN], {
      cwd: dir,
      env: {
        PATH: process.env.PATH,
        PORT: String(port),
        QUEEN_DATA_DIR: dir,
        QUEEN_API_TOKEN: adminToken,
        HOST: '127.0.0.1',
        LOG_LEVEL: 'debug',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output.stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output.stderr += chunk));
    await listening(child, output);

    const base = `http://127.0.0.1:${port}`;
    const admin = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };
    const privateKey = '-----BEGIN OPENSSH PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA\n-----END OPENSSH PRIVATE KEY-----';
    const created = await fetch(`${base}/v1/hives`, {
      method: 'POST',
      headers: { ...admin, 'x-request-id': 'req-create-1' },
      body: JSON.stringify({ id: 'logged-hive', host: '127.0.0.1', port: 1, ssh: { user: 'rbee', private_key: privateKey } }),
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('x-request-id')).toBe('req-create-1');
    const { heartbeat_token: hiveToken } = (await created.json()) as { heartbeat_token: string };
    const password = 'password-that-must-not-be-logged';
    await fetch(`${base}/v1/hives/logged-hive`, { method: 'PATCH', headers: admin, body: JSON.stringify({ ssh: { password } }) });
    const beat = await fetch(`${base}/v1/heartbeat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${hiveToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ hive_id: 'logged-hive', timestamp: new Date().toISOString(), workers: [] }),
    });
    expect(beat.status).toBe(200);
    await fetch(`${base}/v1/events?access_token=${adminToken}&types=hive.online`).then((res) => res.body?.cancel());
    // Misspelt or unknown parameters, refused or not, are logged without their values.
    for (const query of [`access_token[]=${adminToken}`, `access%5Ftoken%5B%5D=${adminToken}`, `token=${adminToken}`, adminToken]) {
      const res = await fetch(`${base}/v1/events?${query}`);
      await res.body?.cancel();
      expect(res.status).toBeLessThan(500);
    }
    // Headers over 16 KiB: refused by the HTTP parser, still with a problem body.
    const tooLarge = await fetch(`${base}/v1/hives`, { headers: { ...admin, 'x-padding': 'x'.repeat(20_000) } });
    expect(tooLarge.status).toBe(431);
    expect(tooLarge.headers.get('content-type')).toBe('application/problem+json');
    expect(await tooLarge.json()).toMatchObject({ status: 431, title: 'Request Header Fields Too Large', detail: expect.any(String) });
    child.kill('SIGTERM');
    await exitOf(child, 10_000);

    const lines = output.stdout.trim().split('\n');
    const records = lines.map((line) => JSON.parse(line) as { msg?: string; req?: { id?: string; url?: string } });
    expect(records.some((record) => record.req?.id === 'req-create-1' && record.req.url === '/v1/hives')).toBe(true);
    expect(records.some((record) => record.req?.url === '/v1/heartbeat')).toBe(false);
    for (const secret of [adminToken, hiveToken, password, 'c2VjcmV0LWtleS1tYXRlcmlhbA']) {
      expect(output.stdout + output.stderr).not.toContain(secret);
    }
  });
});
