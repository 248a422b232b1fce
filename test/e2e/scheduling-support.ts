/**
 * Shared set-up of the scheduling e2e suites: a real queen (HTTP, SQLite) and
 * fake hives on loopback that it spawns workers on. Tests send the hives'
 * heartbeats themselves, so nothing happens in the background unless asked.
 */
import request, { type Response } from 'supertest';
import { ManualClock } from '../../src/platform/clock/clock';
import { FakeHiveFleet, FakeHiveSpec, startFakeHives } from '../support/fake-hive';
import { sendHeartbeat } from '../support/heartbeats';
import type { DatabaseKind } from '../support/databases';
import { TestQueen } from '../support/queen';

export const GIB = 2 ** 30;

/** Hangs time out after 300 ms; heartbeat times are never flushed during a test. */
export const SCHEDULING_ENV: Readonly<Record<string, string>> = {
  HIVE_REQUEST_TIMEOUT_MS: '300',
  CATALOG_FLUSH_MS: '600000',
};

/** Asserts a 2xx answer (with the body in the failure message otherwise). */
export function expectStatus(res: Response, status: number): Response {
  if (res.status !== status) {
    throw new Error(`expected HTTP ${status}, got ${res.status}: ${res.text}`);
  }
  return res;
}

export interface WorldOptions {
  env?: Record<string, string>;
  /** Labels per hive id, sent with the registration. */
  labels?: Record<string, Record<string, string>>;
  /** Register every hive with the queen (default true). */
  register?: boolean;
  /** Send every registered hive's first heartbeat (default true). */
  beat?: boolean;
  clock?: ManualClock;
  /** The queen's database (default SQLite). */
  database?: DatabaseKind;
  /** The admin token this world's requests carry (the queen's QUEEN_API_TOKEN, when it has one). */
  admin?: string;
}

/** A queen, a fleet of fake hives registered with it, and the tokens they beat with. */
export class SchedulingWorld {
  readonly tokens = new Map<string, string>();
  /** Queens closed by {@link restartQueen}; the first owns the database. */
  private readonly retired: TestQueen[] = [];

  private constructor(
    public queen: TestQueen,
    readonly fleet: FakeHiveFleet,
    private readonly env: Record<string, string>,
    private readonly admin: string | undefined,
  ) {}

  static async start(hives: FakeHiveSpec[], options: WorldOptions = {}): Promise<SchedulingWorld> {
    const env = { ...SCHEDULING_ENV, ...options.env };
    const fleet = await startFakeHives(hives);
    let queen: TestQueen;
    try {
      queen = await TestQueen.start({ env, clock: options.clock, database: options.database });
    } catch (error) {
      await fleet.close();
      throw error;
    }
    const world = new SchedulingWorld(queen, fleet, env, options.admin);
    try {
      for (const hive of fleet.hives) {
        if (options.register === false) break;
        await world.register(hive.id, options.labels?.[hive.id]);
        if (options.beat !== false) await world.beat(hive.id);
      }
    } catch (error) {
      await world.close();
      throw error;
    }
    return world;
  }

  http() {
    return this.admin ? request.agent(this.queen.app.getHttpServer()).set('Authorization', `Bearer ${this.admin}`) : this.queen.http();
  }

  get clock(): ManualClock {
    return this.queen.clock;
  }

  async register(hiveId: string, labels?: Record<string, string>): Promise<void> {
    const res = await this.http()
      .post('/v1/hives')
      .send({ ...this.fleet.registration(hiveId), ...(labels ? { labels } : {}) });
    expectStatus(res, 201);
    this.tokens.set(hiveId, res.body.heartbeat_token as string);
  }

  /**
   * Sends the fake hive's next heartbeat (or `body`) with its token and feeds the
   * answer back, as its agent would. Returns the queen's answer.
   */
  async beat(hiveId: string, body: object = this.fleet.hive(hiveId).heartbeatBody()): Promise<HeartbeatAnswer> {
    const token = this.tokens.get(hiveId);
    if (!token) throw new Error(`hive ${hiveId} is not registered`);
    const res = expectStatus(await sendHeartbeat(this.queen, token, body as Record<string, unknown>), 200);
    this.fleet.hive(hiveId).recordHeartbeatAnswer(res.body as HeartbeatAnswer);
    return res.body as HeartbeatAnswer;
  }

  async state(hiveId: string): Promise<HiveState> {
    return expectStatus(await this.http().get(`/v1/hives/${hiveId}/state`), 200).body as HiveState;
  }

  /** The one GPU's usage (or device `index`) from `/state`. */
  async gpu(hiveId: string, device = 'cuda:0'): Promise<Capacity> {
    const state = await this.state(hiveId);
    const usage = state.devices.find((d) => d.device === device);
    if (!usage) throw new Error(`hive ${hiveId} has no device ${device}: ${JSON.stringify(state.devices)}`);
    return usage;
  }

  /** Reserved bytes over every device and host RAM of every hive of the fleet. */
  async totalReserved(): Promise<number> {
    let total = 0;
    for (const hive of this.fleet.hives) {
      if (!this.tokens.has(hive.id)) continue;
      const state = await this.state(hive.id);
      total += state.ram.reserved_bytes + state.devices.reduce((sum, d) => sum + d.reserved_bytes, 0);
    }
    return total;
  }

  async workers(query = ''): Promise<WorkerItem[]> {
    const res = expectStatus(await this.http().get(`/v1/workers${query}`), 200);
    expect(res.body.total).toBe(res.body.items.length);
    return res.body.items as WorkerItem[];
  }

  /** Closes this queen and starts another on the same database and data dir. */
  async restartQueen(): Promise<void> {
    const previous = this.queen;
    await previous.close();
    this.retired.push(previous);
    this.queen = await TestQueen.start({
      databaseUrl: previous.databaseUrl,
      dataDir: previous.config.dataDir,
      env: this.env,
      clock: new ManualClock(previous.clock.now()),
    });
  }

  async close(): Promise<void> {
    await this.fleet.close();
    if (this.retired.length === 0) {
      await this.queen.destroy();
      return;
    }
    // The first queen owns the scratch database and data dir; closing it again is a no-op.
    await this.queen.close();
    await this.retired[0].destroy();
  }
}

export interface HeartbeatAnswer {
  acknowledged: boolean;
  applied: boolean;
  next_heartbeat_ms: number;
  capabilities_required: boolean;
}

export interface Capacity {
  total_bytes: number;
  used_bytes: number;
  reserved_bytes: number;
  free_bytes: number;
}

export interface HiveState {
  hive_id: string;
  online: boolean;
  last_heartbeat_at: string | null;
  workers: WorkerItem[];
  devices: (Capacity & { device: string })[];
  ram: Capacity;
}

export interface WorkerItem {
  worker_id: string;
  hive_id: string;
  model_id: string | null;
  state: string;
  backend: string;
  device_id: number | null;
  device: string;
  vram_bytes: number;
  ram_bytes: number;
  reservation_id?: string | null;
}
