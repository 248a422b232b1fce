/**
 * Command line of the fleet simulator: parsing and validation, kept apart from
 * main.ts so it can be tested without starting anything.
 */
import { Command, CommanderError } from 'commander';
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
  /** Chance per running worker per minute of turning Failed (a crashed model process). */
  failRatePerMinute: number;
  /** Fraction of hives whose hive API answers slowly. */
  slowRate: number;
  loadDelayMs: number;
}

const MAX_HIVES = 5000;
const MAX_GPUS_PER_HIVE = 16;
const MAX_HIVE_ID_LENGTH = 63;

export class UsageError extends Error {}

export type ParsedCommandLine = { help: true } | { help: false; config: SimulatorConfig };

/** The options as commander reads them: text, checked below with messages that name the option. */
interface RawOptions {
  hives: string;
  gpus: string;
  vramGb: string;
  queen: string;
  token?: string;
  prefix: string;
  killRate: string;
  failRate: string;
  slowRate: string;
  loadDelayMs: string;
}

function commandLine(): Command {
  return new Command('npm run simulate --')
    .description('Starts simulated hives on 127.0.0.1, registers them with the queen and sends their heartbeats until Ctrl-C.')
    .exitOverride()
    .configureOutput({ writeOut: () => undefined, writeErr: () => undefined })
    .helpOption('-h, --help')
    .allowExcessArguments(false)
    .option('--hives <n>', `number of hives, at most ${MAX_HIVES}`, '10')
    .option('--gpus <n>', `GPUs per hive, at most ${MAX_GPUS_PER_HIVE}; 0 = CPU only`, '4')
    .option('--vram-gb <list>', 'VRAM per GPU in GiB, one value or a comma list spread over the hives', '24,48,80')
    .option('--queen <url>', 'queen base URL, loopback only', 'http://127.0.0.1:7833')
    .option('--token <token>', 'admin token (default: env QUEEN_API_TOKEN)')
    .option('--prefix <text>', 'hive id prefix', 'sim-')
    .option('--kill-rate <r>', 'chance per hive per minute to go silent or die, 0..1', '0')
    .option('--fail-rate <r>', 'chance per running worker per minute to turn Failed, 0..1', '0')
    .option('--slow-rate <r>', 'fraction of hives whose API answers slowly, 0..1', '0')
    .option('--load-delay-ms <n>', 'time a spawned worker stays Loading', '3000');
}

/** The help text, as `--help` prints it. */
export function usage(): string {
  return commandLine().helpInformation();
}

export function parseSimulatorArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): ParsedCommandLine {
  const program = commandLine();
  try {
    program.parse([...argv], { from: 'user' });
  } catch (error: unknown) {
    if (error instanceof CommanderError && error.code === 'commander.helpDisplayed') return { help: true };
    throw new UsageError(error instanceof Error ? error.message.replace(/^error: /, '') : String(error));
  }
  const values = program.opts<RawOptions>();
  const hives = parseInteger('--hives', values.hives, 1, MAX_HIVES);
  const hiveIdPrefix = values.prefix;
  validatePrefix(hiveIdPrefix, hives);
  return {
    help: false,
    config: {
      hives,
      gpusPerHive: parseInteger('--gpus', values.gpus, 0, MAX_GPUS_PER_HIVE),
      vramMixGb: parseVramMix(values.vramGb),
      queenUrl: parseQueenUrl(values.queen),
      adminToken: values.token ?? (env.QUEEN_API_TOKEN || undefined),
      hiveIdPrefix,
      killRatePerMinute: parseFraction('--kill-rate', values.killRate),
      failRatePerMinute: parseFraction('--fail-rate', values.failRate),
      slowRate: parseFraction('--slow-rate', values.slowRate),
      loadDelayMs: parseInteger('--load-delay-ms', values.loadDelayMs, 0, 3_600_000),
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
