import { ifMatchAllows, strongEtag } from './entity-tags';

describe('strongEtag', () => {
  it('is a quoted tag that follows the state', () => {
    expect(strongEtag(['a', 1])).toMatch(/^"[A-Za-z0-9_-]{22}"$/);
    expect(strongEtag(['a', 1])).toBe(strongEtag(['a', 1]));
    expect(strongEtag(['a', 1])).not.toBe(strongEtag(['a', 2]));
  });
});

describe('ifMatchAllows (strong comparison)', () => {
  const current = '"abc"';
  it.each<[string | undefined, boolean]>([
    [undefined, true],
    ['*', true],
    [' * ', true],
    ['"abc"', true],
    ['"x", "abc"', true],
    ['"x","abc"', true],
    ['"x"', false],
    ['W/"abc"', false],
    ['abc', false],
    ['', false],
    ['"ab"c"', false],
  ])('If-Match %p → %p', (header, allowed) => {
    expect(ifMatchAllows(header, current)).toBe(allowed);
  });
});
