import { Command, CommanderError, InvalidArgumentError } from 'commander';

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

function isInt(flag: FlagSpec[string]): flag is IntFlag {
  return 'min' in flag;
}

function isBool(flag: FlagSpec[string]): flag is { boolean: true; help: string } {
  return 'boolean' in flag;
}

/** commander's property for an option: `--register-concurrency` → `registerConcurrency`. */
const camelCase = (name: string) => name.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());

function wholeNumber(name: string, flag: IntFlag) {
  return (raw: string): number => {
    const text = raw.replace(/_/g, '');
    if (!/^\d+$/.test(text)) throw new InvalidArgumentError(`--${name} must be a whole number, got "${raw}"`);
    const n = Number(text);
    if (n < flag.min || n > flag.max) throw new InvalidArgumentError(`--${name} must be between ${flag.min} and ${flag.max}, got ${n}`);
    return n;
  };
}

/** The benchmark's command line, declared from its flag spec. */
function commandLine(command: string, spec: FlagSpec): Command {
  const program = new Command(command).exitOverride().allowExcessArguments(false).helpOption('-h, --help');
  for (const [name, flag] of Object.entries(spec)) {
    if (isBool(flag)) program.option(`--${name}`, flag.help);
    else if (isInt(flag)) program.option(`--${name} <n>`, flag.help, wholeNumber(name, flag), flag.default);
    else program.option(`--${name} <value>`, flag.help, flag.default);
  }
  return program;
}

/**
 * The flags of a benchmark's command line, or the exit code to end with at once:
 * 2 after saying what is wrong with them, 0 after printing the usage for --help.
 */
export function readCommandLine<S extends FlagSpec>(argv: string[], spec: S, command: string): ParsedFlags<S> | number {
  const program = commandLine(command, spec);
  try {
    program.parse(argv, { from: 'user' });
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    return error.exitCode === 0 ? 0 : 2;
  }
  const options = program.opts();
  const flags: Record<string, number | string | boolean> = {};
  for (const [name, flag] of Object.entries(spec)) {
    const value = options[camelCase(name)];
    flags[name] = isBool(flag) ? value === true : value;
  }
  return flags as ParsedFlags<S>;
}
