import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestExpressApplication } from '@nestjs/platform-express';
import request from 'supertest';
import TestAgent from 'supertest/lib/agent';
import { DataSource } from 'typeorm';
import { createQueenApp } from '../../src/app.setup';
import { ManualClock } from '../../src/platform/clock/clock';
import { loadConfig, QueenConfig } from '../../src/platform/config/queen-config';
import { SqlStatementCounter } from '../../src/catalog/database/sql-statement-counter';
import { checkResponsesOf } from './contract';
import { createScratchDatabase, DatabaseKind, ScratchDatabase } from './databases';

export interface TestQueenOptions {
  /** Which database to create; ignored when `databaseUrl` reuses one. */
  database?: DatabaseKind;
  /** Reuse an existing database (a restart test). */
  databaseUrl?: string;
  /** Reuse a data dir (so the same secret key is found again). */
  dataDir?: string;
  env?: Record<string, string>;
  clock?: ManualClock;
}

/** A queen built exactly as production builds it, on a scratch database, listening on loopback. */
export class TestQueen {
  private constructor(
    readonly app: NestExpressApplication,
    readonly config: QueenConfig,
    readonly clock: ManualClock,
    readonly databaseUrl: string,
    private readonly ownedDatabase: ScratchDatabase | null,
    private readonly ownedDataDir: string | null,
  ) {}

  static async start(options: TestQueenOptions = {}): Promise<TestQueen> {
    const scratch = options.databaseUrl ? null : await createScratchDatabase(options.database ?? 'sqlite');
    const databaseUrl = options.databaseUrl ?? scratch!.url;
    const ownedDataDir = options.dataDir ? null : mkdtempSync(join(tmpdir(), 'queen-data-'));
    const config = loadConfig({
      DATABASE_URL: databaseUrl,
      QUEEN_DATA_DIR: options.dataDir ?? ownedDataDir!,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      // Load shedding judges the event loop of the whole process: here that is Jest's, whose pauses are
      // no sign of the queen's load. The overload suite turns it on.
      OVERLOAD_LAG_MS: '0',
      ...options.env,
    });
    const clock = options.clock ?? new ManualClock(Date.parse('2026-11-27T10:00:00.000Z'));
    const app = await createQueenApp({ config, clock });
    checkResponsesOf(app.getHttpServer());
    await app.listen(0, '127.0.0.1');
    return new TestQueen(app, config, clock, databaseUrl, scratch, ownedDataDir);
  }

  /** A supertest client for this queen. */
  http(): TestAgent {
    return request(this.app.getHttpServer());
  }

  get<T>(token: abstract new (...args: never[]) => T): T {
    return this.app.get(token as never, { strict: false });
  }

  get dataSource(): DataSource {
    return this.app.get(DataSource);
  }

  get sqlStatements(): number {
    return this.app.get(SqlStatementCounter).statements;
  }

  private closed: Promise<void> | null = null;

  /** Closes the app (once, however often called); the database survives (see {@link destroy}). */
  close(): Promise<void> {
    this.closed ??= this.app.close();
    return this.closed;
  }

  /** Closes the app and drops what it created. */
  async destroy(): Promise<void> {
    await this.close();
    await this.ownedDatabase?.drop();
    if (this.ownedDataDir) rmSync(this.ownedDataDir, { recursive: true, force: true });
  }
}
