import type { BenchHive } from './hives';
import { LoadRequest, UNEXPECTED } from './load';

const GiB = 2 ** 30;

/** What every bench hive says it has: 32 cores, 128 GiB, two 24 GiB CUDA GPUs. */
const CAPABILITIES_JSON = JSON.stringify({
  cpu_cores: 32,
  ram_bytes: 128 * GiB,
  gpus: [
    { index: 0, name: 'RTX 4090', vram_bytes: 24 * GiB, backend: 'cuda' },
    { index: 1, name: 'RTX 4090', vram_bytes: 24 * GiB, backend: 'cuda' },
  ],
});

/** Four workers on two GPUs, as rbee's hive reports them. */
const WORKERS = [
  { worker_id: 'w-1', state: 'Idle', model_id: 'llama-3-8b', device_id: 0, vram: 8, ram: 2 },
  { worker_id: 'w-2', state: 'Busy', model_id: 'qwen2.5-7b', device_id: 0, vram: 8, ram: 2 },
  { worker_id: 'w-3', state: 'Ready', model_id: 'mistral-7b', device_id: 1, vram: 10, ram: 3 },
  { worker_id: 'w-4', state: 'Idle', model_id: 'phi-3-mini', device_id: 1, vram: 4, ram: 1 },
];

function workersJson(timestamp: string, sequence: number): string {
  return WORKERS.map(
    (w, i) =>
      `{"worker_id":"${w.worker_id}","state":"${w.state}","last_heartbeat":"${timestamp}","health_status":"healthy",` +
      `"url":"http://127.0.0.1:${9001 + i}","model_id":"${w.model_id}","backend":"cuda","device_id":${w.device_id},` +
      `"vram_bytes":${w.vram * GiB},"ram_bytes":${w.ram * GiB},"cpu_percent":${((sequence + i) % 40) / 2},` +
      `"gpu_percent":${(sequence * 7 + i * 13) % 100}}`,
  ).join(',');
}

/**
 * rbee-shaped heartbeats (`HiveHeartbeatPayload` plus the queen's `sequence`
 * and `capabilities`), cycling over the hives so consecutive requests come
 * from different hives, each with its own token. Every hive's `sequence`
 * increases by one per beat; its first beat carries `capabilities`.
 */
export class HeartbeatFeed {
  private cursor = 0;
  private readonly sequences: Float64Array;
  private readonly authorizations: string[];
  /** Heartbeats handed out so far. */
  sent = 0;

  constructor(private readonly hives: readonly BenchHive[]) {
    if (hives.length === 0) throw new Error('HeartbeatFeed needs at least one hive');
    this.sequences = new Float64Array(hives.length);
    this.authorizations = hives.map((hive) => `Bearer ${hive.token}`);
  }

  /** Whether every hive has sent its first beat (with capabilities). */
  get everyHiveBeat(): boolean {
    return this.sent >= this.hives.length;
  }

  next = (): LoadRequest => {
    const i = this.cursor;
    this.cursor = i + 1 === this.hives.length ? 0 : i + 1;
    const sequence = ++this.sequences[i];
    this.sent++;
    const timestamp = new Date().toISOString();
    const capabilities = sequence === 1 ? `,"capabilities":${CAPABILITIES_JSON}` : '';
    return {
      method: 'POST',
      path: '/v1/heartbeat',
      headers: { 'Content-Type': 'application/json', Authorization: this.authorizations[i] },
      body:
        `{"hive_id":"${this.hives[i].id}","timestamp":"${timestamp}","sequence":${sequence}${capabilities},` +
        `"workers":[${workersJson(timestamp, sequence)}]}`,
    };
  };
}

/**
 * Sorts a 200 heartbeat reply: `applied`, or `stale` (the queen had already
 * applied a later beat of that hive: legal, counted, not an error), else
 * `unexpected`, which invalidates the run.
 */
export function classifyHeartbeatAck(body: string): string {
  if (!body.includes('"acknowledged":true')) return UNEXPECTED;
  if (body.includes('"applied":true')) return 'applied';
  if (body.includes('"applied":false')) return 'stale';
  return UNEXPECTED;
}
