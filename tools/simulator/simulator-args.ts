/**
 * Command line of the fleet simulator: parsing and validation, kept apart from
 * main.ts so it can be tested without starting anything.
 */
import { parseArgs } from 'node:util';
import { isLoopbackHost } from './queen-client';

export interface SimulatorConfig {
  hives: number;
  gpusPerHive: number;
  /** VRAM per GPU in GiB; hive i gets `vramMixGb[i % length]` on all its GPUs. */
  vramMixGb: number[];
  queenUrl: string;
  adminToken: string | undefined;
  hiveIdPrefix: string;
  /** Chance per hive per minute of going silent or dying. */
  killRatePerMinute: number;
  /** Fraction of hives whose hive API answers slowly. */
  slowRate: number;
  loadDelayMs: number;
}

const MAX_HIVES = 5000;
const MAX_GPUS_PER_HIVE = 16;
const MAX_HIVE_ID_LENGTH = 63;

export const USAGE = `Usage: npm run simulate -- [options]

Starts simulated hives on 127.0.0.1, registers them with the queen and sends
their heartbeats until Ctrl-C.

Options:
  --hives N          number of hives (default 10, at most ${MAX_HIVES})
  --gpus N           GPUs per hive (default 4, at most ${MAX_GPUS_PER_HIVE}; 0 = CPU only)
  --vram-gb LIST     VRAM per GPU in GiB, one value or a comma list spread over
                     the hives (default 24,48,80)
  --queen URL        queen base URL, loopback only (default http://127.0.0.1:7833)
  --token TOKEN      admin token (default: env QUEEN_API_TOKEN)
  --prefix TEXT      hive id prefix (default sim-)
  --kill-rate R      chance per hive per minute to go silent or die, 0..1 (default 0)
  --slow-rate R      fraction of hives whose API answers slowly, 0..1 (default 0)
  --load-delay-ms N  time a spawned worker stays Loading (default 3000)
  -h, --help         show this help`;

export class UsageError extends Error {}

export type ParsedCommandLine = { help: true } | { help: false; config: SimulatorConfig };

export function parseSimulatorArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): ParsedCommandLine {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        hives: { type: 'string', default: '10' },
        gpus: { type: 'string', default: '4' },
        'vram-gb': { type: 'string', default: '24,48,80' },
        queen: { type: 'string', default: 'http://127.0.0.1:7833' },
        token: { type: 'string' },
        prefix: { type: 'string', default: 'sim-' },
        'kill-rate': { type: 'string', default: '0' },
        'slow-rate': { type: 'string', default: '0' },
        'load-delay-ms': { type: 'string', default: '3000' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error: unknown) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help === true) return { help: true };

  const text = (name: string): string => String(values[name]);
  const hives = parseInteger('--hives', text('hives'), 1, MAX_HIVES);
  const hiveIdPrefix = text('prefix');
  validatePrefix(hiveIdPrefix, hives);
  return {
    help: false,
    config: {
      hives,
      gpusPerHive: parseInteger('--gpus', text('gpus'), 0, MAX_GPUS_PER_HIVE),
      vramMixGb: parseVramMix(text('vram-gb')),
      queenUrl: parseQueenUrl(text('queen')),
      adminToken: (values.token as string | undefined) ?? (env.QUEEN_API_TOKEN || undefined),
      hiveIdPrefix,
      killRatePerMinute: parseFraction('--kill-rate', text('kill-rate')),
      slowRate: parseFraction('--slow-rate', text('slow-rate')),
      loadDelayMs: parseInteger('--load-delay-ms', text('load-delay-ms'), 0, 3_600_000),
    },
  };
}

/** Hive ids are `<prefix><n>`, n zero-padded so ids sort in order. */
export function hiveId(prefix: string, index: number, hiveCount: number): string {
  return `${prefix}${String(index + 1).padStart(String(hiveCount).length, '0')}`;
}

function parseInteger(option: string, raw: string, min: number, max: number): number {
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`${option} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function parseFraction(option: string, raw: string): number {
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new UsageError(`${option} must be a number from 0 to 1, got "${raw}"`);
  }
  return value;
}

function parseVramMix(raw: string): number[] {
  const parts = raw.split(',').map((part) => part.trim());
  return parts.map((part) => {
    const value = Number(part);
    if (part === '' || !Number.isFinite(value) || value <= 0 || value > 1024) {
      throw new UsageError(`--vram-gb must be GiB numbers above 0 (e.g. 24 or 24,48,80), got "${raw}"`);
    }
    return value;
  });
}

function parseQueenUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--queen must be a URL like http://127.0.0.1:7833, got "${raw}"`);
  }
  if (url.protocol !== 'http:') {
    throw new UsageError(`--queen must use http:, got "${raw}"`);
  }
  if (!isLoopbackHost(url.hostname)) {
    throw new UsageError(`--queen must be a loopback address (127.0.0.1, ::1, localhost), got "${url.hostname}"`);
  }
  return url.origin;
}

/** The catalog takes ids of 1–63 chars of [a-z0-9._-], starting with a letter or digit. */
function validatePrefix(prefix: string, hiveCount: number): void {
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(prefix)) {
    throw new UsageError(
      `--prefix must start with a lowercase letter or digit and use only [a-z0-9._-], got "${prefix}"`,
    );
  }
  const longest = hiveId(prefix, hiveCount - 1, hiveCount);
  if (longest.length > MAX_HIVE_ID_LENGTH) {
    throw new UsageError(`--prefix is too long: hive ids would exceed ${MAX_HIVE_ID_LENGTH} chars`);
  }
}
