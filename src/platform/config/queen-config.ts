import { hostname } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { plainToInstance, Transform } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  validateSync,
} from 'class-validator';
import { constraintMessages } from '../http/validation';

/** Raised when the environment cannot start a queen; its message is one line naming the variable. */
export class ConfigError extends Error {}

const toInt = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value.trim()) : value;

/** The environment as the queen reads it. Unset variables take the defaults below. */
export class EnvironmentVariables {
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(65535)
  PORT?: number;

  @IsOptional() @IsString() @MinLength(1)
  HOST?: string;

  @IsOptional() @IsString()
  @Matches(/^(sqlite:(\/\/.+|:memory:)|postgres(ql)?:\/\/.+)$/, {
    message: 'DATABASE_URL must be sqlite:///absolute/path, sqlite://relative/path, sqlite::memory: or postgres://user@host:port/db',
  })
  DATABASE_URL?: string;

  @IsOptional() @IsString() @MinLength(1)
  QUEEN_DATA_DIR?: string;

  @IsOptional() @IsString()
  @Matches(/^([A-Za-z0-9+/]{43}=|[0-9a-fA-F]{64})$/, {
    message: 'QUEEN_SECRET_KEY must be 32 bytes, as 64 hex digits or 44 base64 characters (try: openssl rand -base64 32)',
  })
  QUEEN_SECRET_KEY?: string;

  @IsOptional() @IsString() @MaxLength(512)
  @MinLength(16, { message: 'QUEEN_API_TOKEN must be at least 16 characters: a short token can be guessed (try: openssl rand -base64 32)' })
  @Matches(/^\S+$/, { message: 'QUEEN_API_TOKEN must not contain whitespace' })
  QUEEN_API_TOKEN?: string;

  @IsOptional() @Transform(toInt) @IsInt() @Min(100) @Max(3_600_000)
  HEARTBEAT_INTERVAL_MS?: number;

  @IsOptional() @Transform(toInt) @IsInt() @Min(500) @Max(3_600_000)
  HEARTBEAT_TIMEOUT_MS?: number;

  @IsOptional() @Transform(toInt) @IsInt() @Min(10) @Max(1000)
  LIVENESS_SWEEP_MS?: number;

  @IsOptional() @Transform(toInt) @IsInt() @Min(10) @Max(600_000)
  CATALOG_FLUSH_MS?: number;

  @IsOptional() @Transform(toInt) @IsInt() @Min(1000) @Max(86_400_000)
  RESERVATION_TTL_MS?: number;

  @IsOptional() @Transform(toInt) @IsInt() @Min(50) @Max(300_000)
  HIVE_REQUEST_TIMEOUT_MS?: number;

  @IsOptional() @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL?: string;

  @IsOptional() @Transform(toInt) @IsInt() @Min(0) @Max(10_000)
  OVERLOAD_LAG_MS?: number;

  @IsOptional() @Transform(toInt) @IsInt() @Min(50) @Max(600_000)
  RECONCILE_INTERVAL_MS?: number;

  @IsOptional() @Transform(toInt) @IsInt() @Min(1000) @Max(86_400_000)
  RESCHEDULE_AFTER_MS?: number;

  @IsOptional() @IsString()
  @Matches(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, { message: 'QUEEN_ID must be 1 to 128 characters of A-Z a-z 0-9 . _ : -' })
  QUEEN_ID?: string;

  @IsOptional() @IsString()
  @Matches(/^https?:\/\/[^\s/?#]+\/?$/, { message: 'QUEEN_ADVERTISE_URL must be http(s)://host:port' })
  QUEEN_ADVERTISE_URL?: string;

  @IsOptional() @IsString()
  @Matches(/^rediss?:\/\/.+$/, { message: 'REDIS_URL must be redis://host:port (or rediss:// for TLS)' })
  REDIS_URL?: string;

  @IsOptional() @IsString()
  @Matches(/^[A-Za-z0-9._:-]{1,64}$/, { message: 'REDIS_KEY_PREFIX must be 1 to 64 characters of A-Z a-z 0-9 . _ : -' })
  REDIS_KEY_PREFIX?: string;
}

export type DatabaseSettings =
  | { type: 'sqlite'; path: string }
  | { type: 'postgres'; url: string };

/** Typed, validated configuration. Built once at start by {@link loadConfig}. */
export class QueenConfig {
  port: number;
  /** Address to listen on; loopback only when no admin token is set. */
  host: string;
  database: DatabaseSettings;
  dataDir: string;
  /** 32-byte key for secrets at rest, when given; otherwise one is kept in the data dir. */
  secretKey: Buffer | null;
  apiToken: string | null;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  livenessSweepMs: number;
  catalogFlushMs: number;
  reservationTtlMs: number;
  hiveRequestTimeoutMs: number;
  logLevel: string;
  /** Event-loop delay above which the queen sheds admin requests and spaces out heartbeats; 0 turns that off. */
  overloadLagMs: number;
  /** How often deployments are reconciled (also soon after any change). */
  reconcileIntervalMs: number;
  /** A hive silent this long has its deployments' workers started elsewhere. */
  rescheduleAfterMs: number;
  /** This queen's name among queens. */
  queenId: string;
  /** The address other queens and clients reach this queen at. */
  advertiseUrl: string;
  /** Set when several queens share the fleet: PostgreSQL plus Redis. Null for a queen on its own. */
  cluster: ClusterSettings | null;
}

export interface ClusterSettings {
  redisUrl: string;
  /** Every key and stream name starts with this, so that clusters (and test suites) can share one Redis. */
  keyPrefix: string;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** Every variable the queen reads, its default and meaning, as `--help` prints them. */
export const ENVIRONMENT_HELP: readonly (readonly [name: string, defaultValue: string, meaning: string])[] = [
  ['PORT', '7833', 'HTTP port'],
  ['HOST', '127.0.0.1 (0.0.0.0 with a token)', 'listen address; a non-loopback address needs QUEEN_API_TOKEN'],
  ['QUEEN_API_TOKEN', 'unset', 'bearer token for admin routes, at least 16 characters'],
  ['DATABASE_URL', 'sqlite://<data dir>/queen.sqlite', 'sqlite:///abs/path, sqlite://rel/path, sqlite::memory: or postgres://user@host:5432/db'],
  ['QUEEN_DATA_DIR', './data', 'SQLite file and the generated secret key'],
  ['QUEEN_SECRET_KEY', '<data dir>/secret.key', '32 bytes (64 hex or 44 base64) encrypting SSH secrets at rest'],
  ['HEARTBEAT_INTERVAL_MS', '5000', 'next_heartbeat_ms told to hives'],
  ['HEARTBEAT_TIMEOUT_MS', '15000', 'silent longer than this: offline'],
  ['LIVENESS_SWEEP_MS', '1000', 'how often silence is checked'],
  ['CATALOG_FLUSH_MS', '5000', 'how often coalesced heartbeat times are written'],
  ['RESERVATION_TTL_MS', '60000', 'how long capacity is held for a starting worker'],
  ['HIVE_REQUEST_TIMEOUT_MS', '5000', 'timeout of each call to a hive'],
  ['OVERLOAD_LAG_MS', '100', 'event-loop lateness that sheds admin requests; 0 turns shedding off'],
  ['LOG_LEVEL', 'info', 'fatal, error, warn, info, debug, trace or silent'],
  ['RECONCILE_INTERVAL_MS', '2000', 'how often deployments are reconciled (also soon after any change)'],
  ['RESCHEDULE_AFTER_MS', '60000', 'a hive silent this long has its deployments\' workers started elsewhere'],
  ['QUEEN_ID', '<host name>:<port>', 'this queen\'s name in GET /v1/cluster'],
  ['QUEEN_ADVERTISE_URL', 'http://<HOST, or the host name>:<port>', 'the address clients and other queens reach this queen at'],
  ['REDIS_URL', 'unset', 'with a postgres:// DATABASE_URL: serve the fleet with the other queens sharing both'],
  ['REDIS_KEY_PREFIX', 'queen:', 'prefix of every Redis key this cluster uses'],
];

/** Variables whose values must not reach stderr or the logs, even when they are wrong. */
const SECRET_VARIABLES = new Set(['QUEEN_SECRET_KEY', 'QUEEN_API_TOKEN']);

/**
 * A bad value as the error message shows it: quoted and escaped so the message
 * stays on one line, shortened, and without secrets (a URL's password included).
 */
function describeValue(name: string, value: string | undefined): string {
  if (value === undefined) return 'nothing';
  if (SECRET_VARIABLES.has(name)) return `a value of ${value.length} characters, not shown`;
  const redacted = value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@/]*@/i, '$1:***@');
  const shown = redacted.length > 200 ? `${redacted.slice(0, 200)}...` : redacted;
  return JSON.stringify(shown);
}

function parseDatabaseUrl(url: string | undefined, dataDir: string, cwd: string): DatabaseSettings {
  if (!url) return { type: 'sqlite', path: join(dataDir, 'queen.sqlite') };
  if (url.startsWith('postgres')) {
    try {
      new URL(url);
    } catch {
      throw new ConfigError('DATABASE_URL is not a valid postgres:// URL');
    }
    return { type: 'postgres', url };
  }
  if (url === 'sqlite::memory:') return { type: 'sqlite', path: ':memory:' };
  // sqlite:///abs/path keeps its leading slash; sqlite://rel/path is relative to the working directory.
  const path = url.slice('sqlite://'.length);
  return { type: 'sqlite', path: isAbsolute(path) ? path : resolve(cwd, path) };
}

/**
 * Validates the environment and returns the typed configuration.
 * @throws ConfigError with one readable line naming the first bad variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv, cwd = process.cwd()): QueenConfig {
  const raw: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    // An empty variable means "unset": `PORT= npm start` should not fail on PORT.
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const vars = plainToInstance(EnvironmentVariables, raw);
  const errors = validateSync(vars, { skipMissingProperties: false });
  if (errors.length > 0) {
    const first = errors[0];
    const message = constraintMessages(first.constraints)[0] ?? 'is invalid';
    const shown = message.startsWith(first.property) ? message : `${first.property} ${message}`;
    throw new ConfigError(`invalid configuration: ${shown} (got ${describeValue(first.property, raw[first.property])})`);
  }

  const apiToken = vars.QUEEN_API_TOKEN ?? null;
  const host = vars.HOST ?? (apiToken ? '0.0.0.0' : '127.0.0.1');
  if (!apiToken && !LOOPBACK.has(host)) {
    throw new ConfigError(
      `invalid configuration: HOST=${describeValue('HOST', host)} exposes the admin API; set QUEEN_API_TOKEN or listen on 127.0.0.1`,
    );
  }
  const heartbeatIntervalMs = vars.HEARTBEAT_INTERVAL_MS ?? 5000;
  const heartbeatTimeoutMs = vars.HEARTBEAT_TIMEOUT_MS ?? 15000;
  if (heartbeatTimeoutMs <= heartbeatIntervalMs) {
    throw new ConfigError(
      `invalid configuration: HEARTBEAT_TIMEOUT_MS (${heartbeatTimeoutMs}) must be longer than HEARTBEAT_INTERVAL_MS (${heartbeatIntervalMs})`,
    );
  }
  const dataDir = resolve(cwd, vars.QUEEN_DATA_DIR ?? 'data');
  const key = vars.QUEEN_SECRET_KEY;

  const port = vars.PORT ?? 7833;
  const database = parseDatabaseUrl(vars.DATABASE_URL, dataDir, cwd);
  if (vars.REDIS_URL && database.type !== 'postgres') {
    throw new ConfigError('invalid configuration: REDIS_URL (several queens) needs a postgres:// DATABASE_URL; SQLite serves one queen');
  }
  if (vars.REDIS_URL && !key) {
    throw new ConfigError('invalid configuration: several queens (REDIS_URL) must share one QUEEN_SECRET_KEY, or each would seal SSH secrets the others cannot open');
  }
  return Object.assign(new QueenConfig(), {
    port,
    host,
    database,
    dataDir,
    secretKey: key ? Buffer.from(key, key.length === 64 ? 'hex' : 'base64') : null,
    apiToken,
    heartbeatIntervalMs,
    heartbeatTimeoutMs,
    livenessSweepMs: vars.LIVENESS_SWEEP_MS ?? 1000,
    catalogFlushMs: vars.CATALOG_FLUSH_MS ?? 5000,
    reservationTtlMs: vars.RESERVATION_TTL_MS ?? 60000,
    hiveRequestTimeoutMs: vars.HIVE_REQUEST_TIMEOUT_MS ?? 5000,
    logLevel: vars.LOG_LEVEL ?? 'info',
    overloadLagMs: vars.OVERLOAD_LAG_MS ?? 100,
    reconcileIntervalMs: vars.RECONCILE_INTERVAL_MS ?? 2000,
    rescheduleAfterMs: vars.RESCHEDULE_AFTER_MS ?? 60000,
    queenId: vars.QUEEN_ID ?? `${hostname()}:${port}`,
    advertiseUrl: (vars.QUEEN_ADVERTISE_URL ?? `http://${host === '0.0.0.0' || host === '::' ? hostname() : host.includes(':') ? `[${host}]` : host}:${port}`).replace(/\/$/, ''),
    cluster: vars.REDIS_URL ? { redisUrl: vars.REDIS_URL, keyPrefix: vars.REDIS_KEY_PREFIX ?? 'queen:' } : null,
  });
}
