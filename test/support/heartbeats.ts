/** Helpers shared by the heartbeat suites: register hives, read back both views of the fleet. */
import { TestQueen } from './queen';

export interface TestHive {
  id: string;
  token: string;
}

export type Body = Record<string, unknown>;

/** Registers a hive on a closed port of loopback, so nothing the queen might call back reaches anything. */
export async function registerHive(queen: TestQueen, id: string, labels?: Record<string, string>): Promise<TestHive> {
  const res = await queen.http().post('/v1/hives').send({ id, host: '127.0.0.1', port: 1, ...(labels && { labels }) });
  expect(res.status).toBe(201);
  return { id, token: res.body.heartbeat_token as string };
}

/** The queen clock's time (plus an offset), as a hive would write its timestamp. */
export function iso(queen: TestQueen, offsetMs = 0): string {
  return new Date(queen.clock.now() + offsetMs).toISOString();
}

export async function liveState(queen: TestQueen, id: string): Promise<Body> {
  const res = await queen.http().get(`/v1/hives/${id}/state`);
  expect(res.status).toBe(200);
  return res.body as Body;
}

export async function catalogHive(queen: TestQueen, id: string): Promise<Body> {
  const res = await queen.http().get(`/v1/hives/${id}`);
  expect(res.status).toBe(200);
  return res.body as Body;
}

export async function activeHives(queen: TestQueen): Promise<string[]> {
  const res = await queen.http().get('/v1/hives/active');
  expect(res.status).toBe(200);
  return res.body as string[];
}

/** A time column as the driver returns it (Date, or SQLite's UTC text), as an ISO string. */
export function asIso(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  const text = String(value);
  return new Date(/(Z|[+-]\d\d:?\d\d)$/i.test(text) ? text : `${text.replace(' ', 'T')}Z`).toISOString();
}
