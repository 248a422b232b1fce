import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A new hive heartbeat token: 256 random bits, URL-safe. */
export function newHiveToken(): string {
  return `qh_${randomBytes(32).toString('base64url')}`;
}

/**
 * Tokens are random with 256 bits of entropy, so a plain SHA-256 is enough to
 * store them: there is nothing for a slow hash to protect against.
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Compares two secrets in time independent of where they differ and of their lengths. */
export function secretsEqual(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

const HEX_DIGEST = /^(?:[0-9a-f]{2})+$/i;

/**
 * Compares two hex digests in constant time. Anything that is not a whole hex
 * digest is unequal to everything: `Buffer.from(x, 'hex')` stops at the first
 * bad character, so "ab" and "abzz" (or "" and "") would otherwise match.
 */
export function digestsEqual(a: string, b: string): boolean {
  if (!HEX_DIGEST.test(a) || !HEX_DIGEST.test(b)) return false;
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && timingSafeEqual(left, right);
}

const BEARER = /^Bearer\s+\S+\s*$/i;

/** The token of an `Authorization: Bearer <token>` header, or null. Checked first, cut once: heartbeats call this thousands of times a second. */
export function bearerToken(header: string | undefined): string | null {
  if (!header || !BEARER.test(header)) return null;
  return header.slice(6).trim();
}
