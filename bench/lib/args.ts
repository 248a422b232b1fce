import { parseArgs } from 'node:util';

/** A numeric flag: its default and the range it must fall in. */
export interface IntFlag {
  default: number;
  min: number;
  max: number;
  help: string;
}

/** A string flag with a default. */
export interface StringFlag {
  default: string;
  help: string;
}

export type FlagSpec = Record<string, IntFlag | StringFlag | { boolean: true; help: string }>;

export type ParsedFlags<S extends FlagSpec> = {
  [K in keyof S]: S[K] extends IntFlag ? number : S[K] extends StringFlag ? string : boolean;
};

export class UsageError extends Error {}

function isInt(flag: FlagSpec[string]): flag is IntFlag {
  return 'min' in flag;
}

function isBool(flag: FlagSpec[string]): flag is { boolean: true; help: string } {
  return 'boolean' in flag;
}

export function usage(command: string, spec: FlagSpec): string {
  const lines = Object.entries(spec).map(([name, flag]) => {
    const value = isBool(flag) ? '' : ` <${isInt(flag) ? 'n' : 'value'}>`;
    const dflt = isBool(flag) ? '' : ` (default ${flag.default})`;
    return `  --${name}${value}`.padEnd(31) + `${flag.help}${dflt}`;
  });
  return [`usage: ${command} [flags]`, ...lines].join('\n');
}

/**
 * Parses `--name value` flags (and `--name=value`) against a spec; integers are
 * range-checked. Unknown flags and stray arguments are usage errors.
 */
export function parseFlags<S extends FlagSpec>(argv: string[], spec: S): ParsedFlags<S> & { help: boolean } {
  const options: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' } };
  for (const [name, flag] of Object.entries(spec)) options[name] = { type: isBool(flag) ? 'boolean' : 'string' };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const out: Record<string, number | string | boolean> = { help: values.help === true };
  for (const [name, flag] of Object.entries(spec)) {
    const raw = values[name];
    if (isBool(flag)) {
      out[name] = raw === true;
    } else if (isInt(flag)) {
      if (raw === undefined) {
        out[name] = flag.default;
        continue;
      }
      const text = String(raw).replace(/_/g, '');
      if (!/^\d+$/.test(text)) throw new UsageError(`--${name} must be a whole number, got "${raw}"`);
      const n = Number(text);
      if (n < flag.min || n > flag.max) throw new UsageError(`--${name} must be between ${flag.min} and ${flag.max}, got ${n}`);
      out[name] = n;
    } else {
      out[name] = raw === undefined ? flag.default : String(raw);
    }
  }
  return out as ParsedFlags<S> & { help: boolean };
}

/**
 * The flags of a benchmark's command line, or the exit code to end with at once:
 * 2 after saying what is wrong with them, 0 after printing the usage for --help.
 */
export function readCommandLine<S extends FlagSpec>(
  argv: string[],
  spec: S,
  command: string,
): (ParsedFlags<S> & { help: boolean }) | number {
  let flags: ParsedFlags<S> & { help: boolean };
  try {
    flags = parseFlags(argv, spec);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n${usage(command, spec)}\n`);
    return 2;
  }
  if (flags.help) {
    process.stdout.write(`${usage(command, spec)}\n`);
    return 0;
  }
  return flags;
}
