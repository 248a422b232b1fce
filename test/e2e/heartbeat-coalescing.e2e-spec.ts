/**
 * The heartbeat path sends no SQL; heartbeat times reach the catalog in one
 * coalesced transaction per flush, on SQLite and PostgreSQL; a failed flush
 * is retried and loses nothing. Flushes are driven explicitly (the background
 * timer is ten minutes away), time only moves through the ManualClock.
 */
import type { Response } from 'supertest';
import { HiveCatalog } from '../../src/catalog/hive-catalog.service';
import { SqlStatementCounter } from '../../src/catalog/database/sql-statement-counter';
import { CatalogWriteBehind } from '../../src/catalog/catalog-write-behind';
import { DatabaseKind } from '../support/databases';
import { asIso, beat, registerHive, TestHive } from '../support/heartbeats';
import { TestQueen } from '../support/queen';

const GiB = 2 ** 30;
const HIVES = 50;
/**
 * How far tests move the clock at a time. The liveness sweeper's own timer runs
 * in real time on the ManualClock, so the clock must stay well inside the
 * 15 s timeout over the whole file: a background sweep marking a hive offline
 * would write its status in the middle of a statement count.
 */
const STEP_MS = 100;
const ENV = { CATALOG_FLUSH_MS: '600000', HEARTBEAT_INTERVAL_MS: '5000', HEARTBEAT_TIMEOUT_MS: '15000', LIVENESS_SWEEP_MS: '1000' };

const CAPABILITIES = {
  cpu_cores: 16,
  ram_bytes: 64 * GiB,
  gpus: [{ index: 0, name: 'L4', vram_bytes: 24 * GiB, backend: 'cuda' }],
};

/** A heartbeat that must be applied: one busy worker, and the capabilities. */
async function beatWith(queen: TestQueen, hive: TestHive, sequence: number): Promise<Response> {
  const res = await beat(queen, hive, {
    sequence,
    capabilities: CAPABILITIES,
    workers: [{ worker_id: `${hive.id}-w`, state: 'Busy', backend: 'cuda', device_id: 0, vram_bytes: 8 * GiB, ram_bytes: GiB }],
  });
  expect(res.body.applied).toBe(true);
  return res;
}

/** Rounds of one heartbeat from every hive, the clock a second further each round. */
async function beatRounds(queen: TestQueen, hives: TestHive[], rounds: number, firstSequence: number): Promise<number> {
  let sequence = firstSequence;
  for (let round = 0; round < rounds; round++, sequence++) {
    queen.clock.advance(STEP_MS);
    await Promise.all(hives.map((hive) => beatWith(queen, hive, sequence)));
  }
  return sequence;
}

/** Every hive's last_heartbeat_at as the database holds it (one statement). */
async function storedHeartbeatTimes(queen: TestQueen): Promise<Map<string, string | null>> {
  const rows = (await queen.dataSource.query('SELECT id, last_heartbeat_at FROM hives')) as { id: string; last_heartbeat_at: unknown }[];
  return new Map(rows.map((row) => [row.id, asIso(row.last_heartbeat_at)]));
}

/** The SQL one action sends, as the statement counter sees it. */
async function statementsOf(queen: TestQueen, action: () => Promise<unknown>): Promise<string[]> {
  const counter = queen.get(SqlStatementCounter);
  const before = counter.statements;
  const sent: string[] = [];
  // TypeORM hands its logger the query text; the counter only counts it.
  const logger = counter as unknown as { logQuery(query: string): void };
  const spy = jest.spyOn(logger, 'logQuery').mockImplementation((query) => {
    sent.push(String(query).trim());
    counter.statements++;
  });
  try {
    await action();
  } finally {
    spy.mockRestore();
  }
  expect(counter.statements - before).toBe(sent.length);
  return sent;
}

function expectOneTransaction(sql: string[]): void {
  expect(sql).toHaveLength(3);
  expect(sql[0]).toMatch(/^(BEGIN|START TRANSACTION)/i);
  expect(sql[1]).toMatch(/^UPDATE "?hives"? SET "?last_heartbeat_at"?/i);
  expect(sql[2]).toMatch(/^COMMIT/i);
}

const KINDS: DatabaseKind[] = ['sqlite', 'postgres'];

describe.each(KINDS)('coalesced heartbeat writes (%s)', (database) => {
  let queen: TestQueen;
  let writeBehind: CatalogWriteBehind;
  let hives: TestHive[];
  let sequence = 1;

  beforeAll(async () => {
    queen = await TestQueen.start({ database, env: ENV });
    writeBehind = queen.get(CatalogWriteBehind);
    hives = [];
    for (let i = 0; i < HIVES; i++) hives.push(await registerHive(queen, `coalesce-${String(i).padStart(2, '0')}`));
    // Online and with capabilities: the prompt status and capability writes happen here, once.
    sequence = await beatRounds(queen, hives, 1, sequence);
    await writeBehind.flush();
  });

  afterAll(async () => {
    await queen?.destroy();
  });

  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('sends no SQL for 200 heartbeats of 50 hives, then writes them in one transaction', async () => {
    const before = queen.sqlStatements;
    sequence = await beatRounds(queen, hives, 4, sequence);
    expect(queen.sqlStatements).toBe(before);
    expect(writeBehind.pendingHeartbeats).toBe(HIVES);

    expectOneTransaction(await statementsOf(queen, () => writeBehind.flush()));
    expect(writeBehind.pendingHeartbeats).toBe(0);
    const latest = new Date(queen.clock.now()).toISOString();
    const stored = await storedHeartbeatTimes(queen);
    for (const hive of hives) expect([hive.id, stored.get(hive.id)]).toEqual([hive.id, latest]);
    const listed = await queen.http().get('/v1/hives?limit=100');
    expect(listed.body.items.map((item: { last_heartbeat_at: string }) => item.last_heartbeat_at)).toEqual(hives.map(() => latest));

    // Nothing pending: a flush sends nothing.
    expect(await statementsOf(queen, () => writeBehind.flush())).toEqual([]);
  });

  it('flushes 300 more heartbeats in the same three statements', async () => {
    const before = queen.sqlStatements;
    sequence = await beatRounds(queen, hives, 6, sequence);
    expect(queen.sqlStatements).toBe(before);
    expectOneTransaction(await statementsOf(queen, () => writeBehind.flush()));
  });

  it('lets concurrent flushes share one transaction', async () => {
    sequence = await beatRounds(queen, hives, 1, sequence);
    expectOneTransaction(await statementsOf(queen, () => Promise.all([writeBehind.flush(), writeBehind.flush(), writeBehind.flush()])));
  });

  it('retries a failed flush and loses nothing, while heartbeats keep being answered', async () => {
    const [early, late] = hives;
    const previous = await storedHeartbeatTimes(queen);

    queen.clock.advance(STEP_MS);
    const earlyAt = new Date(queen.clock.now()).toISOString();
    await beatWith(queen, early, sequence);
    await beatWith(queen, late, sequence);
    sequence++;

    const recordHeartbeats = jest
      .spyOn(queen.get(HiveCatalog), 'recordHeartbeats')
      .mockRejectedValueOnce(new Error('database is locked'));
    await expect(writeBehind.flush()).resolves.toBeUndefined();
    expect(recordHeartbeats).toHaveBeenCalledTimes(1);
    let stored = await storedHeartbeatTimes(queen);
    expect([stored.get(early.id), stored.get(late.id)]).toEqual([previous.get(early.id), previous.get(late.id)]);
    expect(writeBehind.pendingHeartbeats).toBe(2);

    // The queen keeps answering; a newer beat replaces the one that failed.
    queen.clock.advance(STEP_MS);
    const lateAt = new Date(queen.clock.now()).toISOString();
    const ack = await beatWith(queen, late, sequence++);
    expect(ack.body).toMatchObject({ acknowledged: true, applied: true });
    expect((await queen.http().get(`/v1/hives/${late.id}/state`)).body).toMatchObject({ online: true, last_heartbeat_at: lateAt });

    expectOneTransaction(await statementsOf(queen, () => writeBehind.flush()));
    expect(recordHeartbeats).toHaveBeenCalledTimes(2);
    expect([...recordHeartbeats.mock.calls[1][0]].sort()).toEqual(
      [
        [early.id, new Date(earlyAt)],
        [late.id, new Date(lateAt)],
      ].sort(),
    );
    stored = await storedHeartbeatTimes(queen);
    expect([stored.get(early.id), stored.get(late.id)]).toEqual([earlyAt, lateAt]);
    expect(writeBehind.pendingHeartbeats).toBe(0);
    expect((await queen.http().get(`/v1/hives/${early.id}`)).body.last_heartbeat_at).toBe(earlyAt);
  });
});
