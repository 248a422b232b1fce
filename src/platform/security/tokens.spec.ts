import { createHash } from 'node:crypto';
import { bearerToken, digestsEqual, hashToken, newHiveToken, secretsEqual } from './tokens';

describe('newHiveToken', () => {
  it('is qh_ and 256 random bits in URL-safe base64', () => {
    const token = newHiveToken();
    expect(token).toMatch(/^qh_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(token.slice(3), 'base64url')).toHaveLength(32);
  });

  it('never repeats', () => {
    const tokens = new Set(Array.from({ length: 1000 }, newHiveToken));
    expect(tokens.size).toBe(1000);
  });
});

describe('hashToken', () => {
  it('is the SHA-256 hex digest of the token', () => {
    const token = newHiveToken();
    expect(hashToken(token)).toBe(createHash('sha256').update(token).digest('hex'));
    expect(hashToken('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('is stable for one token, different for another, and never contains the token', () => {
    const token = newHiveToken();
    expect(hashToken(token)).toBe(hashToken(token));
    expect(hashToken(token)).not.toBe(hashToken(newHiveToken()));
    expect(hashToken(token)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashToken(token)).not.toContain(token.slice(3));
  });
});

describe('secretsEqual', () => {
  it.each([
    ['equal', 'a-long-admin-token-123', 'a-long-admin-token-123', true],
    ['differing in the last character', 'a-long-admin-token-123', 'a-long-admin-token-124', false],
    ['a prefix', 'a-long-admin-token', 'a-long-admin-token-123', false],
    ['longer', 'a-long-admin-token-1234', 'a-long-admin-token-123', false],
    ['empty against a token', '', 'a-long-admin-token-123', false],
    ['differing in case', 'A-long-admin-token-123', 'a-long-admin-token-123', false],
  ])('%s', (_name, presented, expected, result) => {
    expect(secretsEqual(presented, expected)).toBe(result);
  });
});

describe('digestsEqual', () => {
  const digest = hashToken('one');

  it('matches equal digests, in either case', () => {
    expect(digestsEqual(digest, hashToken('one'))).toBe(true);
    expect(digestsEqual(digest.toUpperCase(), digest)).toBe(true);
  });

  it('does not match different digests or lengths', () => {
    expect(digestsEqual(digest, hashToken('two'))).toBe(false);
    expect(digestsEqual(digest, digest.slice(0, 62))).toBe(false);
    expect(digestsEqual(digest.slice(0, 62), digest)).toBe(false);
  });

  it('matches nothing that is not a whole hex digest', () => {
    expect(digestsEqual('', '')).toBe(false);
    expect(digestsEqual('ab', 'abzz')).toBe(false);
    expect(digestsEqual(`${digest}zz`, digest)).toBe(false);
    expect(digestsEqual('zz', 'yy')).toBe(false);
    expect(digestsEqual('abc', 'abc')).toBe(false);
  });
});

describe('bearerToken', () => {
  it.each([
    ['Bearer abc.def-1', 'abc.def-1'],
    ['bearer abc', 'abc'],
    ['BEARER   abc  ', 'abc'],
  ])('reads %j', (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });

  it.each([[undefined], [''], ['Bearer'], ['Bearer '], ['Basic dXNlcjpwYXNz'], ['Bearer a b'], ['abc'], ['Token abc']])(
    'finds no token in %j',
    (header) => {
      expect(bearerToken(header)).toBeNull();
    },
  );
});
