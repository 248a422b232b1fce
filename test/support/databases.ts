import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';

/** The PostgreSQL server the suites use; CI has one at this address. */
export const TEST_POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export type DatabaseKind = 'sqlite' | 'postgres';
export const DATABASE_KINDS: DatabaseKind[] = ['sqlite', 'postgres'];

/** A fresh, empty database and the DATABASE_URL that reaches it. */
export interface ScratchDatabase {
  url: string;
  /** For SQLite: the file; for PostgreSQL: the database name. */
  location: string;
  drop(): Promise<void>;
}

async function adminClient(): Promise<Client> {
  const client = new Client({ connectionString: TEST_POSTGRES_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `PostgreSQL tests need a server at ${TEST_POSTGRES_URL} (set TEST_POSTGRES_URL to change it): ${(error as Error).message}`,
    );
  }
  return client;
}

/** A new SQLite file in a new temporary directory, or a new PostgreSQL database on the test server. */
export async function createScratchDatabase(kind: DatabaseKind): Promise<ScratchDatabase> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'queen-test-'));
    const file = join(dir, 'queen.sqlite');
    return { url: `sqlite://${file}`, location: file, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const name = `queen_test_${randomBytes(6).toString('hex')}`;
  const client = await adminClient();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(TEST_POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    location: name,
    drop: async () => {
      const admin = await adminClient();
      try {
        await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await admin.end();
      }
    },
  };
}
