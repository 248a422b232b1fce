import { describeProblem } from './main';
import { renderTable } from './output';
import { formatBytes, parseBytes } from './sizes';

describe('parseBytes', () => {
  it.each<[string, number]>([
    ['8589934592', 8589934592],
    ['8GiB', 8 * 2 ** 30],
    ['8G', 8 * 2 ** 30],
    ['8 gb', 8e9],
    ['1.5GiB', 1.5 * 2 ** 30],
    ['512MiB', 512 * 2 ** 20],
    ['0', 0],
  ])('%s → %i bytes', (text, bytes) => {
    expect(parseBytes(text)).toBe(bytes);
  });

  it.each(['', 'eight', '8 parsecs', '-1G', '1e3', '99999999999TiB'])('refuses %p', (text) => {
    expect(() => parseBytes(text)).toThrow(/size|too large/);
  });
});

describe('formatBytes', () => {
  it.each<[number, string]>([
    [0, '0 B'],
    [1023, '1023 B'],
    [24 * 2 ** 30, '24.0 GiB'],
    [80 * 2 ** 30, '80.0 GiB'],
    [512 * 2 ** 20, '512 MiB'],
  ])('%i → %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});

describe('renderTable', () => {
  const rows = [
    { id: 'gpu-node-01', labels: 'zone=a,rack=r1,row=7,room=east-wing-long-name' },
    { id: 'gpu-node-02', labels: '-' },
  ];
  const columns = [
    { header: 'ID', value: (row: (typeof rows)[number]) => row.id },
    { header: 'LABELS', value: (row: (typeof rows)[number]) => row.labels },
  ];

  it('aligns columns under their headers', () => {
    expect(renderTable(rows, columns, 200).split('\n')).toEqual([
      'ID           LABELS',
      'gpu-node-01  zone=a,rack=r1,row=7,room=east-wing-long-name',
      'gpu-node-02  -',
    ]);
  });

  it('fits the terminal by shortening the widest column', () => {
    const lines = renderTable(rows, columns, 40).split('\n');
    expect(Math.max(...lines.map((line) => line.length))).toBeLessThanOrEqual(40);
    expect(lines[1]).toBe('gpu-node-01  zone=a,rack=r1,row=7,room=…');
  });
});

describe('describeProblem', () => {
  it('says what the queen said, hive by hive and field by field', () => {
    expect(
      describeProblem({
        status: 503,
        title: 'Service Unavailable',
        detail: 'no hive started the worker',
        tried: { a: { status: 409, reason: 'insufficient_vram', uncertain: false }, b: { status: null, reason: 'timed out', uncertain: true } },
      }),
    ).toBe('503 Service Unavailable: no hive started the worker\n  a: 409 insufficient_vram\n  b: no answer timed out (may have started it)');
    expect(describeProblem({ status: 400, title: 'Bad Request', detail: 'invalid', errors: [{ field: 'vram_bytes', message: 'must be an integer' }] })).toBe(
      '400 Bad Request: invalid\n  vram_bytes: must be an integer',
    );
  });
});
