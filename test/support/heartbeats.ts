/** Helpers shared by the e2e suites: register hives, send their heartbeats, read back the views of the fleet. */
import type { Response } from 'supertest';
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

/** `POST /v1/heartbeat` as a hive sends it: the body as given, the token (if any) as a bearer token. */
export function sendHeartbeat(queen: TestQueen, token: string | null, body: Body | string) {
  const req = queen.http().post('/v1/heartbeat');
  if (token !== null) req.set('Authorization', `Bearer ${token}`);
  if (typeof body === 'string') req.set('Content-Type', 'application/json');
  return req.send(body);
}

/**
 * A heartbeat that must be acknowledged (200): `hive_id`, a `timestamp` of the
 * queen's clock and no workers, unless `body` says otherwise.
 */
export async function beat(queen: TestQueen, hive: TestHive, body: Body = {}): Promise<Response> {
  const res = await sendHeartbeat(queen, hive.token, { hive_id: hive.id, timestamp: iso(queen), workers: [], ...body });
  if (res.status !== 200) throw new Error(`heartbeat of ${hive.id}: expected 200, got ${res.status} ${res.text}`);
  return res;
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
