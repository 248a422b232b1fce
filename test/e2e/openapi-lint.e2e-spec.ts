/**
 * The OpenAPI document as two linters no one here wrote read it: Redocly CLI (recommended rules,
 * redocly.yaml) and Spectral (spectral:oas, .spectral.yaml). Both lint dist/openapi.json, which
 * `npm test` writes from the built app before the suites run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Contract } from '../support/contract';

const ROOT = join(__dirname, '../..');
const DOCUMENT = 'dist/openapi.json';
const bin = (name: string) => join(ROOT, 'node_modules/.bin', name);

function lint(command: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(bin(command), args, {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
  });
  if (result.error) throw result.error;
  return result;
}

describe('OpenAPI document lint', () => {
  beforeAll(() => {
    if (!existsSync(join(ROOT, DOCUMENT))) {
      throw new Error(`${DOCUMENT} is missing: run "npm run build" (npm test does)`);
    }
  });

  it('passes Redocly (recommended) with no error and no warning, waiving only what .redocly.lint-ignore.yaml explains', () => {
    const result = lint('redocly', ['lint', DOCUMENT, '--format=json']);
    const report = JSON.parse(result.stdout) as { totals: { errors: number; warnings: number; ignored: number }; problems: { ruleId: string; message: string }[] };
    expect({ problems: report.problems.map(({ ruleId, message }) => `${ruleId}: ${message}`), totals: report.totals }).toEqual({
      problems: [],
      totals: { errors: 0, warnings: 0, ignored: 2 },
    });
    expect(result.status).toBe(0);
  });

  it('passes Spectral (spectral:oas) with no finding at any severity', () => {
    const result = lint('spectral', ['lint', DOCUMENT, '--format', 'json', '--fail-severity', 'hint']);
    const findings = JSON.parse(result.stdout.slice(0, result.stdout.lastIndexOf(']') + 1)) as { code: string; message: string; path: string[] }[];
    expect(findings.map(({ code, message, path }) => `${code} at ${path.join('.')}: ${message}`)).toEqual([]);
    expect(result.status).toBe(0);
  });

  it('is what every response of the suites is checked against, and that check tells a wrong answer', () => {
    const contract = new Contract(JSON.parse(readFileSync(join(ROOT, DOCUMENT), 'utf8')));
    const json = (value: unknown) => Buffer.from(JSON.stringify(value));
    const hive = {
      id: 'gpu-node-01', host: '10.0.0.5', port: 7835, ssh: null, labels: {}, cordoned: false, status: 'online',
      last_heartbeat_at: '2026-11-27T10:00:00.000Z', capabilities: null, created_at: '2026-11-27T09:00:00.000Z', updated_at: '2026-11-27T09:00:00.000Z',
    };
    expect(contract.check('get', '/v1/hives/gpu-node-01', 200, 'application/json; charset=utf-8', json(hive))).toBeNull();
    expect(contract.check('get', '/v1/hives/gpu-node-01', 200, 'application/json', json({ ...hive, port: 7835.5 }))).toMatch(/\/port must be integer/);
    expect(contract.check('get', '/v1/hives/gpu-node-01', 200, 'application/json', json({ ...hive, created_at: 'yesterday' }))).toMatch(/\/created_at must match format "date-time"/);
    expect(contract.check('get', '/v1/hives/gpu-node-01', 418, 'application/problem+json', json({}))).toMatch(/that status is not documented/);
    expect(contract.check('get', '/v1/hives/gpu-node-01', 404, 'application/json', json({}))).toMatch(/content type "application\/json" is not documented/);
    expect(contract.check('delete', '/v1/hives/gpu-node-01', 204, '', Buffer.alloc(0))).toBeNull();
    // `active` is a route of its own, not a hive id.
    expect(contract.check('get', '/v1/hives/active', 200, 'application/json', json(['gpu-node-01']))).toBeNull();
  });
});
