import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateSecretKey, SecretBox } from './secret-box';

const PEM = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n';

/** Flips one bit of the `index`th dot-separated part of a sealed secret (0 version, 1 iv, 2 tag, 3 body). */
function tamper(sealed: string, index: number, byte = 0): string {
  const parts = sealed.split('.');
  const bytes = Buffer.from(parts[index], 'base64url');
  bytes[byte] ^= 0x01;
  parts[index] = bytes.toString('base64url');
  return parts.join('.');
}

describe('SecretBox', () => {
  const box = new SecretBox(randomBytes(32));

  it.each([
    ['a PEM key', PEM],
    ['a short password', 'p'],
    ['an empty string', ''],
    ['unicode', 'pässwörd 🔑'],
    ['64 KiB', 'x'.repeat(65536)],
  ])('round-trips %s', (_name, plaintext) => {
    const sealed = box.seal(plaintext, 'gpu-node-01');
    expect(box.open(sealed, 'gpu-node-01')).toBe(plaintext);
  });

  it('never contains the plaintext and is different each time (random IV)', () => {
    const a = box.seal(PEM, 'gpu-node-01');
    const b = box.seal(PEM, 'gpu-node-01');
    expect(a).not.toBe(b);
    for (const sealed of [a, b]) {
      expect(sealed).not.toContain('PRIVATE KEY');
      expect(sealed).not.toContain('b3BlbnNzaC1rZXktdjEAAAAA');
      expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/);
    }
  });

  it.each([
    ['the IV', 1],
    ['the auth tag', 2],
    ['the ciphertext', 3],
  ])('refuses a secret whose %s was changed by one bit', (_name, part) => {
    const sealed = box.seal(PEM, 'gpu-node-01');
    expect(() => box.open(tamper(sealed, part), 'gpu-node-01')).toThrow();
    // The last byte of the ciphertext too, not only the first.
    const body = Buffer.from(sealed.split('.')[part], 'base64url');
    expect(() => box.open(tamper(sealed, part, body.length - 1), 'gpu-node-01')).toThrow();
  });

  it('refuses a secret with a truncated ciphertext', () => {
    const sealed = box.seal('a longer secret value', 'h');
    const parts = sealed.split('.');
    parts[3] = Buffer.from(parts[3], 'base64url').subarray(0, 5).toString('base64url');
    expect(() => box.open(parts.join('.'), 'h')).toThrow();
  });

  it('refuses a secret sealed for another hive (context is authenticated)', () => {
    const sealed = box.seal(PEM, 'gpu-node-01');
    expect(() => box.open(sealed, 'gpu-node-02')).toThrow();
    expect(() => box.open(sealed, '')).toThrow();
    expect(box.open(sealed, 'gpu-node-01')).toBe(PEM);
  });

  it('refuses a secret sealed with another key', () => {
    const sealed = new SecretBox(randomBytes(32)).seal(PEM, 'gpu-node-01');
    expect(() => box.open(sealed, 'gpu-node-01')).toThrow();
  });

  it.each([
    ['plaintext', PEM],
    ['an empty string', ''],
    ['another version', 'v2.a.b.c'],
    ['missing parts', 'v1.abc'],
  ])('refuses %s as a sealed secret', (_name, sealed) => {
    expect(() => box.open(sealed, 'gpu-node-01')).toThrow();
  });

  it('only accepts a 32-byte key', () => {
    expect(() => new SecretBox(randomBytes(16))).toThrow(/32 bytes/);
    expect(() => new SecretBox(randomBytes(33))).toThrow(/32 bytes/);
  });
});

describe('loadOrCreateSecretKey', () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'queen-key-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  const keyFile = () => join(dataDir, 'secret.key');

  it('creates a 32-byte key file with mode 0600 on first use, creating the data dir', () => {
    const nested = join(dataDir, 'nested', 'data');
    const key = loadOrCreateSecretKey(null, nested);
    const path = join(nested, 'secret.key');
    expect(key).toHaveLength(32);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(Buffer.from(readFileSync(path, 'utf8').trim(), 'base64').equals(key)).toBe(true);
  });

  it('reuses the key file rather than writing a new one', () => {
    const first = loadOrCreateSecretKey(null, dataDir);
    const before = statSync(keyFile());
    const contents = readFileSync(keyFile(), 'utf8');
    const second = loadOrCreateSecretKey(null, dataDir);
    expect(second.equals(first)).toBe(true);
    expect(readFileSync(keyFile(), 'utf8')).toBe(contents);
    expect(statSync(keyFile()).ino).toBe(before.ino);
    expect(statSync(keyFile()).mtimeMs).toBe(before.mtimeMs);
    // What one box sealed, a box built on the reloaded key opens.
    const sealed = new SecretBox(first).seal(PEM, 'h1');
    expect(new SecretBox(second).open(sealed, 'h1')).toBe(PEM);
  });

  it('tightens a key file others can read back to 0600', () => {
    loadOrCreateSecretKey(null, dataDir);
    chmodSync(keyFile(), 0o644);
    loadOrCreateSecretKey(null, dataDir);
    expect(statSync(keyFile()).mode & 0o777).toBe(0o600);
  });

  it('refuses a key file that does not hold 32 bytes', () => {
    writeFileSync(keyFile(), `${randomBytes(16).toString('base64')}\n`, { mode: 0o600 });
    expect(() => loadOrCreateSecretKey(null, dataDir)).toThrow(/32-byte/);
  });

  it('uses a configured key and writes no file', () => {
    const configured = randomBytes(32);
    expect(loadOrCreateSecretKey(configured, dataDir)).toBe(configured);
    expect(existsSync(keyFile())).toBe(false);
  });

  it('gives different data dirs different keys', () => {
    const other = mkdtempSync(join(tmpdir(), 'queen-key-'));
    try {
      expect(loadOrCreateSecretKey(null, dataDir).equals(loadOrCreateSecretKey(null, other))).toBe(false);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});
