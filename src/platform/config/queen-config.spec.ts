import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getMetadataStorage } from 'class-validator';
import { ConfigError, ENVIRONMENT_HELP, EnvironmentVariables, loadConfig } from './queen-config';

const CWD = '/srv/queen';
const TOKEN = 'a-long-admin-token-123';

/** The ConfigError `loadConfig` throws for `env`, or a failure when it does not throw one. */
function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env, CWD);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  describe('defaults', () => {
    const config = loadConfig({}, CWD);

    it('listens on 7833, on loopback only without an admin token', () => {
      expect(config.port).toBe(7833);
      expect(config.host).toBe('127.0.0.1');
      expect(config.apiToken).toBeNull();
    });

    it('keeps ./data/queen.sqlite under the working directory', () => {
      expect(config.dataDir).toBe('/srv/queen/data');
      expect(config.database).toEqual({ type: 'sqlite', path: '/srv/queen/data/queen.sqlite' });
      expect(config.secretKey).toBeNull();
    });

    it('has the documented timings', () => {
      expect(config).toMatchObject({
        heartbeatIntervalMs: 5000,
        heartbeatTimeoutMs: 15000,
        livenessSweepMs: 1000,
        catalogFlushMs: 5000,
        reservationTtlMs: 60000,
        hiveRequestTimeoutMs: 5000,
        logLevel: 'info',
      });
    });

    it('uses the process working directory when none is given', () => {
      expect(loadConfig({}).dataDir).toBe(join(process.cwd(), 'data'));
    });
  });

  it('documents in --help exactly the variables it reads', () => {
    const read = getMetadataStorage()
      .getTargetValidationMetadatas(EnvironmentVariables, '', true, false)
      .map(({ propertyName }) => propertyName);
    expect(ENVIRONMENT_HELP.map(([name]) => name).sort()).toEqual([...new Set(read)].sort());
  });

  it('listens on all interfaces by default once an admin token is set', () => {
    const config = loadConfig({ QUEEN_API_TOKEN: TOKEN }, CWD);
    expect(config.host).toBe('0.0.0.0');
    expect(config.apiToken).toBe(TOKEN);
  });

  it('takes explicit values', () => {
    const config = loadConfig(
      {
        PORT: '9000',
        HOST: '10.1.2.3',
        QUEEN_API_TOKEN: TOKEN,
        QUEEN_DATA_DIR: '/var/lib/queen',
        QUEEN_SECRET_KEY: 'ab'.repeat(32),
        HEARTBEAT_INTERVAL_MS: '1000',
        HEARTBEAT_TIMEOUT_MS: '3000',
        LOG_LEVEL: 'debug',
      },
      CWD,
    );
    expect(config).toMatchObject({
      port: 9000,
      host: '10.1.2.3',
      dataDir: '/var/lib/queen',
      database: { type: 'sqlite', path: '/var/lib/queen/queen.sqlite' },
      heartbeatIntervalMs: 1000,
      heartbeatTimeoutMs: 3000,
      logLevel: 'debug',
    });
    expect(config.secretKey).toEqual(Buffer.alloc(32, 0xab));
  });

  it('reads QUEEN_SECRET_KEY as base64 as well as hex', () => {
    const key = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
    expect(loadConfig({ QUEEN_SECRET_KEY: key.toString('base64') }, CWD).secretKey).toEqual(key);
    expect(loadConfig({ QUEEN_SECRET_KEY: key.toString('hex') }, CWD).secretKey).toEqual(key);
  });

  it('treats empty variables as unset', () => {
    const config = loadConfig({ PORT: '', QUEEN_API_TOKEN: '', DATABASE_URL: '' }, CWD);
    expect(config.port).toBe(7833);
    expect(config.apiToken).toBeNull();
    expect(config.database).toEqual({ type: 'sqlite', path: '/srv/queen/data/queen.sqlite' });
  });

  describe('DATABASE_URL', () => {
    it.each([
      ['sqlite:///var/lib/queen/q.sqlite', { type: 'sqlite', path: '/var/lib/queen/q.sqlite' }],
      ['sqlite://state/q.sqlite', { type: 'sqlite', path: '/srv/queen/state/q.sqlite' }],
      ['sqlite://./q.sqlite', { type: 'sqlite', path: '/srv/queen/q.sqlite' }],
      ['sqlite::memory:', { type: 'sqlite', path: ':memory:' }],
      ['postgres://queen:pw@db.internal:5432/queen', { type: 'postgres', url: 'postgres://queen:pw@db.internal:5432/queen' }],
      ['postgresql://queen@127.0.0.1/queen', { type: 'postgres', url: 'postgresql://queen@127.0.0.1/queen' }],
    ])('parses %s', (url, database) => {
      expect(loadConfig({ DATABASE_URL: url }, CWD).database).toEqual(database);
    });

    it('resolves a relative sqlite path against the working directory, not the data dir', () => {
      const config = loadConfig({ DATABASE_URL: 'sqlite://q.sqlite', QUEEN_DATA_DIR: '/elsewhere' }, CWD);
      expect(config.database).toEqual({ type: 'sqlite', path: '/srv/queen/q.sqlite' });
    });
  });

  describe('refuses', () => {
    it.each<[string, NodeJS.ProcessEnv, string]>([
      ['a port that is not a number', { PORT: 'abc' }, 'PORT'],
      ['a port above 65535', { PORT: '70000' }, 'PORT'],
      ['port 0', { PORT: '0' }, 'PORT'],
      ['a fractional port', { PORT: '1.5' }, 'PORT'],
      ['a database that is neither sqlite nor postgres', { DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
      ['a sqlite URL without //', { DATABASE_URL: 'sqlite:queen.db' }, 'DATABASE_URL'],
      ['a postgres URL that does not parse', { DATABASE_URL: 'postgres://a b' }, 'DATABASE_URL'],
      ['a short secret key', { QUEEN_SECRET_KEY: 'short' }, 'QUEEN_SECRET_KEY'],
      ['a 31-byte hex secret key', { QUEEN_SECRET_KEY: 'ab'.repeat(31) }, 'QUEEN_SECRET_KEY'],
      ['an admin token with whitespace', { QUEEN_API_TOKEN: 'two words in a long token' }, 'QUEEN_API_TOKEN'],
      ['a one-character admin token', { QUEEN_API_TOKEN: 'x' }, 'QUEEN_API_TOKEN'],
      ['a 15-character admin token', { QUEEN_API_TOKEN: 'x'.repeat(15) }, 'QUEEN_API_TOKEN'],
      ['a public HOST without an admin token', { HOST: '0.0.0.0' }, 'HOST'],
      ['a LAN HOST without an admin token', { HOST: '10.0.0.5' }, 'HOST'],
      ['a heartbeat timeout equal to the interval', { HEARTBEAT_INTERVAL_MS: '5000', HEARTBEAT_TIMEOUT_MS: '5000' }, 'HEARTBEAT_TIMEOUT_MS'],
      ['a heartbeat timeout shorter than the interval', { HEARTBEAT_INTERVAL_MS: '20000' }, 'HEARTBEAT_TIMEOUT_MS'],
      ['a heartbeat interval that is not a number', { HEARTBEAT_INTERVAL_MS: 'soon' }, 'HEARTBEAT_INTERVAL_MS'],
      ['an unknown log level', { LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    ])('%s, in one line naming the variable', (_name, env, variable) => {
      const error = configError(env);
      expect(error.message).toContain(variable);
      expect(error.message).not.toMatch(/[\r\n]/);
    });

    it('says what is wrong rather than the first constraint that happens to fail', () => {
      // class-validator checks bottom-up; "abc" is not an integer, not "greater than 65535".
      expect(configError({ PORT: 'abc' }).message).toMatch(/PORT must be an integer/);
      expect(configError({ PORT: '70000' }).message).toMatch(/PORT must not be greater than 65535/);
      expect(configError({ HEARTBEAT_INTERVAL_MS: 'soon' }).message).toMatch(/HEARTBEAT_INTERVAL_MS must be an integer/);
      expect(configError({ QUEEN_API_TOKEN: 'x' }).message).toMatch(/QUEEN_API_TOKEN must be at least 16 characters/);
    });

    it('keeps a bad value on one line, quoted', () => {
      const error = configError({ PORT: '12\n34' });
      expect(error.message).toContain('PORT');
      expect(error.message).toContain('"12\\n34"');
      expect(error.message).not.toMatch(/[\r\n]/);
      expect(configError({ HOST: '0.0.0.0\nx' }).message).not.toMatch(/[\r\n]/);
    });

    it('does not repeat secrets it refuses', () => {
      const key = `${'k'.repeat(40)}-not-base64`;
      expect(configError({ QUEEN_SECRET_KEY: key }).message).not.toContain(key);
      const token = 'secret-admin token';
      const message = configError({ QUEEN_API_TOKEN: token }).message;
      expect(message).toContain('QUEEN_API_TOKEN');
      expect(message).not.toContain('secret-admin');
      const url = 'mysql://queen:hunter2@db/queen';
      const urlMessage = configError({ DATABASE_URL: url }).message;
      expect(urlMessage).toContain('DATABASE_URL');
      expect(urlMessage).not.toContain('hunter2');
    });
  });
});

describe('the built server', () => {
  const main = join(__dirname, '../../../dist/src/main.js');
  let dir: string;
  beforeAll(() => {
    if (!existsSync(main)) throw new Error(`${main} is missing: run "npm run build" first`);
    dir = mkdtempSync(join(tmpdir(), 'queen-config-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('exits 1 on PORT=abc with one JSON log line naming PORT', () => {
    const result = spawnSync(process.execPath, [main], {
      cwd: dir,
      env: { PATH: process.env.PATH, PORT: 'abc', QUEEN_DATA_DIR: dir },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.error).toBeUndefined();
    expect(result.status).toBe(1);
    expect(result.stderr).toBe('');
    const lines = result.stdout.split('\n').filter((line) => line !== '');
    expect(lines).toHaveLength(1);
    const { level, msg } = JSON.parse(lines[0]) as { level: number; msg: string };
    expect(level).toBe(60);
    expect(msg).toMatch(/^invalid configuration: PORT must be an integer/);
    expect(msg).toContain('"abc"');
    // It stopped before opening anything: no database file was created.
    expect(existsSync(join(dir, 'queen.sqlite'))).toBe(false);
  });
});
