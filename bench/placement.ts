/**
 * Placement benchmark: how long one placement decision takes over a large fleet,
 * and what POST /v1/placements sustains over HTTP.
 *
 *   npm run bench:placement                                # 10,000 hives x 8 GPUs
 *   npm run bench:placement -- --hives 500 --duration 3    # quick run
 *
 * (a) In process. A HiveRegistry is filled with a seeded random fleet (each
 *     hive: 8 GPUs of 24/48/80 GiB, 0-3 workers per GPU, some reservations;
 *     1% cordoned, 2% never heard from). Then, over a fixed mix of placeable
 *     requests (binpack/spread, labels, CPU workers), the time of one decision
 *     is measured --decisions times per variant:
 *       scan       the baseline: every hive checked with placement's own admission
 *                  and fit, the best kept (what a placement costs without an index);
 *       decision   PlacementService.plan (real registry, metrics, clock): the walk of
 *                  the registry's capacity index that the queen makes;
 *       rejection  PlacementService.plan for a worker no hive can take (every hive
 *                  rejected, the 409 body with 10,000 reasons built).
 *     Targets: decision p99 <= 0.5 ms, rejection p99 <= 5 ms; the ratio
 *     scan / decision is printed.
 * (b) Over HTTP, each server a child process on a free 127.0.0.1 port, load from
 *     autocannon in this process, the same request mix for both:
 *       bare Nest  the heartbeat benchmark's bare Nest baseline, answering
 *                  POST /v1/placements with the queen's DTO and validation pipe;
 *       queen      the built queen, after registering the fleet (POST /v1/hives),
 *                  cordoning 1% (PATCH) and one heartbeat per live hive with its
 *                  capabilities and workers (the same fleet as in (a), without
 *                  the reservations).
 *     Prints requests/s, latency, server CPU per request and the queen / bare ratio.
 *     The queen runs with HEARTBEAT_TIMEOUT_MS=3600000 so the fleet stays online
 *     for the run without a background heartbeat load.
 *
 * Writes bench/results/placement-latest.json. Exit code 0 whatever the targets
 * say; 1 when a measurement is invalid (non-200 answers, a server that died,
 * the queen disagreeing with the in-process placement); 2 on bad flags.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Pool, request } from 'undici';
import type { HiveCapabilities } from '../src/domain/fleet';
import { ManualClock } from '../src/platform/clock/clock';
import { loadConfig } from '../src/platform/config/queen-config';
import { ProblemException, serializeProblem } from '../src/platform/http/problem';
import { QueenMetrics } from '../src/platform/metrics/queen-metrics';
import { HiveRegistry } from '../src/registry/hive-registry';
import type { WorkerReport } from '../src/registry/registry.types';
import { admission, fitOnHive, Placement, PlacementRequest } from '../src/scheduling/placement';
import { PlacementService } from '../src/scheduling/placement.service';
import { ParsedFlags, readCommandLine } from './lib/args';
import { ChildServer, sleep } from './lib/child-server';
import { fmtInt, fmtMiB, fmtNum, machineInfo, progress, table, target, TargetResult, writeJson } from './lib/format';
import { benchHiveId, BenchHive, registerHives } from './lib/hives';
import { LoadRequest, loadProblems, LoadSummary, runLoad, UNEXPECTED } from './lib/load';
import { sample, scrapeMetrics } from './lib/metrics';
import { seededRandom } from './lib/random';
import { exitCodeFor, runBenchmark } from './lib/run';

const GiB = 2 ** 30;
/** The compiled tree this file runs from (dist/), holding the queen and the baselines. */
const DIST = resolve(__dirname, '..');
const PROJECT = process.cwd();

const FLAGS = {
  hives: { default: 10_000, min: 1, max: 100_000, help: 'hives in the fleet' },
  gpus: { default: 8, min: 1, max: 16, help: 'GPUs per hive' },
  decisions: { default: 3000, min: 10, max: 1_000_000, help: 'in-process decisions measured per variant' },
  seed: { default: 20261127, min: 0, max: 2 ** 31 - 1, help: 'PRNG seed of the fleet and the request mix' },
  duration: { default: 15, min: 1, max: 600, help: 'measured HTTP seconds per server' },
  warmup: { default: 3, min: 0, max: 120, help: 'HTTP warm-up seconds per server' },
  connections: { default: 10, min: 1, max: 1000, help: 'concurrent keep-alive connections' },
  'register-concurrency': { default: 32, min: 1, max: 256, help: 'parallel POST /v1/hives' },
  parts: { default: 'inproc,http', help: 'what to run: inproc, http, or both' },
  out: { default: 'bench/results/placement-latest.json', help: 'JSON results file (relative to the working directory)' },
  profile: { boolean: true as const, help: 'CPU-profile each server during its measured run, to bench/results/profiles/' },
};
type Flags = ParsedFlags<typeof FLAGS>;

const TARGETS = { decisionP99Ms: 0.5, rejectionP99Ms: 5 };

// ---------------------------------------------------------------------------
// A seeded fleet
// ---------------------------------------------------------------------------

const pick = <T>(random: () => number, items: readonly T[]): T => items[Math.floor(random() * items.length)];

const GPU_MODELS = [
  { name: 'RTX 4090', vramGiB: 24 },
  { name: 'L40S', vramGiB: 48 },
  { name: 'H100', vramGiB: 80 },
] as const;
const MODELS = ['llama-3-8b', 'qwen2.5-7b', 'mistral-7b', 'phi-3-mini', 'llama-3-70b-q4', 'gemma-2-9b'];

interface FleetHive {
  id: string;
  /** As `registerHives` labels bench hives, so (a) and (b) see the same fleet. */
  labels: Record<string, string>;
  cordoned: boolean;
  /** Never heard from: no registry entry, so offline. */
  silent: boolean;
  capabilities: HiveCapabilities;
  workers: WorkerReport[];
  /** In-process only: VRAM held for a worker being started. */
  reservation: { deviceId: number; vramBytes: number } | null;
}

function buildFleet(count: number, gpusPerHive: number, seed: number): FleetHive[] {
  const random = seededRandom(seed);
  const fleet: FleetHive[] = [];
  for (let h = 0; h < count; h++) {
    const id = benchHiveId(h);
    const model = pick(random, GPU_MODELS);
    const gpus = Array.from({ length: gpusPerHive }, (_, index) => ({
      index,
      name: model.name,
      vramBytes: model.vramGiB * GiB,
      backend: 'cuda' as const,
    }));
    const workers: WorkerReport[] = [];
    for (const gpu of gpus) {
      let free = gpu.vramBytes;
      const n = Math.floor(random() * 4);
      for (let k = 0; k < n; k++) {
        const vramBytes = pick(random, [2, 4, 8, 16, 24]) * GiB;
        if (vramBytes > free) continue;
        free -= vramBytes;
        workers.push({
          workerId: `w-${h}-${gpu.index}-${k}`,
          modelId: pick(random, MODELS),
          state: pick(random, ['idle', 'busy', 'ready'] as const),
          backend: 'cuda',
          deviceId: gpu.index,
          device: `cuda:${gpu.index}`,
          vramBytes,
          ramBytes: (1 + Math.floor(random() * 4)) * GiB,
          url: `http://127.0.0.1:${9000 + workers.length}`,
          healthStatus: 'healthy',
          lastHeartbeat: null,
          cpuPercent: Math.round(random() * 100) / 2,
          gpuPercent: Math.round(random() * 100),
        });
      }
    }
    const roll = random();
    fleet.push({
      id,
      labels: { zone: ['a', 'b', 'c'][h % 3], bench: 'true' },
      cordoned: roll < 0.01,
      silent: roll >= 0.01 && roll < 0.03,
      capabilities: { cpuCores: 64, ramBytes: pick(random, [256, 512]) * GiB, gpus },
      workers,
      reservation: random() < 0.05 ? { deviceId: Math.floor(random() * gpusPerHive), vramBytes: 4 * GiB } : null,
    });
  }
  return fleet;
}

/** A fixed mix of requests the fleet can take: GPU workers (binpack/spread, some with labels or a backend) and CPU workers. */
function buildRequests(count: number, seed: number): PlacementRequest[] {
  const random = seededRandom(seed ^ 0x5eed);
  return Array.from({ length: count }, (_, i): PlacementRequest => {
    const strategy = random() < 0.6 ? 'binpack' : 'spread';
    const modelId = pick(random, MODELS);
    if (random() < 0.1) return { modelId, vramBytes: 0, ramBytes: pick(random, [4, 8, 16]) * GiB, backend: 'cpu', strategy };
    return {
      modelId,
      vramBytes: pick(random, [4, 8, 12, 16, 24, 40]) * GiB,
      ramBytes: pick(random, [0, 2, 4]) * GiB,
      strategy,
      ...(random() < 0.1 ? { backend: 'cuda' as const } : {}),
      ...(i % 5 === 0 ? { labels: { zone: pick(random, ['a', 'b', 'c']) } } : {}),
    };
  });
}

function requestBody(request: PlacementRequest): string {
  return JSON.stringify({
    model_id: request.modelId,
    vram_bytes: request.vramBytes,
    ram_bytes: request.ramBytes,
    ...(request.backend ? { backend: request.backend } : {}),
    strategy: request.strategy,
    ...(request.labels ? { labels: request.labels } : {}),
  });
}

// ---------------------------------------------------------------------------
// (a) in process
// ---------------------------------------------------------------------------

interface InProcessWorld {
  registry: HiveRegistry;
  clock: ManualClock;
  placements: PlacementService;
}

function buildInProcess(fleet: FleetHive[], withReservations: boolean): InProcessWorld {
  const clock = new ManualClock(Date.parse('2026-11-27T10:00:00.000Z'));
  const now = clock.now();
  const config = loadConfig({ LOG_LEVEL: 'silent' });
  const registry = new HiveRegistry(config.heartbeatTimeoutMs, now);
  for (const hive of fleet) {
    registry.track({ id: hive.id, cordoned: hive.cordoned, labels: hive.labels, capabilities: hive.capabilities, status: 'unknown' });
    if (hive.silent) continue;
    registry.applyHeartbeat(hive.id, { stamp: { sequence: 1, timestamp: now }, workers: hive.workers, receivedAt: now });
    if (withReservations && hive.reservation) {
      const { deviceId, vramBytes } = hive.reservation;
      registry.reserve(
        { hiveId: hive.id, workerId: `w-starting-${hive.id}`, modelId: 'llama-3-8b', backend: 'cuda', deviceId, device: `cuda:${deviceId}`, vramBytes, ramBytes: 2 * GiB },
        now,
        config.reservationTtlMs,
      );
    }
  }
  return { registry, clock, placements: new PlacementService(registry, new QueenMetrics(), clock) };
}

/**
 * The baseline: every hive checked with placement's own admission and fit, the
 * best kept by the same ranking (fewest bytes left for binpack, most for spread,
 * then the lower hive id). What one decision costs without the capacity index.
 */
function scanPlacement(world: InProcessWorld, request: PlacementRequest): { hiveId: string; device: string } | null {
  const now = world.clock.now();
  const spread = request.strategy === 'spread';
  let best: { hiveId: string; device: string; freeAfter: number } | null = null;
  for (const hive of world.registry.hives(now)) {
    if (admission(hive, request, world.registry.liveness, now) !== null) continue;
    const fit = fitOnHive(hive, request);
    if (typeof fit === 'string') continue;
    const better =
      best === null ||
      (spread ? fit.freeAfterBytes > best.freeAfter : fit.freeAfterBytes < best.freeAfter) ||
      (fit.freeAfterBytes === best.freeAfter && hive.hiveId < best.hiveId);
    if (better) best = { hiveId: hive.hiveId, device: fit.device === -1 ? 'cpu' : hive.resources.devices[fit.device].device, freeAfter: fit.freeAfterBytes };
  }
  return best;
}

interface Percentiles {
  samples: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  /**
   * The same decisions timed by this process's CPU time (getrusage, all threads, µs
   * resolution): unlike wall time it does not count time the process was preempted,
   * so it stays meaningful on a machine busy with other work.
   */
  cpu: { meanMs: number; p50Ms: number; p99Ms: number };
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

function percentiles(wall: number[], cpu: number[]): Percentiles {
  const sorted = [...wall].sort((a, b) => a - b);
  const cpuSorted = [...cpu].sort((a, b) => a - b);
  const mean = (values: number[]) => values.reduce((sum, d) => sum + d, 0) / values.length;
  return {
    samples: sorted.length,
    meanMs: mean(sorted),
    p50Ms: quantile(sorted, 0.5),
    p90Ms: quantile(sorted, 0.9),
    p99Ms: quantile(sorted, 0.99),
    maxMs: sorted[sorted.length - 1],
    cpu: { meanMs: mean(cpuSorted), p50Ms: quantile(cpuSorted, 0.5), p99Ms: quantile(cpuSorted, 0.99) },
  };
}

/** Times `decide(i)` one call at a time (wall and CPU), after a warm-up of a tenth as many calls. */
function timeDecisions(count: number, decide: (i: number) => unknown): Percentiles {
  let sink = 0;
  const warm = Math.max(10, Math.floor(count / 10));
  for (let i = 0; i < warm; i++) sink += decide(i) ? 1 : 0;
  const wall = new Array<number>(count);
  const cpu = new Array<number>(count);
  for (let i = 0; i < count; i++) {
    const cpuStarted = process.cpuUsage();
    const started = performance.now();
    const result = decide(i);
    wall[i] = performance.now() - started;
    const used = process.cpuUsage(cpuStarted);
    cpu[i] = (used.user + used.system) / 1000;
    sink += result ? 1 : 0;
  }
  if (sink < 0) progress('unreachable');
  return percentiles(wall, cpu);
}

interface InProcessResult {
  hives: number;
  gpusPerHive: number;
  devices: number;
  workers: number;
  reservations: number;
  cordoned: number;
  silent: number;
  buildSeconds: number;
  variants: (Percentiles & { name: string; description: string })[];
  errors: string[];
}

function samePlacement(a: Pick<Placement, 'hiveId' | 'device'>, b: Pick<Placement, 'hiveId' | 'device'>): boolean {
  return a.hiveId === b.hiveId && a.device === b.device;
}

function runInProcess(fleet: FleetHive[], requests: PlacementRequest[], flags: Flags): InProcessResult {
  const built = performance.now();
  const world = buildInProcess(fleet, true);
  const buildSeconds = (performance.now() - built) / 1000;
  const errors: string[] = [];
  const n = requests.length;

  // The baseline scan and the queen's decision must agree, or the timings compare different work.
  for (let i = 0; i < Math.min(n, 200); i++) {
    const scanned = scanPlacement(world, requests[i]);
    let planned: Placement | null = null;
    try {
      planned = world.placements.plan(requests[i]);
    } catch (error) {
      errors.push(`request ${i} was refused: ${(error as Error).message}`);
    }
    if (!scanned || !planned) errors.push(`request ${i} (${requestBody(requests[i])}) did not place in process`);
    else if (!samePlacement(scanned, planned)) errors.push(`request ${i}: the scan and the decision differ`);
  }

  const impossible: PlacementRequest = { modelId: 'too-big', vramBytes: 1024 * GiB, ramBytes: 0, strategy: 'binpack' };
  const variants: InProcessResult['variants'] = [];
  const measure = (name: string, description: string, decide: (i: number) => unknown) => {
    progress(`in-process: ${name}, ${fmtInt(flags.decisions)} decisions`);
    const result = timeDecisions(flags.decisions, decide);
    variants.push({ name, description, ...result });
  };
  measure('scan', 'baseline: admission and fit of every hive, best kept', (i) => scanPlacement(world, requests[i % n]));
  measure('decision', 'PlacementService.plan: a walk of the capacity index', (i) => world.placements.plan(requests[i % n]));
  measure('rejection', 'PlacementService.plan refused by every hive, 409 body serialised as sent', () => {
    try {
      world.placements.plan(impossible);
      errors.push('the impossible request was placed');
    } catch (error) {
      if (!(error instanceof ProblemException) || error.getStatus() !== 409) throw error;
      return serializeProblem(error.problem).length;
    }
    return undefined;
  });

  return {
    hives: fleet.length,
    gpusPerHive: flags.gpus,
    devices: fleet.length * flags.gpus,
    workers: fleet.reduce((sum, hive) => sum + hive.workers.length, 0),
    reservations: world.registry.reservationCount(world.clock.now()),
    cordoned: fleet.filter((hive) => hive.cordoned).length,
    silent: fleet.filter((hive) => hive.silent).length,
    buildSeconds,
    variants,
    errors,
  };
}

// ---------------------------------------------------------------------------
// (b) over HTTP
// ---------------------------------------------------------------------------

type ServerKind = 'bare' | 'queen';

interface ServerResult {
  kind: ServerKind;
  label: string;
  pid: number;
  fleet?: {
    registerSeconds: number;
    cordoned: number;
    heartbeats: LoadSummary;
    settle: SettleResult;
    /** First requests answered by the queen and compared with the in-process decision. */
    checked: number;
  };
  warmup?: LoadSummary;
  measured?: LoadSummary;
  requestsPerSecond?: number;
  cpu?: { serverSeconds: number | null; serverMicrosPerRequest: number | null; serverCores: number | null; loadAverage1m: [number, number] };
  memory?: { rssBytes: number | null; peakRssBytes: number | null };
  errors: string[];
}

const SERVERS: Record<ServerKind, { label: string; script: string }> = {
  bare: { label: 'bare Nest', script: join(__dirname, 'baselines/bare-nest.js') },
  queen: { label: 'queen', script: join(DIST, 'src/main.js') },
};

function heartbeatBody(hive: FleetHive): string {
  const timestamp = new Date().toISOString();
  return JSON.stringify({
    hive_id: hive.id,
    timestamp,
    sequence: 1,
    capabilities: {
      cpu_cores: hive.capabilities.cpuCores,
      ram_bytes: hive.capabilities.ramBytes,
      gpus: hive.capabilities.gpus.map((gpu) => ({ index: gpu.index, name: gpu.name, vram_bytes: gpu.vramBytes, backend: gpu.backend })),
    },
    workers: hive.workers.map((worker) => ({
      worker_id: worker.workerId,
      state: worker.state,
      last_heartbeat: timestamp,
      health_status: worker.healthStatus,
      url: worker.url,
      model_id: worker.modelId,
      backend: worker.backend,
      device_id: worker.deviceId,
      vram_bytes: worker.vramBytes,
      ram_bytes: worker.ramBytes,
      cpu_percent: worker.cpuPercent,
      gpu_percent: worker.gpuPercent,
    })),
  });
}

const classifyPlacement = (body: string): string => (body.startsWith('{"hive_id":"bench-') ? 'placed' : UNEXPECTED);

interface SettleResult {
  seconds: number;
  timedOut: boolean;
  online: number | null;
}

/**
 * Waits, without load, until the queen has written what the first heartbeats
 * changed (each hive's status): the catalog lists `online` hives online and the
 * SQL statement counter has stood still for a second. Bounded by `timeoutMs`.
 */
async function settleCatalog(baseUrl: string, online: number, timeoutMs = 300_000): Promise<SettleResult> {
  const started = Date.now();
  let lastSql: number | null = null;
  let lastChange = Date.now();
  let listed: number | null = null;
  while (Date.now() - started < timeoutMs) {
    const sql = sample(await scrapeMetrics(baseUrl), 'queen_sql_statements_total');
    if (sql !== lastSql) {
      lastSql = sql;
      lastChange = Date.now();
    }
    const res = await request(`${baseUrl}/v1/hives?status=online&limit=1`, { headersTimeout: 10_000, bodyTimeout: 10_000 });
    const text = await res.body.text();
    listed = res.statusCode === 200 ? ((JSON.parse(text) as { total?: number }).total ?? null) : null;
    if (listed === online && Date.now() - lastChange >= 1000) return { seconds: (Date.now() - started) / 1000, timedOut: false, online: listed };
    await sleep(250);
  }
  return { seconds: (Date.now() - started) / 1000, timedOut: true, online: listed };
}

const classifyHeartbeatAck = (body: string): string =>
  body.includes('"acknowledged":true') && body.includes('"applied":true') ? 'applied' : UNEXPECTED;

/** Registers the fleet, cordons its cordoned hives and sends one heartbeat per live hive. */
async function prepareQueenFleet(
  server: ChildServer,
  fleet: FleetHive[],
  flags: Flags,
): Promise<{ registerSeconds: number; cordoned: number; heartbeats: LoadSummary; settle: SettleResult }> {
  progress(`queen: registering ${fmtInt(fleet.length)} hives`);
  const registered = await registerHives({
    baseUrl: server.baseUrl,
    count: fleet.length,
    concurrency: flags['register-concurrency'],
    onProgress: (n) => progress(`  registered ${fmtInt(n)}`),
  });
  registered.hives.forEach((hive: BenchHive, i) => {
    if (hive.id !== fleet[i].id) throw new Error(`registered ${hive.id} where ${fleet[i].id} was expected`);
  });
  const cordoned = fleet.filter((hive) => hive.cordoned);
  const pool = new Pool(server.baseUrl, { connections: 8 });
  try {
    await Promise.all(
      cordoned.map(async (hive) => {
        const res = await pool.request({
          method: 'PATCH',
          path: `/v1/hives/${hive.id}`,
          headers: { 'content-type': 'application/json' },
          body: '{"cordoned":true}',
        });
        const text = await res.body.text();
        if (res.statusCode !== 200) throw new Error(`PATCH /v1/hives/${hive.id}: HTTP ${res.statusCode} ${text.slice(0, 200)}`);
      }),
    );
  } finally {
    await pool.close();
  }

  const live = fleet.map((hive, i) => ({ hive, token: registered.hives[i].token })).filter(({ hive }) => !hive.silent);
  progress(`queen: one heartbeat each from ${fmtInt(live.length)} hives (capabilities and workers)`);
  let cursor = 0;
  const heartbeats = await runLoad({
    baseUrl: server.baseUrl,
    connections: Math.min(flags.connections, live.length),
    amount: live.length,
    next: (): LoadRequest => {
      const { hive, token } = live[cursor++ % live.length];
      return {
        method: 'POST',
        path: '/v1/heartbeat',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: heartbeatBody(hive),
      };
    },
    classifyBody: classifyHeartbeatAck,
  });
  const problem = loadProblems('queen heartbeats', heartbeats);
  if (problem) throw new Error(problem);
  const settled = await settleCatalog(server.baseUrl, live.length);
  if (settled.timedOut) throw new Error(`the catalog lists ${settled.online} hives online, ${live.length} expected`);
  progress(`queen: fleet online, catalog settled in ${fmtNum(settled.seconds, 1)} s${settled.timedOut ? ' (TIMED OUT)' : ''}`);
  return { registerSeconds: registered.seconds, cordoned: cordoned.length, heartbeats, settle: settled };
}

/** The queen's answers to the first requests must be what placement decides in process for the same fleet. */
async function checkQueenAnswers(server: ChildServer, fleet: FleetHive[], requests: PlacementRequest[]): Promise<number> {
  const reference = buildInProcess(fleet, false);
  const pool = new Pool(server.baseUrl, { connections: 1 });
  const count = Math.min(requests.length, 40);
  try {
    for (let i = 0; i < count; i++) {
      const expected = reference.placements.plan(requests[i]);
      const res = await pool.request({
        method: 'POST',
        path: '/v1/placements',
        headers: { 'content-type': 'application/json' },
        body: requestBody(requests[i]),
      });
      const text = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`POST /v1/placements ${requestBody(requests[i])}: HTTP ${res.statusCode} ${text.slice(0, 300)}`);
      const got = JSON.parse(text) as { hive_id: string; device: string };
      if (got.hive_id !== expected.hiveId || got.device !== expected.device) {
        throw new Error(
          `queen placed request ${i} on ${got.hive_id} ${got.device}, in-process placement says ${expected.hiveId} ${expected.device}`,
        );
      }
    }
  } finally {
    await pool.close();
  }
  return count;
}

async function measureHttp(kind: ServerKind, fleet: FleetHive[], requests: PlacementRequest[], flags: Flags): Promise<ServerResult> {
  const { label, script } = SERVERS[kind];
  const result: ServerResult = { kind, label, pid: -1, errors: [] };
  const dataDir = kind === 'queen' ? mkdtempSync(join(tmpdir(), 'queen-bench-placement-')) : null;
  const env: Record<string, string> = {};
  if (dataDir) {
    Object.assign(env, { QUEEN_DATA_DIR: dataDir, HOST: '127.0.0.1', LOG_LEVEL: 'warn', HEARTBEAT_TIMEOUT_MS: '3600000' });
  }
  const nodeArgs: string[] = [];
  if (flags.profile) {
    // The preload profiles between two SIGWINCHs: sent around the measured run below.
    nodeArgs.push('-r', join(__dirname, 'lib/cpu-profile-preload.js'));
    Object.assign(env, { BENCH_CPU_PROFILE_DIR: join(PROJECT, 'bench/results/profiles'), BENCH_CPU_PROFILE_NAME: `placement-${kind}` });
  }
  progress(`${label}: starting ${script.replace(`${PROJECT}/`, '')}`);
  const server = await ChildServer.start({ name: label, script, env, nodeArgs, cwd: PROJECT });
  result.pid = server.pid;
  try {
    if (kind === 'queen') {
      const prepared = await prepareQueenFleet(server, fleet, flags);
      const checked = await checkQueenAnswers(server, fleet, requests);
      result.fleet = { ...prepared, checked };
      progress(`queen: first ${checked} answers agree with the in-process placement`);
    }
    const bodies = requests.map(requestBody);
    let cursor = 0;
    const base = {
      baseUrl: server.baseUrl,
      connections: flags.connections,
      classifyBody: classifyPlacement,
      next: (): LoadRequest => ({
        method: 'POST',
        path: '/v1/placements',
        headers: { 'content-type': 'application/json' },
        body: bodies[cursor++ % bodies.length],
      }),
    };
    if (flags.warmup > 0) {
      progress(`${label}: warm-up ${flags.warmup} s`);
      result.warmup = await runLoad({ ...base, durationS: flags.warmup });
      const problem = loadProblems(`${label} warm-up`, result.warmup);
      if (problem) throw new Error(problem);
    }
    progress(`${label}: measuring ${flags.duration} s with ${flags.connections} connections`);
    const load1 = loadavg()[0];
    const cpuBefore = server.cpuSeconds();
    const wallBefore = performance.now();
    if (flags.profile) process.kill(server.pid, 'SIGWINCH');
    const measured = await runLoad({ ...base, durationS: flags.duration });
    if (flags.profile) process.kill(server.pid, 'SIGWINCH');
    const wallS = (performance.now() - wallBefore) / 1000;
    const cpuAfter = server.cpuSeconds();
    const serverSeconds = cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore;
    const memory = server.memory();
    result.measured = measured;
    result.requestsPerSecond = measured.perSecond;
    result.cpu = {
      serverSeconds,
      serverMicrosPerRequest: serverSeconds === null || measured.requests === 0 ? null : (serverSeconds * 1e6) / measured.requests,
      serverCores: serverSeconds === null ? null : serverSeconds / wallS,
      loadAverage1m: [load1, loadavg()[0]],
    };
    result.memory = { rssBytes: memory?.rssBytes ?? null, peakRssBytes: memory?.peakRssBytes ?? null };
    const problem = loadProblems(`${label} measured run`, measured);
    if (problem) result.errors.push(problem);
    server.assertAlive();
    progress(`${label}: ${fmtInt(measured.perSecond)} placements/s, p50 ${measured.latencyMs.p50} ms, p99 ${measured.latencyMs.p99} ms`);
  } catch (error) {
    result.errors.push((error as Error).message);
  } finally {
    await server.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
  return result;
}

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

function report(flags: Flags, inProcess: InProcessResult | null, http: ServerResult[]) {
  const lines: string[] = [];
  const m = machineInfo();
  lines.push(`Placement benchmark: ${fmtInt(flags.hives)} hives x ${flags.gpus} GPUs, seed ${flags.seed}`);
  lines.push(`Machine: ${m.cpus} x ${m.cpuModel}, node ${m.node}; load average ${loadavg().map((n) => n.toFixed(1)).join(' ')}`);
  const targets: TargetResult[] = [];
  if (inProcess) {
    lines.push('');
    lines.push(
      `(a) in process: ${fmtInt(inProcess.devices)} GPUs, ${fmtInt(inProcess.workers)} workers, ${fmtInt(inProcess.reservations)} reservations, ` +
        `${inProcess.cordoned} cordoned, ${inProcess.silent} never heard from; registry built in ${fmtNum(inProcess.buildSeconds, 2)} s`,
    );
    lines.push(
      table(
        ['variant', 'decisions', 'mean ms', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'CPU p50', 'CPU p99', 'what'],
        inProcess.variants.map((v) => [
          v.name,
          fmtInt(v.samples),
          fmtNum(v.meanMs, 3),
          fmtNum(v.p50Ms, 3),
          fmtNum(v.p90Ms, 3),
          fmtNum(v.p99Ms, 3),
          fmtNum(v.maxMs, 3),
          fmtNum(v.cpu.p50Ms, 3),
          fmtNum(v.cpu.p99Ms, 3),
          v.description,
        ]),
      ),
    );
    lines.push('CPU p50/p99 = the same decisions by this process\'s CPU time: not inflated by preemption when the machine is busy');
    const variant = (name: string) => inProcess.variants.find((v) => v.name === name);
    const decision = variant('decision');
    const scan = variant('scan');
    lines.push(
      `decision vs baseline scan: p50 ${fmtNum(scan && decision ? scan.p50Ms / decision.p50Ms : null, 1)}x faster, ` +
        `p99 ${fmtNum(scan && decision ? scan.p99Ms / decision.p99Ms : null, 1)}x faster`,
    );
    const ms = (n: number) => `${n.toFixed(3)} ms`;
    targets.push(target('p99 of one decision (wall)', decision?.p99Ms ?? null, '<=', TARGETS.decisionP99Ms, ms));
    targets.push(target('p99 of an all-rejected decision (wall)', variant('rejection')?.p99Ms ?? null, '<=', TARGETS.rejectionP99Ms, ms));
  }
  const by = (kind: ServerKind) => http.find((r) => r.kind === kind && r.measured && r.errors.length === 0);
  const queen = by('queen');
  const bare = by('bare');
  const ratios = {
    queenToBareNest: queen?.requestsPerSecond && bare?.requestsPerSecond ? queen.requestsPerSecond / bare.requestsPerSecond : null,
    cpuPerRequestQueenToBareNest:
      queen?.cpu?.serverMicrosPerRequest && bare?.cpu?.serverMicrosPerRequest
        ? queen.cpu.serverMicrosPerRequest / bare.cpu.serverMicrosPerRequest
        : null,
  };
  if (http.length > 0) {
    lines.push('');
    lines.push(`(b) POST /v1/placements over HTTP: ${flags.connections} connections, ${flags.duration} s measured after ${flags.warmup} s warm-up`);
    lines.push(
      table(
        ['server', 'placements/s', 'p50 ms', 'p99 ms', 'avg ms', 'max ms', 'requests', 'CPU µs/req', 'cores', 'RSS after'],
        http.map((r) => [
          r.label,
          fmtInt(r.requestsPerSecond),
          fmtNum(r.measured?.latencyMs.p50, 0),
          fmtNum(r.measured?.latencyMs.p99, 0),
          fmtNum(r.measured?.latencyMs.avg, 2),
          fmtNum(r.measured?.latencyMs.max, 0),
          fmtInt(r.measured?.requests),
          fmtInt(r.cpu?.serverMicrosPerRequest),
          fmtNum(r.cpu?.serverCores),
          fmtMiB(r.memory?.rssBytes),
        ]),
      ),
    );
    lines.push(
      `throughput queen / bare Nest: ${fmtNum(ratios.queenToBareNest, 3)}x    ` +
        `CPU per request queen / bare Nest: ${fmtNum(ratios.cpuPerRequestQueenToBareNest, 1)}x`,
    );
    const q = http.find((r) => r.kind === 'queen');
    if (q?.fleet) {
      lines.push(
        `queen fleet: registered in ${fmtNum(q.fleet.registerSeconds, 1)} s, ${q.fleet.cordoned} cordoned, ` +
          `${fmtInt(q.fleet.heartbeats.requests)} first heartbeats at ${fmtInt(q.fleet.heartbeats.perSecond)}/s, ` +
          `settled ${fmtNum(q.fleet.settle.seconds, 1)} s; first ${q.fleet.checked} answers checked against in-process placement`,
      );
    }
  }
  if (targets.length) {
    lines.push('');
    lines.push(table(['target', 'bound', 'measured', 'verdict'], targets.map((t) => [t.name, t.target, t.measured, t.verdict])));
  }
  return { text: lines.join('\n'), ratios, targets };
}

async function main(): Promise<number> {
  const flags = readCommandLine(process.argv.slice(2), FLAGS, 'node dist/bench/placement.js');
  if (typeof flags === 'number') return flags;
  const parts = new Set(flags.parts.split(',').map((p) => p.trim()).filter(Boolean));
  if (parts.size === 0 || [...parts].some((p) => p !== 'inproc' && p !== 'http')) {
    process.stderr.write(`--parts must be inproc, http or inproc,http (got "${flags.parts}")\n`);
    return 2;
  }

  const started = new Date();
  progress(`building a fleet of ${fmtInt(flags.hives)} hives x ${flags.gpus} GPUs (seed ${flags.seed})`);
  const fleet = buildFleet(flags.hives, flags.gpus, flags.seed);
  const requests = buildRequests(256, flags.seed);

  const inProcess = parts.has('inproc') ? runInProcess(fleet, requests, flags) : null;
  const http: ServerResult[] = [];
  if (parts.has('http')) {
    for (const kind of ['bare', 'queen'] as const) http.push(await measureHttp(kind, fleet, requests, flags));
  }

  const { text, ratios, targets } = report(flags, inProcess, http);
  process.stdout.write(`\n${text}\n`);
  const errors = [
    ...(inProcess?.errors.map((e) => `in-process: ${e}`) ?? []),
    ...http.flatMap((r) => r.errors.map((e) => `${r.label}: ${e}`)),
  ];
  writeJson(resolve(flags.out), {
    benchmark: 'placement',
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: machineInfo(),
    parameters: {
      hives: flags.hives,
      gpusPerHive: flags.gpus,
      seed: flags.seed,
      decisions: flags.decisions,
      requestMix: requests.length,
      durationS: flags.duration,
      warmupS: flags.warmup,
      connections: flags.connections,
      parts: [...parts],
    },
    targets: { ...TARGETS, results: targets },
    inProcess,
    http: { servers: http, ratios },
    errors,
  });
  progress(`results written to ${resolve(flags.out)}`);
  return exitCodeFor(errors);
}

runBenchmark(main);
