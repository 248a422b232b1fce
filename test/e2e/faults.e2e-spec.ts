/**
 * A database that is locked by another process or that goes away: admin
 * writes answer 503 with Retry-After within a bounded wait, never 500 and
 * never a hang; reads and heartbeats, which need no SQL, go on; and once the
 * database is back, so is everything else.
 */
import { createServer, Server, Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import sqlite3 from 'sqlite3';
import { CatalogWriteBehind } from '../../src/catalog/catalog-write-behind';
import { createScratchDatabase, ScratchDatabase, TEST_POSTGRES_URL } from '../support/databases';
import { beat, registerHive } from '../support/heartbeats';
import { expectProblem } from '../support/problem';
import { TestQueen } from '../support/queen';

/** The most a refused write may take: the catalog's wait for its turn plus SQLite's busy wait, with room for a slow machine. */
const BOUND_MS = 4000;

async function timed<T>(work: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now();
  const result = await work();
  return { result, ms: performance.now() - started };
}

describe('a locked SQLite database', () => {
  let queen: TestQueen;
  let lock: sqlite3.Database;

  beforeAll(async () => {
    queen = await TestQueen.start({ database: 'sqlite', env: { CATALOG_FLUSH_MS: '600000' } });
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => (lock ? lock.close(() => resolve()) : resolve()));
    await queen?.destroy();
  });

  it('answers writes 503 with Retry-After in a bounded wait, keeps serving heartbeats and reads, and recovers', async () => {
    const hive = await registerHive(queen, 'before-lock');
    const file = queen.databaseUrl.slice('sqlite://'.length);
    lock = new sqlite3.Database(file);
    await new Promise<void>((resolve, reject) => lock.exec('BEGIN EXCLUSIVE', (error) => (error ? reject(error) : resolve())));

    const { result: refused, ms } = await timed(() => queen.http().post('/v1/hives').send({ id: 'during-lock', host: '10.0.0.1', port: 1 }));
    expect(ms).toBeLessThan(BOUND_MS);
    expect(expectProblem(refused, 503).type).toBe('/problems/database-unavailable');
    expect(refused.headers['retry-after']).toBe('2');

    expect((await beat(queen, hive, { sequence: 1 })).body.applied).toBe(true);
    expect((await queen.http().get('/v1/hives/before-lock').expect(200)).body.status).toBe('online');
    expectProblem(await queen.http().get('/v1/hives/during-lock'), 404);

    await new Promise<void>((resolve, reject) => lock.exec('ROLLBACK', (error) => (error ? reject(error) : resolve())));
    await queen.http().post('/v1/hives').send({ id: 'after-lock', host: '10.0.0.1', port: 1 }).expect(201);
    await queen.get(CatalogWriteBehind).flush();
    expect(await queen.dataSource.query("SELECT id, status FROM hives WHERE id = 'before-lock'")).toEqual([{ id: 'before-lock', status: 'online' }]);
  });
});

/** A TCP relay to PostgreSQL that can be cut, as a network partition or a database restart would. */
class Relay {
  private readonly sockets = new Set<Socket>();
  private server: Server | null = null;
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async open(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = new Socket();
      upstream.connect(this.target.port, this.target.host);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => socket.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }
}

describe('PostgreSQL going away', () => {
  let database: ScratchDatabase;
  let relay: Relay;
  let queen: TestQueen;

  beforeAll(async () => {
    database = await createScratchDatabase('postgres');
    const target = new URL(TEST_POSTGRES_URL);
    relay = new Relay({ host: target.hostname, port: Number(target.port || 5432) });
    await relay.open();
    const url = new URL(database.url);
    url.host = `127.0.0.1:${relay.port}`;
    queen = await TestQueen.start({ databaseUrl: url.toString(), env: { CATALOG_FLUSH_MS: '600000' } });
  });
  afterAll(async () => {
    await relay?.cut();
    await queen?.close();
    await database?.drop();
  });

  it('answers writes 503 with Retry-After in a bounded wait, says so in /health/ready, and recovers', async () => {
    const hive = await registerHive(queen, 'before-cut');
    await relay.cut();

    const { result: refused, ms } = await timed(() => queen.http().post('/v1/hives').send({ id: 'during-cut', host: '10.0.0.1', port: 1 }));
    expect(ms).toBeLessThan(BOUND_MS);
    expect(expectProblem(refused, 503).type).toBe('/problems/database-unavailable');
    expect(refused.headers['retry-after']).toBe('2');
    expectProblem(await queen.http().get('/health/ready'), 503);
    expect((await beat(queen, hive, { sequence: 1 })).body.applied).toBe(true);

    await relay.open();
    await queen.http().post('/v1/hives').send({ id: 'after-cut', host: '10.0.0.1', port: 1 }).expect(201);
    await queen.http().get('/health/ready').expect(200);
  });
});
