/**
 * The heartbeat body: one JSON Schema, compiled once by Ajv for validation and
 * given as is to the OpenAPI document. Heartbeats arrive thousands of times a
 * second; a compiled schema checks them without building class instances
 * (class-validator's way), which is most of what the generic pipe costs.
 * OpenAPI 3.0 dialect: `nullable` beside `type`, `example` on leaves.
 */
import Ajv, { ErrorObject } from 'ajv';
import { GPU_BACKENDS, WORKER_STATES } from '../../domain/fleet';
import { isRfc3339 } from '../../domain/time';
import type { FieldError } from '../../platform/http/problem';

/** Most workers one heartbeat may carry. */
export const MAX_WORKERS_PER_HEARTBEAT = 1024;
/** Most field errors one refusal lists: a body of 1024 bad workers is named by its first errors, not all. */
const MAX_FIELD_ERRORS = 50;

export const HIVE_ID_PATTERN = '^[a-z0-9][a-z0-9._-]{0,62}$';
const HIVE_ID = new RegExp(HIVE_ID_PATTERN);

const bytes = (example: number) => ({ type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, example });
const optional = <T extends object>(schema: T) => ({ ...schema, nullable: true });
const timestamp = (description: string, example: string) => ({ type: 'string', format: 'date-time', maxLength: 64, description, example });

const GPU_SCHEMA = {
  type: 'object',
  required: ['index', 'name', 'vram_bytes', 'backend'],
  properties: {
    index: { type: 'integer', minimum: 0, maximum: 255, example: 0 },
    name: { type: 'string', maxLength: 128, example: 'RTX 4090' },
    vram_bytes: bytes(25769803776),
    backend: { type: 'string', enum: [...GPU_BACKENDS], description: 'Any letter case.', example: 'cuda' },
  },
} as const;

const CAPABILITIES_SCHEMA = {
  type: 'object',
  nullable: true,
  description: 'What the hive offers; sent on the first beat and when the queen answers `capabilities_required: true`.',
  required: ['cpu_cores', 'ram_bytes', 'gpus'],
  properties: {
    cpu_cores: { type: 'integer', minimum: 0, maximum: 65536, example: 32 },
    ram_bytes: bytes(137438953472),
    gpus: { type: 'array', maxItems: 64, items: GPU_SCHEMA },
  },
} as const;

const WORKER_SCHEMA = {
  type: 'object',
  description: 'One worker as rbee\'s hive reports it. Absent and null optional fields mean "not known".',
  required: ['worker_id', 'state'],
  properties: {
    worker_id: { type: 'string', minLength: 1, maxLength: 128, example: 'w-1' },
    state: { type: 'string', enum: [...WORKER_STATES], description: 'Any letter case (rbee sends `Idle`).', example: 'idle' },
    last_heartbeat: optional(timestamp("The worker's last heartbeat, on the hive's clock.", '2026-11-27T09:59:58Z')),
    health_status: optional({ type: 'string', maxLength: 64, example: 'healthy' }),
    url: optional({ type: 'string', maxLength: 2048, example: 'http://10.0.0.5:9001' }),
    model_id: optional({ type: 'string', maxLength: 256, example: 'llama-3-8b' }),
    backend: optional({
      type: 'string',
      enum: ['cuda', 'metal', 'cpu'],
      description: '`cuda` or `metal` put the worker on GPU `device_id` (0 when absent); `cpu` or absent mean host RAM only. Any letter case.',
      example: 'cuda',
    }),
    device_id: optional({ type: 'integer', minimum: 0, maximum: 255, example: 0 }),
    vram_bytes: optional(bytes(8589934592)),
    ram_bytes: optional(bytes(2147483648)),
    cpu_percent: optional({ type: 'number', minimum: 0, example: 3.5 }),
    gpu_percent: optional({ type: 'number', minimum: 0, maximum: 100, example: 0 }),
  },
} as const;

/** rbee's `HiveHeartbeatPayload`, plus the queen's optional `sequence` and `capabilities`. Unknown fields are ignored. */
export const HEARTBEAT_SCHEMA = {
  type: 'object',
  required: ['hive_id', 'timestamp', 'workers'],
  properties: {
    hive_id: { type: 'string', pattern: HIVE_ID_PATTERN, example: 'gpu-node-01' },
    timestamp: timestamp("The hive's clock, RFC 3339.", '2026-11-27T10:00:00Z'),
    sequence: optional({
      type: 'integer',
      minimum: 0,
      maximum: Number.MAX_SAFE_INTEGER,
      description: 'Increases with every heartbeat of one agent process; orders heartbeats whatever the hive clock says.',
      example: 42,
    }),
    capabilities: CAPABILITIES_SCHEMA,
    workers: { type: 'array', maxItems: MAX_WORKERS_PER_HEARTBEAT, items: WORKER_SCHEMA },
  },
} as const;

export interface HeartbeatGpu {
  index: number;
  name: string;
  vram_bytes: number;
  backend: 'cuda' | 'metal';
}

export interface HeartbeatCapabilities {
  cpu_cores: number;
  ram_bytes: number;
  gpus: HeartbeatGpu[];
}

export interface HeartbeatWorker {
  worker_id: string;
  state: (typeof WORKER_STATES)[number];
  last_heartbeat?: string | null;
  health_status?: string | null;
  url?: string | null;
  model_id?: string | null;
  backend?: 'cuda' | 'metal' | 'cpu' | null;
  device_id?: number | null;
  vram_bytes?: number | null;
  ram_bytes?: number | null;
  cpu_percent?: number | null;
  gpu_percent?: number | null;
}

/** A heartbeat body that passed {@link checkHeartbeat}. */
export interface HeartbeatBody {
  hive_id: string;
  timestamp: string;
  sequence?: number | null;
  capabilities?: HeartbeatCapabilities | null;
  workers: HeartbeatWorker[];
}

const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false });
// RFC 3339 date-time, checked without building strings or arrays: nine of them in a heartbeat of eight workers.
ajv.addFormat('date-time', { type: 'string', validate: isRfc3339 });
ajv.addVocabulary(['example']);
const validate = ajv.compile<HeartbeatBody>(HEARTBEAT_SCHEMA);

/** `/workers/3/vram_bytes` → `workers.3.vram_bytes`. */
function fieldOf(error: ErrorObject): string {
  const path = error.instancePath.slice(1).split('/').join('.');
  if (error.keyword === 'required') return [path, (error.params as { missingProperty: string }).missingProperty].filter(Boolean).join('.');
  return path || '(body)';
}

function messageOf(error: ErrorObject, field: string): string {
  const name = field.split('.').pop();
  switch (error.keyword) {
    case 'required':
      return `${name} is required`;
    case 'enum':
      return `${name} must be one of ${(error.params as { allowedValues: string[] }).allowedValues.join(', ')}`;
    case 'format':
      return `${name} must be an RFC 3339 time with a time zone, such as 2026-11-27T10:00:00Z`;
    case 'pattern':
      return `${name} must be a hive id: 1-63 characters of a-z, 0-9, ".", "_" or "-", starting with a letter or digit`;
    default:
      return `${name} ${error.message}`;
  }
}

/** The hive id of a body, if it names one by the id rules; checked before the token, before anything else. */
export function claimedHiveId(body: unknown): string | null {
  const hiveId = (body as { hive_id?: unknown }).hive_id;
  return typeof hiveId === 'string' && HIVE_ID.test(hiveId) ? hiveId : null;
}

/**
 * Checks a parsed heartbeat body against the schema. States and backends are
 * taken in any letter case: they are lower-cased in place first. Returns the
 * field errors (at most MAX_FIELD_ERRORS), or null when the body is valid.
 */
export function checkHeartbeat(body: Record<string, unknown>): FieldError[] | null {
  lowerCaseNames(body);
  if (validate(body)) return null;
  const errors = (validate.errors ?? []).slice(0, MAX_FIELD_ERRORS);
  return errors.map((error) => {
    const field = fieldOf(error);
    return { field, message: messageOf(error, field) };
  });
}

/** Each known name as one shared string, so that the registry's many workers do not each keep a copy of `idle`. */
const KNOWN_NAMES = new Map<string, string>([...WORKER_STATES, ...GPU_BACKENDS, 'cpu'].map((name) => [name, name]));

function lowerCase(object: unknown, key: string): void {
  if (typeof object !== 'object' || object === null) return;
  const record = object as Record<string, unknown>;
  const value = record[key];
  if (typeof value !== 'string') return;
  const lower = KNOWN_NAMES.has(value) ? value : value.toLowerCase();
  record[key] = KNOWN_NAMES.get(lower) ?? lower;
}

function lowerCaseNames(body: Record<string, unknown>): void {
  const workers = body.workers;
  if (Array.isArray(workers)) {
    for (const worker of workers) {
      lowerCase(worker, 'state');
      lowerCase(worker, 'backend');
    }
  }
  const gpus = (body.capabilities as { gpus?: unknown } | null | undefined)?.gpus;
  if (Array.isArray(gpus)) for (const gpu of gpus) lowerCase(gpu, 'backend');
}
