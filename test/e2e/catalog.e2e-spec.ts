import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Response } from 'supertest';
import { CatalogWriteBehind } from '../../src/catalog/catalog-write-behind';
import { HiveCatalog } from '../../src/catalog/hive-catalog.service';
import { LivenessSweeper } from '../../src/heartbeat/liveness-sweeper';
import { ManualClock } from '../../src/platform/clock/clock';
import { SecretBox } from '../../src/platform/security/secret-box';
import { hashToken } from '../../src/platform/security/tokens';
import { createScratchDatabase, DATABASE_KINDS, DatabaseKind } from '../support/databases';
import { beat, iso } from '../support/heartbeats';
import { expectProblem } from '../support/problem';
import { TestQueen } from '../support/queen';

const STARTED_AT = '2026-11-27T10:00:00.000Z';
const ADMIN_TOKEN = 'a-long-admin-token-123';

/** A private key whose body would be recognisable anywhere it leaked. */
const PRIVATE_KEY_BODY = 'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZWQyNTUxOQ';
const PRIVATE_KEY = `-----BEGIN OPENSSH PRIVATE KEY-----\n${PRIVATE_KEY_BODY}\n-----END OPENSSH PRIVATE KEY-----\n`;
const OTHER_PRIVATE_KEY_BODY = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKjMzEfYyjiWA4R4';
const OTHER_PRIVATE_KEY = `-----BEGIN PRIVATE KEY-----\n${OTHER_PRIVATE_KEY_BODY}\n-----END PRIVATE KEY-----\n`;
const PASSWORD = 'hunter2-correct-horse-battery';

interface HiveRow {
  id: string;
  ssh_user: string | null;
  ssh_port: number | null;
  ssh_secret: string | null;
  token_hash: string;
  [column: string]: unknown;
}

/** A fresh, valid create body; `overrides` replace (or, as undefined, drop) its fields. */
function hiveBody(id: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const body: Record<string, unknown> = {
    id,
    host: '10.0.0.5',
    port: 7835,
    ssh: { user: 'rbee', port: 22, private_key: PRIVATE_KEY },
    labels: { zone: 'a', gpu: 'rtx-4090' },
    ...overrides,
  };
  for (const key of Object.keys(body)) if (body[key] === undefined) delete body[key];
  return body;
}

/** Checks that no response body leaks an SSH secret or, when given, a token. */
function expectNoSecrets(res: Response, ...alsoForbidden: string[]): void {
  const text = res.text ?? '';
  for (const secret of [PRIVATE_KEY_BODY, OTHER_PRIVATE_KEY_BODY, PASSWORD, 'PRIVATE KEY', ...alsoForbidden]) {
    expect(text).not.toContain(secret);
  }
}

describe.each(DATABASE_KINDS)('hive catalog on %s', (database: DatabaseKind) => {
  let queen: TestQueen;
  let serial = 0;
  /** A hive id no other test uses. */
  const freshId = (prefix = 'hive') => `${prefix}-${database}-${++serial}`;

  const sql = (text: string) => (database === 'postgres' ? text : text.replace(/\$\d+/g, '?'));
  const readRow = async (id: string): Promise<HiveRow | undefined> =>
    (await queen.dataSource.query(sql('SELECT * FROM hives WHERE id = $1'), [id]))[0];
  const countRows = async (): Promise<number> =>
    Number((await queen.dataSource.query('SELECT COUNT(*) AS n FROM hives'))[0].n);

  const create = async (id: string, overrides: Record<string, unknown> = {}) => {
    const res = await queen.http().post('/v1/hives').send(hiveBody(id, overrides));
    if (res.status !== 201) throw new Error(`creating ${id}: ${res.status} ${res.text}`);
    return res;
  };

  beforeAll(async () => {
    queen = await TestQueen.start({ database });
  });
  afterAll(async () => {
    await queen?.destroy();
  });

  describe('CRUD', () => {
    it('creates, reads, lists, patches and deletes a hive', async () => {
      const id = freshId('crud');
      const created = await queen.http().post('/v1/hives').send(hiveBody(id)).expect(201);
      expect(created.headers['content-type']).toMatch(/^application\/json/);
      const hive = {
        id,
        host: '10.0.0.5',
        port: 7835,
        ssh: { user: 'rbee', port: 22, credentials_set: true },
        labels: { zone: 'a', gpu: 'rtx-4090' },
        cordoned: false,
        status: 'unknown',
        last_heartbeat_at: null,
        capabilities: null,
        created_at: STARTED_AT,
        updated_at: STARTED_AT,
      };
      expect(created.body).toEqual({ ...hive, heartbeat_token: expect.stringMatching(/^qh_[A-Za-z0-9_-]{43}$/) });

      const got = await queen.http().get(`/v1/hives/${id}`).expect(200);
      expect(got.body).toEqual(hive);

      const listed = await queen.http().get('/v1/hives?limit=500').expect(200);
      expect(listed.body.items).toContainEqual(hive);
      expect(listed.body.total).toBe(listed.body.items.length);

      queen.clock.advance(60_000);
      const patched = await queen
        .http()
        .patch(`/v1/hives/${id}`)
        .send({ host: 'gpu-node-01.lan', port: 9000, labels: { zone: 'b' }, cordoned: true })
        .expect(200);
      const changed = {
        ...hive,
        host: 'gpu-node-01.lan',
        port: 9000,
        labels: { zone: 'b' },
        cordoned: true,
        updated_at: '2026-11-27T10:01:00.000Z',
      };
      expect(patched.body).toEqual(changed);
      expect((await queen.http().get(`/v1/hives/${id}`).expect(200)).body).toEqual(changed);

      // A patch changes only the fields it names.
      queen.clock.advance(1000);
      const portOnly = await queen.http().patch(`/v1/hives/${id}`).send({ port: 9001 }).expect(200);
      expect(portOnly.body).toEqual({ ...changed, port: 9001, updated_at: '2026-11-27T10:01:01.000Z' });

      const deleted = await queen.http().delete(`/v1/hives/${id}`).expect(204);
      expect(deleted.text).toBe('');
      expectProblem(await queen.http().get(`/v1/hives/${id}`), 404);
      expect(await readRow(id)).toBeUndefined();
      expect(queen.get(HiveCatalog).verifyToken(id, created.body.heartbeat_token)).toBe('unknown_hive');
      const after = await queen.http().get('/v1/hives?limit=500').expect(200);
      expect(after.body.items.map((item: { id: string }) => item.id)).not.toContain(id);
    });

    it('creates a hive from the required fields alone', async () => {
      const id = freshId('bare');
      const res = await queen.http().post('/v1/hives').send({ id, host: '192.168.1.7', port: 1 }).expect(201);
      expect(res.body).toMatchObject({ id, host: '192.168.1.7', port: 1, ssh: null, labels: {}, cordoned: false });
    });

    it('accepts host names and IPv6 addresses, and the edges of every range', async () => {
      for (const [host, port] of [
        ['gpu-node-01', 1],
        ['gpu-node-01.cluster.example.com', 65535],
        ['::1', 7835],
        ['fe80::1', 7835],
      ] as const) {
        const id = freshId('edge');
        await queen.http().post('/v1/hives').send({ id, host, port, ssh: { user: '_svc.user-1', port: 65535 } }).expect(201);
      }
      await create('9'.repeat(63), { ssh: undefined });
      await create(freshId('x').replace('x', '0._-'), { ssh: undefined });
    });

    it('can reuse the id of a deleted hive', async () => {
      const id = freshId('reuse');
      const first = await create(id);
      await queen.http().delete(`/v1/hives/${id}`).expect(204);
      const second = await create(id, { host: '10.9.9.9' });
      expect(second.body.host).toBe('10.9.9.9');
      expect(queen.get(HiveCatalog).verifyToken(id, first.body.heartbeat_token)).not.toBe('ok');
      expect(queen.get(HiveCatalog).verifyToken(id, second.body.heartbeat_token)).toBe('ok');
    });

    it('refuses a duplicate id with 409 and keeps the first hive as it was', async () => {
      const id = freshId('dup');
      const first = await create(id);
      const before = await readRow(id);
      const count = await countRows();
      const res = await queen.http().post('/v1/hives').send(hiveBody(id, { host: '10.1.1.1', ssh: { user: 'x', password: PASSWORD } }));
      expectProblem(res, 409);
      expect(res.body.detail).toContain(id);
      expectNoSecrets(res);
      expect(await readRow(id)).toEqual(before);
      expect(await countRows()).toBe(count);
      expect((await queen.http().get(`/v1/hives/${id}`).expect(200)).body.host).toBe('10.0.0.5');
      expect(queen.get(HiveCatalog).verifyToken(id, first.body.heartbeat_token)).toBe('ok');
    });

    it.each([
      ['GET', ''],
      ['PATCH', ''],
      ['DELETE', ''],
      ['POST', '/token'],
    ])('answers %s on a missing hive with a 404 problem', async (method, suffix) => {
      const id = freshId('missing');
      const path = `/v1/hives/${id}${suffix}`;
      const agent = queen.http();
      const req =
        method === 'GET' ? agent.get(path) : method === 'PATCH' ? agent.patch(path).send({ port: 1 }) : method === 'DELETE' ? agent.delete(path) : agent.post(path);
      const res = await req;
      expectProblem(res, 404);
      expect(res.body).toEqual({ type: '/problems/not-found', title: 'Not Found', status: 404, detail: `hive "${id}" does not exist` });
      expect(await readRow(id)).toBeUndefined();
    });
  });

  describe('heartbeat token rotation', () => {
    it('returns a new token once and stops accepting the old one', async () => {
      const id = freshId('rotate');
      const other = freshId('rotate-other');
      const catalog = queen.get(HiveCatalog);
      const first: string = (await create(id)).body.heartbeat_token;
      const otherToken: string = (await create(other)).body.heartbeat_token;
      expect(catalog.verifyToken(id, first)).toBe('ok');

      const res = await queen.http().post(`/v1/hives/${id}/token`).expect(200);
      expect(Object.keys(res.body)).toEqual(['heartbeat_token']);
      const second: string = res.body.heartbeat_token;
      expect(second).toMatch(/^qh_[A-Za-z0-9_-]{43}$/);
      expect(second).not.toBe(first);

      expect(catalog.verifyToken(id, second)).toBe('ok');
      expect(catalog.verifyToken(id, first)).not.toBe('ok');
      expect(catalog.verifyToken(other, otherToken)).toBe('ok');
      expect(catalog.verifyToken(other, second)).toBe('token_of_another_hive');
      expect(catalog.verifyToken(id, null)).toBe('missing_token');

      // Stored: the new token's hash, nothing of either token itself.
      const row = (await readRow(id))!;
      expect(row.token_hash).toBe(hashToken(second));
      expect(row.token_hash).not.toBe(hashToken(first));
      expect(JSON.stringify(row)).not.toContain(second.slice(3));
      expect(JSON.stringify(row)).not.toContain(first.slice(3));

      // Shown once: no other route returns it.
      for (const read of [queen.http().get(`/v1/hives/${id}`), queen.http().get('/v1/hives?limit=500'), queen.http().patch(`/v1/hives/${id}`).send({ port: 7836 })]) {
        const body = await read.expect(200);
        expectNoSecrets(body, second.slice(3), first.slice(3));
        expect(body.text).not.toContain('heartbeat_token');
      }

      const third: string = (await queen.http().post(`/v1/hives/${id}/token`).expect(200)).body.heartbeat_token;
      expect(catalog.verifyToken(id, third)).toBe('ok');
      expect(catalog.verifyToken(id, second)).not.toBe('ok');
      expect(catalog.verifyToken(id, first)).not.toBe('ok');
    });
  });

  describe('SSH secrets', () => {
    const box = () => queen.get(SecretBox);
    const openSecret = (row: HiveRow) => JSON.parse(box().open(row.ssh_secret!, row.id)) as { kind: string; value: string };

    it('stores a private key encrypted, bound to the hive, and never returns it', async () => {
      const id = freshId('key');
      const created = await create(id);
      expectNoSecrets(created);
      expect(created.body.ssh).toEqual({ user: 'rbee', port: 22, credentials_set: true });

      const row = (await readRow(id))!;
      expect(row.ssh_secret).toEqual(expect.any(String));
      expect(row.ssh_secret).not.toContain(PRIVATE_KEY_BODY);
      expect(row.ssh_secret).not.toContain('PRIVATE KEY');
      expect(JSON.stringify(row)).not.toContain(PRIVATE_KEY_BODY);
      expect(openSecret(row)).toEqual({ kind: 'private_key', value: PRIVATE_KEY });
      expect(() => box().open(row.ssh_secret!, freshId('elsewhere'))).toThrow();
      expect(row).toMatchObject({ ssh_user: 'rbee', ssh_port: 22 });

      // The token column holds a hash of the token, not the token.
      expect(row.token_hash).toBe(hashToken(created.body.heartbeat_token));
      expect(JSON.stringify(row)).not.toContain(created.body.heartbeat_token.slice(3));

      for (const res of [
        await queen.http().get(`/v1/hives/${id}`).expect(200),
        await queen.http().get('/v1/hives?limit=500').expect(200),
        await queen.http().patch(`/v1/hives/${id}`).send({ labels: { zone: 'c' } }).expect(200),
      ]) {
        expectNoSecrets(res);
        const hive = 'items' in res.body ? res.body.items.find((item: { id: string }) => item.id === id) : res.body;
        expect(hive.ssh).toEqual({ user: 'rbee', port: 22, credentials_set: true });
      }
    });

    it('stores a password encrypted and never returns it', async () => {
      const id = freshId('password');
      const created = await create(id, { ssh: { user: 'ops', password: PASSWORD } });
      expectNoSecrets(created);
      expect(created.body.ssh).toEqual({ user: 'ops', port: 22, credentials_set: true });
      const row = (await readRow(id))!;
      expect(row.ssh_secret).not.toContain(PASSWORD);
      expect(openSecret(row)).toEqual({ kind: 'password', value: PASSWORD });
      expectNoSecrets(await queen.http().get(`/v1/hives/${id}`).expect(200));
    });

    it('keeps the stored secret when a patch changes only the SSH user or port', async () => {
      const id = freshId('ssh-merge');
      await create(id);
      const sealed = (await readRow(id))!.ssh_secret;
      const res = await queen.http().patch(`/v1/hives/${id}`).send({ ssh: { port: 2222 } }).expect(200);
      expect(res.body.ssh).toEqual({ user: 'rbee', port: 2222, credentials_set: true });
      await queen.http().patch(`/v1/hives/${id}`).send({ ssh: { user: 'admin' } }).expect(200);
      const row = (await readRow(id))!;
      expect(row.ssh_secret).toBe(sealed);
      expect(row).toMatchObject({ ssh_user: 'admin', ssh_port: 2222 });
    });

    it('replaces a key with a password, and a password with another key', async () => {
      const id = freshId('ssh-replace');
      await create(id);
      const toPassword = await queen.http().patch(`/v1/hives/${id}`).send({ ssh: { password: PASSWORD } }).expect(200);
      expectNoSecrets(toPassword);
      expect(openSecret((await readRow(id))!)).toEqual({ kind: 'password', value: PASSWORD });
      const toKey = await queen.http().patch(`/v1/hives/${id}`).send({ ssh: { private_key: OTHER_PRIVATE_KEY } }).expect(200);
      expectNoSecrets(toKey);
      expect(toKey.body.ssh).toEqual({ user: 'rbee', port: 22, credentials_set: true });
      const row = (await readRow(id))!;
      expect(row.ssh_secret).not.toContain(OTHER_PRIVATE_KEY_BODY);
      expect(openSecret(row)).toEqual({ kind: 'private_key', value: OTHER_PRIVATE_KEY });
    });

    it('removes the SSH settings and their secret on ssh: null', async () => {
      const id = freshId('ssh-null');
      await create(id);
      const res = await queen.http().patch(`/v1/hives/${id}`).send({ ssh: null }).expect(200);
      expect(res.body.ssh).toBeNull();
      expect((await queen.http().get(`/v1/hives/${id}`).expect(200)).body.ssh).toBeNull();
      expect(await readRow(id)).toMatchObject({ ssh_user: null, ssh_port: null, ssh_secret: null });
      // Settings without a secret say so.
      const again = await queen.http().patch(`/v1/hives/${id}`).send({ ssh: { user: 'rbee' } }).expect(200);
      expect(again.body.ssh).toEqual({ user: 'rbee', port: 22, credentials_set: false });
      expect((await readRow(id))!.ssh_secret).toBeNull();
    });

    it('does not echo secrets in validation errors', async () => {
      const id = freshId('ssh-echo');
      const res = await queen
        .http()
        .post('/v1/hives')
        .send(hiveBody(id, { port: 0, ssh: { user: 'rbee', private_key: PRIVATE_KEY, password: PASSWORD } }));
      expectProblem(res, 400, ['port', 'ssh.private_key']);
      expectNoSecrets(res);
    });
  });

  describe('refuses invalid create bodies and stores nothing', () => {
    const ssh = (fields: Record<string, unknown>) => ({ ssh: { user: 'rbee', ...fields } });
    it.each<[string, Record<string, unknown>, string]>([
      ['id missing', { id: undefined }, 'id'],
      ['id not a string', { id: 42 }, 'id'],
      ['id null', { id: null }, 'id'],
      ['id empty', { id: '' }, 'id'],
      ['id with uppercase', { id: 'GPU-node-01' }, 'id'],
      ['id with a leading dash', { id: '-gpu-node-01' }, 'id'],
      ['id with a leading dot', { id: '.gpu' }, 'id'],
      ['id of 64 characters', { id: 'a'.repeat(64) }, 'id'],
      ['id with a slash', { id: 'gpu/01' }, 'id'],
      ['id with a space', { id: 'gpu 01' }, 'id'],
      ['id "active" (a route)', { id: 'active' }, 'id'],
      ['host missing', { host: undefined }, 'host'],
      ['host not a string', { host: 10 }, 'host'],
      ['host empty', { host: '' }, 'host'],
      ['host with spaces', { host: 'not a host' }, 'host'],
      ['host a URL', { host: 'http://10.0.0.5:7835' }, 'host'],
      ['host with a port', { host: '10.0.0.5:7835' }, 'host'],
      ['host an impossible IPv4', { host: '999.1.1.1' }, 'host'],
      ['host with a bad label', { host: '-bad-.example.com' }, 'host'],
      ['host longer than 253', { host: `${'a'.repeat(60)}.`.repeat(5).slice(0, 254) }, 'host'],
      ['port missing', { port: undefined }, 'port'],
      ['port 0', { port: 0 }, 'port'],
      ['port 65536', { port: 65536 }, 'port'],
      ['port -1', { port: -1 }, 'port'],
      ['port as a string', { port: '7835' }, 'port'],
      ['port 1.5', { port: 1.5 }, 'port'],
      ['port null', { port: null }, 'port'],
      ['port true', { port: true }, 'port'],
      ['ssh not an object', { ssh: 'rbee@10.0.0.5' }, 'ssh'],
      ['ssh an array', { ssh: [{ user: 'rbee' }] }, 'ssh'],
      ['ssh an empty array', { ssh: [] }, 'ssh'],
      ['ssh null', { ssh: null }, 'ssh'],
      ['ssh.user missing', { ssh: { port: 22 } }, 'ssh.user'],
      ['ssh.user starting with a digit', ssh({ user: '1root' }), 'ssh.user'],
      ['ssh.user with a space', ssh({ user: 'r bee' }), 'ssh.user'],
      ['ssh.user not a string', ssh({ user: 7 }), 'ssh.user'],
      ['ssh.user of 65 characters', ssh({ user: 'a'.repeat(65) }), 'ssh.user'],
      ['ssh.port 0', ssh({ port: 0 }), 'ssh.port'],
      ['ssh.port 65536', ssh({ port: 65536 }), 'ssh.port'],
      ['ssh.port as a string', ssh({ port: '22' }), 'ssh.port'],
      ['ssh.port 1.5', ssh({ port: 1.5 }), 'ssh.port'],
      ['ssh.port null', ssh({ port: null }), 'ssh.port'],
      ['ssh.private_key not PEM', ssh({ private_key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI' }), 'ssh.private_key'],
      ['ssh.private_key a public key', ssh({ private_key: '-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----' }), 'ssh.private_key'],
      ['ssh.private_key not a string', ssh({ private_key: { pem: PRIVATE_KEY } }), 'ssh.private_key'],
      ['ssh.private_key null', ssh({ private_key: null }), 'ssh.private_key'],
      ['ssh.private_key over 16 KiB', ssh({ private_key: `${PRIVATE_KEY}${'A'.repeat(16384)}` }), 'ssh.private_key'],
      ['ssh.private_key and ssh.password both', ssh({ private_key: PRIVATE_KEY, password: PASSWORD }), 'ssh.private_key'],
      ['ssh.password empty', ssh({ password: '' }), 'ssh.password'],
      ['ssh.password not a string', ssh({ password: 1234 }), 'ssh.password'],
      ['ssh.password null', ssh({ password: null }), 'ssh.password'],
      ['an unknown ssh field', ssh({ identity_file: '~/.ssh/id_ed25519' }), 'ssh.identity_file'],
      ['labels an array', { labels: ['zone=a'] }, 'labels'],
      ['labels a string', { labels: 'zone=a' }, 'labels'],
      ['labels null', { labels: null }, 'labels'],
      ['a label key with a space', { labels: { 'my zone': 'a' } }, 'labels'],
      ['a label key starting with a dash', { labels: { '-zone': 'a' } }, 'labels'],
      ['an empty label key', { labels: { '': 'a' } }, 'labels'],
      ['a label key of 64 characters', { labels: { ['k'.repeat(64)]: 'a' } }, 'labels'],
      ['a number as a label value', { labels: { zone: 1 } }, 'labels'],
      ['an object as a label value', { labels: { zone: { name: 'a' } } }, 'labels'],
      ['null as a label value', { labels: { zone: null } }, 'labels'],
      ['a label value of 257 characters', { labels: { zone: 'a'.repeat(257) } }, 'labels'],
      ['a label value with a newline', { labels: { zone: 'a\nb' } }, 'labels'],
      ['65 labels', { labels: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])) }, 'labels'],
      ['an unknown field', { zone: 'a' }, 'zone'],
      ['cordoned (not settable at creation)', { cordoned: true }, 'cordoned'],
      ['a status', { status: 'online' }, 'status'],
      ['a heartbeat token', { heartbeat_token: 'qh_chosen-by-the-client' }, 'heartbeat_token'],
    ])('%s', async (_name, overrides, field) => {
      const id = typeof overrides.id === 'string' ? overrides.id : freshId('bad');
      const count = await countRows();
      const res = await queen.http().post('/v1/hives').send(hiveBody(id, { id, ...overrides }));
      expectProblem(res, 400, [field]);
      expect(res.body.type).toBe('/problems/validation');
      expect(res.body.detail).toContain(field);
      expectNoSecrets(res);
      expect(await countRows()).toBe(count);
      expect(queen.get(HiveCatalog).findById(id)).toBeUndefined();
      // (GET /v1/hives/active is the list of live hives, not a hive.)
      if (/^[a-z0-9][a-z0-9._-]*$/.test(id) && id !== 'active') expectProblem(await queen.http().get(`/v1/hives/${id}`), 404);
    });

    it('names every bad field of one body', async () => {
      const res = await queen
        .http()
        .post('/v1/hives')
        .send({ id: 'BAD', host: '', port: '1', ssh: { user: '1', port: 0, extra: 1 }, labels: [], mystery: true });
      expectProblem(res, 400, ['id', 'host', 'port', 'ssh.user', 'ssh.port', 'ssh.extra', 'labels', 'mystery']);
    });

    it('reports a value of the wrong type as a type error, not a range error', async () => {
      const res = await queen.http().post('/v1/hives').send(hiveBody(freshId('type'), { port: '7835' }));
      expectProblem(res, 400, ['port']);
      expect(res.body.errors).toEqual([{ field: 'port', message: 'port must be an integer number' }]);
    });
  });

  describe('refuses invalid patch bodies and changes nothing', () => {
    let id: string;
    let stored: HiveRow;
    let shown: unknown;
    beforeAll(async () => {
      id = freshId('patch-target');
      await create(id);
      await queen.http().patch(`/v1/hives/${id}`).send({ cordoned: true }).expect(200);
      stored = (await readRow(id))!;
      shown = (await queen.http().get(`/v1/hives/${id}`).expect(200)).body;
    });

    it.each<[string, Record<string, unknown>, string]>([
      ['host not a string', { host: 5 }, 'host'],
      ['host garbage', { host: 'not a host!' }, 'host'],
      ['host empty', { host: '' }, 'host'],
      ['host null', { host: null }, 'host'],
      ['port 0', { port: 0 }, 'port'],
      ['port 65536', { port: 65536 }, 'port'],
      ['port as a string', { port: '7835' }, 'port'],
      ['port 1.5', { port: 1.5 }, 'port'],
      ['port null', { port: null }, 'port'],
      ['ssh not an object', { ssh: 'rbee' }, 'ssh'],
      ['ssh an array', { ssh: [] }, 'ssh'],
      ['ssh.user bad', { ssh: { user: '1root' } }, 'ssh.user'],
      ['ssh.user null', { ssh: { user: null } }, 'ssh.user'],
      ['ssh.port 0', { ssh: { port: 0 } }, 'ssh.port'],
      ['ssh.port 65536', { ssh: { port: 65536 } }, 'ssh.port'],
      ['ssh.port as a string', { ssh: { port: '22' } }, 'ssh.port'],
      ['ssh.port 1.5', { ssh: { port: 1.5 } }, 'ssh.port'],
      ['ssh.port null', { ssh: { port: null } }, 'ssh.port'],
      ['ssh.private_key not PEM', { ssh: { private_key: 'hello' } }, 'ssh.private_key'],
      ['ssh.private_key null', { ssh: { private_key: null } }, 'ssh.private_key'],
      ['ssh.private_key and ssh.password both', { ssh: { private_key: OTHER_PRIVATE_KEY, password: PASSWORD } }, 'ssh.private_key'],
      ['ssh.password empty', { ssh: { password: '' } }, 'ssh.password'],
      ['ssh.password null', { ssh: { password: null } }, 'ssh.password'],
      ['an unknown ssh field', { ssh: { user: 'rbee', key_file: '/root/.ssh/id' } }, 'ssh.key_file'],
      ['labels not an object', { labels: 'zone=b' }, 'labels'],
      ['labels an array', { labels: [] }, 'labels'],
      ['labels null', { labels: null }, 'labels'],
      ['a bad label key', { labels: { 'bad key': 'b' } }, 'labels'],
      ['a non-string label value', { labels: { zone: true } }, 'labels'],
      ['cordoned as a string', { cordoned: 'false' }, 'cordoned'],
      ['cordoned as a number', { cordoned: 0 }, 'cordoned'],
      ['cordoned null', { cordoned: null }, 'cordoned'],
      ['the id', { id: 'renamed' }, 'id'],
      ['the status', { status: 'online' }, 'status'],
      ['created_at', { created_at: '2020-01-01T00:00:00.000Z' }, 'created_at'],
      ['an unknown field', { zone: 'b' }, 'zone'],
      ['a valid host beside a bad port', { host: '10.9.9.9', port: 0 }, 'port'],
      ['valid labels beside a bad ssh field', { labels: { zone: 'z' }, ssh: { port: 'x' } }, 'ssh.port'],
    ])('%s', async (_name, patch, field) => {
      queen.clock.advance(1000);
      const res = await queen.http().patch(`/v1/hives/${id}`).send(patch);
      expectProblem(res, 400, [field]);
      expect(res.body.detail).toContain(field);
      expectNoSecrets(res);
      expect(await readRow(id)).toEqual(stored);
      expect((await queen.http().get(`/v1/hives/${id}`).expect(200)).body).toEqual(shown);
    });

    it.each([
      ['an array', '[{"port":1}]'],
      ['a string', '"port"'],
      ['a number', '7835'],
      ['null', 'null'],
      ['malformed JSON', '{"port": 1'],
    ])('refuses %s as the body', async (_name, raw) => {
      const res = await queen.http().patch(`/v1/hives/${id}`).set('content-type', 'application/json').send(raw);
      expectProblem(res, 400);
      expect(await readRow(id)).toEqual(stored);
    });
  });

  describe('refuses unreadable requests with problem JSON', () => {
    it.each([
      ['malformed JSON', 'application/json', '{"id": "x",'],
      ['a JSON array', 'application/json', '[{"id":"x","host":"10.0.0.5","port":1}]'],
      ['a JSON string', 'application/json', '"gpu-node-01"'],
      ['a JSON number', 'application/json', '42'],
      ['JSON null', 'application/json', 'null'],
      ['an empty JSON body', 'application/json', ''],
      ['plain text', 'text/plain', 'id=gpu-node-01'],
      ['a form', 'application/x-www-form-urlencoded', 'id=gpu-node-01&host=10.0.0.5&port=1'],
    ])('%s → 400', async (_name, contentType, raw) => {
      const count = await countRows();
      const res = await queen.http().post('/v1/hives').set('content-type', contentType).send(raw);
      expectProblem(res, 400);
      expect(await countRows()).toBe(count);
    });

    it('a body over 1 MiB → 413, and the queen keeps serving', async () => {
      const count = await countRows();
      const body = JSON.stringify(hiveBody(freshId('big'), { labels: { blob: 'x'.repeat(1024 * 1024) } }));
      const res = await queen.http().post('/v1/hives').set('content-type', 'application/json').send(body);
      expectProblem(res, 413);
      expect(await countRows()).toBe(count);
      await queen.http().get('/health/live').expect(200);
    });

    it.each([
      ['GET', '/v1/nothing-here'],
      ['GET', '/v1/hives/some-hive/unknown'],
      ['DELETE', '/v1/hives'],
      ['PUT', '/v1/hives/some-hive'],
      ['GET', '/v2/hives'],
    ])('unknown route %s %s → 404', async (method, path) => {
      const res = await queen.http()[method.toLowerCase() as 'get' | 'delete' | 'put'](path);
      expectProblem(res, 404);
      expect(res.body.detail).toContain(path);
    });
  });

  describe('list queries', () => {
    it.each([
      ['limit=0', 'limit'],
      ['limit=abc', 'limit'],
      ['limit=501', 'limit'],
      ['limit=1.5', 'limit'],
      ['limit=-1', 'limit'],
      ['limit=', 'limit'],
      ['limit=1&limit=2', 'limit'],
      ['offset=-1', 'offset'],
      ['offset=abc', 'offset'],
      ['status=bogus', 'status'],
      ['status=ONLINE', 'status'],
      ['sort=id', 'sort'],
      ['limit=10&page=2', 'page'],
    ])('refuses ?%s naming %s', async (query, field) => {
      const res = await queen.http().get(`/v1/hives?${query}`);
      expectProblem(res, 400, [field]);
      expect(res.body.type).toBe('/problems/validation');
    });
  });

  describe('pagination and the status filter', () => {
    // A queen of its own: the totals count every hive in the catalog.
    let paged: TestQueen;
    const ids = ['b', 'a', 'a-1', 'a.1', 'a0', 'a_1', 'c9', 'c10', 'z'];
    const sorted = [...ids].sort(); // code-unit order: "-" < "." < "0" < "_" < "a"

    const tokens = new Map<string, string>();
    const beatAsHive = (id: string) => beat(paged, { id, token: tokens.get(id)! });

    beforeAll(async () => {
      paged = await TestQueen.start({ database });
      for (const id of ids) {
        const res = await paged.http().post('/v1/hives').send({ id, host: '10.0.0.1', port: 7835 }).expect(201);
        tokens.set(id, res.body.heartbeat_token);
      }
      // b beats, then falls silent for longer than the timeout; a0, c10 and z beat after that.
      await beatAsHive('b');
      paged.clock.advance(paged.config.heartbeatTimeoutMs + 1);
      expect(paged.get(LivenessSweeper).sweep()).toEqual(['b']);
      for (const id of ['a0', 'c10', 'z']) await beatAsHive(id);
    });
    afterAll(async () => {
      await paged?.destroy();
    });

    const page = async (query: string) => {
      const res = await paged.http().get(`/v1/hives${query}`).expect(200);
      expect(Object.keys(res.body).sort()).toEqual(['items', 'total']);
      return { ids: res.body.items.map((item: { id: string }) => item.id) as string[], total: res.body.total as number };
    };

    it('lists every hive by id with the default page size', async () => {
      expect(sorted).toEqual(['a', 'a-1', 'a.1', 'a0', 'a_1', 'b', 'c10', 'c9', 'z']);
      expect(await page('')).toEqual({ ids: sorted, total: 9 });
    });

    it('pages with limit and offset, in a stable order', async () => {
      const pages = [await page('?limit=4&offset=0'), await page('?limit=4&offset=4'), await page('?limit=4&offset=8')];
      expect(pages.map((p) => p.ids)).toEqual([sorted.slice(0, 4), sorted.slice(4, 8), sorted.slice(8)]);
      expect(pages.map((p) => p.total)).toEqual([9, 9, 9]);
      expect(await page('?limit=4&offset=4')).toEqual(pages[1]);
      expect(await page('?offset=9')).toEqual({ ids: [], total: 9 });
      expect(await page('?offset=1000')).toEqual({ ids: [], total: 9 });
      expect(await page('?limit=1')).toEqual({ ids: ['a'], total: 9 });
      expect(await page('?limit=500&offset=7')).toEqual({ ids: ['c9', 'z'], total: 9 });
    });

    it('keeps the order when hives are added between pages', async () => {
      const first = await page('?limit=3');
      await paged.http().post('/v1/hives').send({ id: 'zz-late', host: '10.0.0.1', port: 7835 }).expect(201);
      const second = await page('?limit=3&offset=3');
      expect([...first.ids, ...second.ids]).toEqual(sorted.slice(0, 6));
      expect(second.total).toBe(10);
      await paged.http().delete('/v1/hives/zz-late').expect(204);
    });

    it('filters by status, with the total counting only matches', async () => {
      expect(await page('?status=online')).toEqual({ ids: ['a0', 'c10', 'z'], total: 3 });
      expect(await page('?status=offline')).toEqual({ ids: ['b'], total: 1 });
      expect(await page('?status=unknown')).toEqual({ ids: ['a', 'a-1', 'a.1', 'a_1', 'c9'], total: 5 });
      expect(await page('?status=online&limit=1&offset=1')).toEqual({ ids: ['c10'], total: 3 });
      expect(await page('?status=online&offset=3')).toEqual({ ids: [], total: 3 });
    });

    it('shows the status and the time of the last heartbeat', async () => {
      paged.clock.advance(2000);
      const beatAt = iso(paged);
      await beatAsHive('a0');
      expect((await paged.http().get('/v1/hives/a0').expect(200)).body).toMatchObject({ status: 'online', last_heartbeat_at: beatAt });
    });
  });

  describe('restart', () => {
    it('finds every hive again, field for field, on the same database and data dir', async () => {
      const scratch = await createScratchDatabase(database);
      const dataDir = mkdtempSync(join(tmpdir(), 'queen-restart-'));
      let first: TestQueen | undefined;
      let second: TestQueen | undefined;
      try {
        first = await TestQueen.start({ databaseUrl: scratch.url, dataDir });
        const tokens: Record<string, string> = {};
        const post = async (body: Record<string, unknown>) => {
          const res = await first!.http().post('/v1/hives').send(body).expect(201);
          tokens[res.body.id] = res.body.heartbeat_token;
        };
        await post({ id: 'r-key', host: '10.0.0.5', port: 7835, ssh: { user: 'rbee', port: 2222, private_key: PRIVATE_KEY }, labels: { zone: 'a', rack: 'r1/u7' } });
        first.clock.advance(1500);
        await post({ id: 'r-password', host: 'gpu-02.lan', port: 1, ssh: { user: 'ops', password: PASSWORD }, labels: {} });
        first.clock.advance(1500);
        await post({ id: 'r-bare', host: '::1', port: 65535 });
        first.clock.advance(60_000);
        await first.http().patch('/v1/hives/r-password').send({ cordoned: true, labels: { zone: 'b', 'gpu.model': 'A100 80GB' } }).expect(200);
        await first.http().patch('/v1/hives/r-bare').send({ ssh: { user: 'root' } }).expect(200);
        tokens['r-key'] = (await first.http().post('/v1/hives/r-key/token').expect(200)).body.heartbeat_token;
        // r-password beats once and falls silent; r-key beats last, with its capabilities.
        await beat(first, { id: 'r-password', token: tokens['r-password'] });
        first.clock.advance(first.config.heartbeatTimeoutMs + 1);
        expect(first.get(LivenessSweeper).sweep()).toEqual(['r-password']);
        const rKeyBeatAt = iso(first);
        const capabilities = { cpu_cores: 32, ram_bytes: 137438953472, gpus: [{ index: 0, name: 'RTX 4090', vram_bytes: 25769803776, backend: 'cuda' }] };
        await beat(first, { id: 'r-key', token: tokens['r-key'] }, { capabilities });
        // Routes show that at once; the rows compared below need it written.
        await first.get(CatalogWriteBehind).flush();

        const before = (await first.http().get('/v1/hives').expect(200)).body;
        const rowsBefore = await first.dataSource.query('SELECT * FROM hives ORDER BY id');
        expect(before.total).toBe(3);
        expect(before.items.find((hive: { id: string }) => hive.id === 'r-password')).toMatchObject({
          cordoned: true,
          status: 'offline',
          labels: { zone: 'b', 'gpu.model': 'A100 80GB' },
          created_at: '2026-11-27T10:00:01.500Z',
          updated_at: '2026-11-27T10:01:03.000Z',
        });
        expect(before.items.find((hive: { id: string }) => hive.id === 'r-key')).toMatchObject({ status: 'online' });
        const firstClockEnd = first.clock.now();
        await first.close();
        first = undefined;

        second = await TestQueen.start({ databaseUrl: scratch.url, dataDir, clock: new ManualClock(firstClockEnd) });
        const after = (await second.http().get('/v1/hives').expect(200)).body;
        // Every stored field comes back. The status is live: a hive the new queen has not heard
        // from yet is unknown, unless it was offline already.
        const statusAfterRestart: Record<string, string> = { 'r-key': 'unknown', 'r-password': 'offline', 'r-bare': 'unknown' };
        const expected = before.items.map((hive: { id: string }) => ({ ...hive, status: statusAfterRestart[hive.id] }));
        expect(after).toEqual({ ...before, items: expected });
        for (const hive of expected) {
          expect((await second.http().get(`/v1/hives/${hive.id}`).expect(200)).body).toEqual(hive);
        }
        expect(await second.dataSource.query('SELECT * FROM hives ORDER BY id')).toEqual(rowsBefore);
        expect(after.items.find((hive: { id: string }) => hive.id === 'r-key')).toMatchObject({
          last_heartbeat_at: rKeyBeatAt,
          ssh: { user: 'rbee', port: 2222, credentials_set: true },
          capabilities: { cpu_cores: 32, ram_bytes: 137438953472, gpus: [{ index: 0, name: 'RTX 4090', vram_bytes: 25769803776, backend: 'cuda' }] },
        });

        // Tokens still verify, and the secrets still open with the key kept in the data dir.
        const restarted = second.get(HiveCatalog);
        for (const [id, token] of Object.entries(tokens)) expect(restarted.verifyToken(id, token)).toBe('ok');
        const box = second.get(SecretBox);
        const secretOf = (id: string) => {
          const row = (rowsBefore as HiveRow[]).find((r) => r.id === id)!;
          return JSON.parse(box.open(row.ssh_secret!, id));
        };
        expect(secretOf('r-key')).toEqual({ kind: 'private_key', value: PRIVATE_KEY });
        expect(secretOf('r-password')).toEqual({ kind: 'password', value: PASSWORD });
      } finally {
        await first?.close();
        await second?.close();
        await scratch.drop();
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });

  describe('admin auth', () => {
    describe('with QUEEN_API_TOKEN set', () => {
      let guarded: TestQueen;
      beforeAll(async () => {
        guarded = await TestQueen.start({ database, env: { QUEEN_API_TOKEN: ADMIN_TOKEN } });
        await guarded.http().post('/v1/hives').set('authorization', `Bearer ${ADMIN_TOKEN}`).send({ id: 'guarded', host: '10.0.0.1', port: 1 }).expect(201);
      });
      afterAll(async () => {
        await guarded?.destroy();
      });

      // Every row has a body slot: jest takes a test function with more parameters than the row for a `done` callback.
      const routes: [string, string, Record<string, unknown> | undefined][] = [
        ['GET', '/v1/hives', undefined],
        ['POST', '/v1/hives', { id: 'sneaky', host: '10.0.0.1', port: 1 }],
        ['GET', '/v1/hives/guarded', undefined],
        ['PATCH', '/v1/hives/guarded', { cordoned: true }],
        ['DELETE', '/v1/hives/guarded', undefined],
        ['POST', '/v1/hives/guarded/token', undefined],
      ];
      const call = (method: string, path: string, body?: Record<string, unknown>, authorization?: string) => {
        const agent = guarded.http();
        let req = method === 'GET' ? agent.get(path) : method === 'POST' ? agent.post(path) : method === 'PATCH' ? agent.patch(path) : agent.delete(path);
        if (authorization !== undefined) req = req.set('authorization', authorization);
        return body ? req.send(body) : req;
      };

      it.each(routes)('refuses %s %s without, or with a wrong, admin token', async (method, path, body) => {
        const tokenBefore = (await guarded.dataSource.query(sql('SELECT token_hash, cordoned FROM hives WHERE id = $1'), ['guarded']))[0];
        for (const authorization of [
          undefined,
          'Bearer wrong-token',
          `Bearer ${ADMIN_TOKEN}x`,
          `Bearer ${ADMIN_TOKEN.slice(0, -1)}`,
          `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64')}`,
          ADMIN_TOKEN,
          'Bearer',
        ]) {
          const res = await call(method, path, body, authorization);
          expectProblem(res, 401);
          expect(res.body.type).toBe('/problems/unauthorized');
          expect(res.text).not.toContain(ADMIN_TOKEN);
        }
        // The token in the query string is not an alternative for these routes.
        const viaQuery = await call(method, `${path}?access_token=${ADMIN_TOKEN}`, body);
        expectProblem(viaQuery, 401);
        // Nothing happened: no hive created, none changed, the token not rotated.
        expect(guarded.get(HiveCatalog).findById('sneaky')).toBeUndefined();
        expect((await guarded.dataSource.query(sql('SELECT token_hash, cordoned FROM hives WHERE id = $1'), ['guarded']))[0]).toEqual(tokenBefore);
      });

      it('serves every admin route with the right token', async () => {
        const auth = `Bearer ${ADMIN_TOKEN}`;
        expect((await call('GET', '/v1/hives', undefined, auth)).status).toBe(200);
        expect((await call('GET', '/v1/hives', undefined, `bearer   ${ADMIN_TOKEN}`)).status).toBe(200);
        expect((await call('POST', '/v1/hives', { id: 'allowed', host: '10.0.0.1', port: 1 }, auth)).status).toBe(201);
        expect((await call('GET', '/v1/hives/allowed', undefined, auth)).status).toBe(200);
        expect((await call('PATCH', '/v1/hives/allowed', { cordoned: true }, auth)).status).toBe(200);
        expect((await call('POST', '/v1/hives/allowed/token', undefined, auth)).status).toBe(200);
        expect((await call('DELETE', '/v1/hives/allowed', undefined, auth)).status).toBe(204);
        // Validation still applies behind the guard.
        expectProblem(await call('POST', '/v1/hives', { id: 'x', host: '10.0.0.1', port: 0 }, auth), 400, ['port']);
      });

      it('leaves health and docs open', async () => {
        expect((await guarded.http().get('/health/live').expect(200)).body.status).toBe('ok');
        expect((await guarded.http().get('/health/ready').expect(200)).body.status).toBe('ok');
        const docs = await guarded.http().get('/docs-json').expect(200);
        expect(docs.body.openapi).toMatch(/^3\./);
        const ui = await guarded.http().get('/docs').redirects(1).expect(200);
        expect(ui.headers['content-type']).toMatch(/^text\/html/);
      });
    });

    it('leaves admin routes open when QUEEN_API_TOKEN is not set', async () => {
      expect(queen.config.apiToken).toBeNull();
      await queen.http().get('/v1/hives').expect(200);
      await queen.http().get('/v1/hives').set('authorization', 'Bearer anything').expect(200);
      const id = freshId('open');
      await queen.http().post('/v1/hives').send({ id, host: '10.0.0.1', port: 1 }).expect(201);
      await queen.http().delete(`/v1/hives/${id}`).expect(204);
    });
  });
});
