import { canonicalJson, isKept, requestHashOf } from './idempotency.service';

describe('canonicalJson', () => {
  it.each<[unknown, string]>([
    [{ b: 1, a: [3, { d: null, c: 'x' }] }, '{"a":[3,{"c":"x","d":null}],"b":1}'],
    [{ skipped: undefined, kept: 0 }, '{"kept":0}'],
    [[], '[]'],
    ['text', '"text"'],
    [null, 'null'],
  ])('%j → %s', (value, text) => {
    expect(canonicalJson(value)).toBe(text);
  });

  it('gives bodies that differ only in key order one hash, others another', () => {
    expect(requestHashOf({ model_id: 'm', vram_bytes: 1 })).toBe(requestHashOf({ vram_bytes: 1, model_id: 'm' }));
    expect(requestHashOf({ model_id: 'm', vram_bytes: 1 })).not.toBe(requestHashOf({ model_id: 'm', vram_bytes: 2 }));
    expect(requestHashOf([1, 2])).not.toBe(requestHashOf([2, 1]));
  });
});

describe('isKept', () => {
  it.each<[number, boolean]>([
    [201, true],
    [202, true],
    [404, true],
    [409, true],
    [422, true],
    [400, false],
    [401, false],
    [403, false],
    [429, false],
    [500, false],
    [503, false],
  ])('an answer %i is kept: %p', (status, kept) => {
    expect(isKept(status)).toBe(kept);
  });
});
