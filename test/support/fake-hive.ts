/**
 * Fake hives for the queen's e2e tests: real HTTP servers on 127.0.0.1 that the
 * queen can spawn workers on, whose calls are recorded and whose failure modes are
 * switched per hive. Tests send heartbeats themselves (supertest), so each hive
 * exposes `heartbeatBody()`; nothing here talks to the queen.
 *
 *   const fleet = await startFakeHives([{ id: 'hive-a', gpus: [{ vramGb: 24 }] }]);
 *   await request(app).post('/v1/hives').send(fleet.registration('hive-a'));
 *   await request(app).post('/v1/heartbeat').set('authorization', `Bearer ${token}`)
 *     .send(fleet.hive('hive-a').heartbeatBody());
 *   fleet.hive('hive-a').setFaults({ spawn: 'error' });   // or 'hang', responseDelayMs
 *   await fleet.hive('hive-a').stop();                     // port closed; start() reopens it
 *   expect(fleet.spawnCalls('hive-a')).toHaveLength(1);
 *   await fleet.close();
 */
import { CapabilitiesPolicy, GIB, GpuSpec } from '../../tools/simulator/hive-model';
import { HiveCall, LOOPBACK_HOST, SimulatedHive } from '../../tools/simulator/hive-server';

export interface FakeGpu {
  name?: string;
  /** GiB; ignored when `vramBytes` is given. */
  vramGb?: number;
  vramBytes?: number;
}

export interface FakeHiveSpec {
  /** Default `fake-hive-<n>`. */
  id?: string;
  /** Default one 24 GiB RTX 4090; each GPU without a size is 24 GiB. */
  gpus?: FakeGpu[];
  cpuCores?: number;
  ramBytes?: number;
  /** Default 'manual': workers stay Loading until `finishLoading()`, so tests never wait. */
  loadDelayMs?: number | 'manual';
  /** Default 'on-request'; 'never' makes the queen pull `GET /v1/devices`. */
  capabilities?: CapabilitiesPolicy;
  /** The hive's clock, for heartbeat timestamps. */
  now?: () => number;
}

export interface FakeHiveRegistration {
  id: string;
  host: string;
  port: number;
}

const DEFAULT_GPU_NAME = 'RTX 4090';
const DEFAULT_GPU_VRAM_GB = 24;

export class FakeHiveFleet {
  /** Every call any hive received, in arrival order. */
  readonly calls: HiveCall[] = [];
  private readonly hivesById = new Map<string, SimulatedHive>();
  private readonly waiting: { kind: HiveCall['kind']; hiveId: string; resolve: (call: HiveCall) => void }[] = [];

  private record(call: HiveCall): void {
    this.calls.push(call);
    for (const waiter of this.waiting.filter((w) => w.kind === call.kind && w.hiveId === call.hiveId)) {
      this.waiting.splice(this.waiting.indexOf(waiter), 1);
      waiter.resolve(call);
    }
  }

  get hives(): SimulatedHive[] {
    return [...this.hivesById.values()];
  }

  /** Adds and starts one more hive. */
  async add(spec: FakeHiveSpec = {}): Promise<SimulatedHive> {
    const id = spec.id ?? `fake-hive-${this.hivesById.size + 1}`;
    if (this.hivesById.has(id)) throw new Error(`fake hive ${id} already exists`);
    const hive = new SimulatedHive({
      id,
      gpus: (spec.gpus ?? [{}]).map(toGpuSpec),
      cpuCores: spec.cpuCores,
      ramBytes: spec.ramBytes,
      loadDelayMs: spec.loadDelayMs ?? 'manual',
      capabilities: spec.capabilities,
      now: spec.now,
      onCall: (call) => this.record(call),
    });
    await hive.start();
    this.hivesById.set(id, hive);
    return hive;
  }

  hive(id: string): SimulatedHive {
    const hive = this.hivesById.get(id);
    if (!hive) throw new Error(`no fake hive ${id}`);
    return hive;
  }

  /** The `POST /v1/hives` body that points the queen at this hive. */
  registration(id: string): FakeHiveRegistration {
    return { id, host: LOOPBACK_HOST, port: this.hive(id).port };
  }

  /** Spawn bodies received, as the queen sent them. */
  spawnCalls(hiveId?: string): unknown[] {
    return this.calls.flatMap((call) =>
      call.kind === 'spawn' && (hiveId === undefined || call.hiveId === hiveId) ? [call.body] : [],
    );
  }

  /** Worker ids the queen asked to delete. */
  deleteCalls(hiveId?: string): string[] {
    return this.calls.flatMap((call) =>
      call.kind === 'delete' && (hiveId === undefined || call.hiveId === hiveId) ? [call.workerId] : [],
    );
  }

  /** How many times the queen pulled `GET /v1/devices`. */
  devicesCalls(hiveId?: string): number {
    return this.calls.filter((call) => call.kind === 'devices' && (hiveId === undefined || call.hiveId === hiveId))
      .length;
  }

  /** Resolves with the next call of this kind to this hive: waits on the call itself, not on a clock. */
  nextCall(kind: HiveCall['kind'], hiveId: string): Promise<HiveCall> {
    return new Promise((resolve) => this.waiting.push({ kind, hiveId, resolve }));
  }

  clearCalls(): void {
    this.calls.length = 0;
  }

  /** Closes every hive, cutting hung requests; safe to call twice. */
  async close(): Promise<void> {
    await Promise.all(this.hives.map((hive) => hive.close()));
  }
}

/** Starts `count` default hives, or one hive per spec. */
export async function startFakeHives(hives: number | FakeHiveSpec[]): Promise<FakeHiveFleet> {
  const specs = typeof hives === 'number' ? Array.from({ length: hives }, (): FakeHiveSpec => ({})) : hives;
  const fleet = new FakeHiveFleet();
  try {
    for (const spec of specs) await fleet.add(spec);
  } catch (error: unknown) {
    await fleet.close();
    throw error;
  }
  return fleet;
}

function toGpuSpec(gpu: FakeGpu): GpuSpec {
  return {
    name: gpu.name ?? DEFAULT_GPU_NAME,
    vramBytes: gpu.vramBytes ?? Math.round((gpu.vramGb ?? DEFAULT_GPU_VRAM_GB) * GIB),
  };
}
