/**
 * The BUILT server as a process (`node dist/src/main.js`): build first with
 * `npm run build`.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Database } from 'sqlite3';
import { freePort } from '../support/ports';

const MAIN = join(__dirname, '../../dist/src/main.js');

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

interface LogLine {
  level: number;
  msg?: string;
}

/** Every line of `text` parsed as JSON (a line that is not JSON fails the test). */
function jsonLines(text: string): LogLine[] {
  return text
    .trim()
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as LogLine);
}

/**
 * Runs the built server with `args` and only `env` (plus PATH). Resolves with what it printed: when it
 * exits, or (`until: 'listening'`) once it listens, after which it is stopped with SIGTERM.
 */
async function run(
  args: string[],
  env: Record<string, string>,
  until: 'exit' | 'listening' = 'exit',
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const output = { stdout: '', stderr: '' };
  const child = spawn(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output.stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output.stderr += chunk));
  try {
    if (until === 'listening') {
      await listening(child, output);
      child.kill('SIGTERM');
    }
    const { code } = await exitOf(child, 20_000);
    return { code, ...output };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
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

    // Every line is JSON, and the start and the stop are told: the migration, the flush, what was closed.
    const messages = jsonLines(output.stdout).map((line) => line.msg);
    expect(messages).toEqual(
      expect.arrayContaining([
        'applied migration CreateHives1764201600000',
        'applied migration CreateIdempotencyKeys1764806400000',
        'applied migration CreateDeployments1764892800000',
        'applied migration CreateClusterTables1765065600000',
        expect.stringMatching(/^queen listening on http:\/\/127\.0\.0\.1:\d+ \(database: sqlite /),
        'SIGTERM: no new requests; writing what is pending, then closing',
        expect.stringMatching(/^shutdown: catalog flushed \(\d+ heartbeat time\(s\)/),
        'shutdown: 0 event stream(s) closed',
        expect.stringMatching(/^stopped in \d+ ms: HTTP server, event streams and database closed$/),
      ]),
    );
    // Nest's narration of each module and route is debug, not info.
    expect(messages.some((message) => /dependencies initialized|Mapped \{/.test(message ?? ''))).toBe(false);

    // A second start on the same database finds nothing to migrate, and says so.
    const again = await run([], { PORT: String(await freePort()), DATABASE_URL: `sqlite://${database}`, QUEEN_DATA_DIR: dir, LOG_LEVEL: 'info' }, 'listening');
    expect(jsonLines(again.stdout).map((line) => line.msg)).toContain('schema up to date (4 migration(s) applied earlier)');
  });

  it('reports a database it cannot reach in JSON lines naming host and port, with bounded retries, and exits 1', async () => {
    const port = await freePort();
    const result = await run([], { DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/test`, QUEEN_DATA_DIR: dir, LOG_LEVEL: 'info' });
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 1, stderr: '' });
    const lines = jsonLines(result.stdout);
    const where = `postgres 127.0.0.1:${port}/test`;
    expect(lines.map(({ level, msg }) => [level, msg])).toEqual([
      [40, `cannot reach the database (${where}): connect ECONNREFUSED 127.0.0.1:${port}; attempt 1 of 3, next in 1 s`],
      [40, `cannot reach the database (${where}): connect ECONNREFUSED 127.0.0.1:${port}; attempt 2 of 3, next in 1 s`],
      [60, `failed to start: cannot open the database (${where}) after 3 attempts: connect ECONNREFUSED 127.0.0.1:${port}`],
    ]);
  });

  it('does not retry what waiting cannot mend: a database that does not exist', async () => {
    const result = await run([], { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/queen_no_such_database', QUEEN_DATA_DIR: dir, LOG_LEVEL: 'info' });
    expect(result.code).toBe(1);
    expect(jsonLines(result.stdout).map(({ level, msg }) => [level, msg])).toEqual([
      [60, 'failed to start: cannot open the database (postgres 127.0.0.1:5432/queen_no_such_database): database "queen_no_such_database" does not exist'],
    ]);
  });

  it.each<[string, Record<string, string>, string]>([
    ['a one-character admin token', { QUEEN_API_TOKEN: '§' }, 'QUEEN_API_TOKEN must be at least 16 characters'],
    ['a 15-character admin token', { QUEEN_API_TOKEN: 'fifteen-chars-x' }, 'QUEEN_API_TOKEN must be at least 16 characters'],
    ['a port out of range', { PORT: '70000' }, 'PORT must not be greater than 65535'],
  ])('refuses to start with %s, in one JSON line that does not repeat the secret', async (_name, env, message) => {
    const result = await run([], { QUEEN_DATA_DIR: dir, ...env });
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 1, stderr: '' });
    const lines = jsonLines(result.stdout);
    expect(lines).toEqual([expect.objectContaining({ level: 60, msg: expect.stringContaining(message) })]);
    if (env.QUEEN_API_TOKEN) expect(result.stdout).not.toContain(env.QUEEN_API_TOKEN);
    expect(existsSync(join(dir, 'queen.sqlite'))).toBe(false);
  });

  it('prints usage and the environment it reads on --help, and starts nothing', async () => {
    const result = await run(['--help'], { QUEEN_DATA_DIR: dir });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage: queen \[--help\]/);
    for (const variable of ['PORT', 'HOST', 'QUEEN_API_TOKEN', 'DATABASE_URL', 'HEARTBEAT_TIMEOUT_MS', 'LOG_LEVEL']) {
      expect(result.stdout).toMatch(new RegExp(`^  ${variable} +\\S`, 'm'));
    }
    expect(existsSync(join(dir, 'queen.sqlite'))).toBe(false);
    const wrong = await run(['--port', '1'], { QUEEN_DATA_DIR: dir });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("unknown option '--port'");
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
