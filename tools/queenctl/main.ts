#!/usr/bin/env node
/**
 * queenctl: the queen's admin API from a terminal.
 *
 *   queenctl hives ls
 *   queenctl workers start --model llama-3-8b --vram 8GiB
 *   queenctl events --types hive.online,hive.offline
 *
 * QUEEN_URL and QUEEN_API_TOKEN come from the environment (or --queen, --token). Exit codes: 0 done,
 * 1 the queen refused (its problem is printed), 2 a usage error, 3 the queen could not be reached.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { parse as parseYaml } from 'yaml';
import { Problem, ProblemError, QueenClient, UnreachableError } from './client';
import { followEvents, StreamEvent } from './events';
import { Column, OUTPUT_FORMATS, OutputFormat, render, renderFields, renderTable } from './output';
import { formatBytes, parseBytes } from './sizes';

export const EXIT = { ok: 0, refused: 1, usage: 2, unreachable: 3 } as const;

interface GlobalOptions {
  queen: string;
  token?: string;
  output: OutputFormat;
}

interface Hive {
  id: string;
  host: string;
  port: number;
  status: string;
  cordoned: boolean;
  labels: Record<string, string>;
  last_heartbeat_at: string | null;
  capabilities: { gpus: { name: string; vram_bytes: number }[] } | null;
  ssh: { user: string | null } | null;
  created_at: string;
}

interface Worker {
  worker_id: string;
  hive_id: string;
  model_id: string | null;
  state: string;
  device: string | null;
  vram_bytes: number | null;
}

/** Where text goes; tests and the terminal alike. */
export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Terminal width that tables fit in. */
  columns: number;
}

interface Deployment {
  name: string;
  model_id: string;
  replicas: number;
  vram_bytes: number;
  ram_bytes: number;
  backend: string | null;
  strategy: string;
  labels: Record<string, string>;
  max_per_hive: number | null;
  status: { ready: number; starting: number; lost: number; unplaced: number; reason: string | null; workers: { worker_id: string; hive_id: string; device: string; state: string }[] };
}

const DEPLOYMENT_COLUMNS: Column<Deployment>[] = [
  { header: 'NAME', value: (d) => d.name },
  { header: 'MODEL', value: (d) => d.model_id },
  { header: 'READY', value: (d) => `${d.status.ready}/${d.replicas}` },
  { header: 'STARTING', value: (d) => String(d.status.starting) },
  { header: 'LOST', value: (d) => String(d.status.lost) },
  { header: 'UNPLACED', value: (d) => String(d.status.unplaced) },
  { header: 'REASON', value: (d) => d.status.reason ?? '-' },
];

/** Fields of a deployment that PATCH changes; the others are fixed at creation. */
const CHANGEABLE = ['replicas', 'strategy', 'labels', 'max_per_hive'] as const;
const SIZE_FIELDS = ['vram_bytes', 'ram_bytes'] as const;

/** A deployment file (YAML or JSON) as the API takes it; sizes may be written `8GiB`. */
function readDeploymentFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new CommanderError(EXIT.usage, 'queenctl.file', `cannot read ${path}: ${(error as Error).message}`);
  }
  let body: unknown;
  try {
    body = parseYaml(text);
  } catch (error) {
    throw new CommanderError(EXIT.usage, 'queenctl.file', `${path} is not YAML or JSON: ${(error as Error).message.split('\n')[0]}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new CommanderError(EXIT.usage, 'queenctl.file', `${path} must hold one deployment (a mapping)`);
  const deployment = { ...(body as Record<string, unknown>) };
  for (const field of SIZE_FIELDS) {
    if (typeof deployment[field] === 'string') deployment[field] = sizeOption(field)(deployment[field] as string);
  }
  return deployment;
}

const ago = (iso: string | null): string => {
  if (iso === null) return 'never';
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 120) return `${seconds}s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m ago`;
  return `${Math.round(seconds / 3600)}h ago`;
};

const labelsText = (labels: Record<string, string>) =>
  Object.entries(labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(',') || '-';

function gpusText(hive: Hive): string {
  const gpus = hive.capabilities?.gpus;
  if (!gpus) return '?';
  if (gpus.length === 0) return 'none';
  const kinds = new Map<string, number>();
  for (const gpu of gpus) {
    const kind = `${gpu.name} ${formatBytes(gpu.vram_bytes)}`;
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  return [...kinds].map(([kind, count]) => `${count}x ${kind}`).join(', ');
}

const HIVE_COLUMNS: Column<Hive>[] = [
  { header: 'ID', value: (h) => h.id },
  { header: 'STATUS', value: (h) => h.status + (h.cordoned ? ',cordoned' : '') },
  { header: 'ADDRESS', value: (h) => `${h.host}:${h.port}` },
  { header: 'GPUS', value: gpusText },
  { header: 'LABELS', value: (h) => labelsText(h.labels) },
  { header: 'LAST HEARTBEAT', value: (h) => ago(h.last_heartbeat_at) },
];

const WORKER_COLUMNS: Column<Worker>[] = [
  { header: 'WORKER', value: (w) => w.worker_id },
  { header: 'HIVE', value: (w) => w.hive_id },
  { header: 'DEVICE', value: (w) => w.device ?? '-' },
  { header: 'MODEL', value: (w) => w.model_id ?? '-' },
  { header: 'STATE', value: (w) => w.state },
  { header: 'VRAM', value: (w) => (w.vram_bytes === null ? '-' : formatBytes(w.vram_bytes)) },
];

/** Collects repeated `--label key=value` options into a map. */
function collectLabel(text: string, labels: Record<string, string> = {}): Record<string, string> {
  const at = text.indexOf('=');
  if (at <= 0) throw new CommanderError(EXIT.usage, 'queenctl.label', `--label takes key=value, not "${text}"`);
  return { ...labels, [text.slice(0, at)]: text.slice(at + 1) };
}

function sizeOption(flag: string): (text: string) => number {
  return (text) => {
    try {
      return parseBytes(text);
    } catch (error) {
      throw new CommanderError(EXIT.usage, 'queenctl.size', `${flag}: ${(error as Error).message}`);
    }
  };
}

/** The problem as a person reads it: status, title and detail, then what it names field by field. */
export function describeProblem(problem: Problem): string {
  const lines = [`${problem.status} ${problem.title ?? ''}: ${problem.detail ?? ''}`.replace(/ : /, ': ')];
  for (const error of problem.errors ?? []) lines.push(`  ${error.field}: ${error.message}`);
  const rejections = problem.rejections as Record<string, string> | undefined;
  for (const [hive, reason] of Object.entries(rejections ?? {})) lines.push(`  ${hive}: ${reason}`);
  const tried = problem.tried as Record<string, { status: number | null; reason: string; uncertain: boolean }> | undefined;
  for (const [hive, attempt] of Object.entries(tried ?? {})) {
    lines.push(`  ${hive}: ${attempt.status ?? 'no answer'} ${attempt.reason}${attempt.uncertain ? ' (may have started it)' : ''}`);
  }
  return lines.join('\n');
}

export function buildProgram(io: Io): Command {
  const program = new Command('queenctl')
    .description('Operate a queen: hives, workers, deployments, placements and events.')
    .addOption(new Option('--queen <url>', 'the queen\'s base URL').env('QUEEN_URL').default('http://127.0.0.1:7833'))
    .addOption(new Option('--token <token>', 'admin token').env('QUEEN_API_TOKEN'))
    .addOption(new Option('-o, --output <format>', 'table, json or yaml').choices(OUTPUT_FORMATS).default('table'))
    .showHelpAfterError('(queenctl --help lists the commands)')
    .configureOutput({ writeOut: (text) => io.out(text.trimEnd()), writeErr: (text) => io.err(text.trimEnd()) })
    .exitOverride();
  const options = (): GlobalOptions => program.opts<GlobalOptions>();
  const client = () => {
    const { queen, token } = options();
    return new QueenClient(queen, token);
  };
  /** Prints a value as asked: a table (or fields) for people, the API's JSON or YAML for scripts. */
  const show = (value: unknown, table: () => string) => io.out(options().output === 'table' ? table() : render(value, options().output as 'json' | 'yaml'));
  const done = (value: unknown, message: string) => show(value, () => message);

  const hives = program.command('hives').description('the catalog of hives');
  hives
    .command('ls')
    .description('list hives')
    .addOption(new Option('--status <status>', 'only hives with this status').choices(['unknown', 'online', 'offline']))
    .action(async ({ status }: { status?: string }) => {
      const items = await client().listAll<Hive>('/v1/hives', status ? { status } : {});
      show(items, () => (items.length === 0 ? 'no hives' : renderTable(items, HIVE_COLUMNS, io.columns)));
    });
  hives
    .command('get <id>')
    .description('show one hive')
    .action(async (id: string) => {
      const { body } = await client().request<Hive>('GET', `/v1/hives/${encodeURIComponent(id)}`);
      show(body, () =>
        renderFields([
          ['id', body.id],
          ['status', body.status],
          ['address', `${body.host}:${body.port}`],
          ['cordoned', body.cordoned ? 'yes' : 'no'],
          ['labels', labelsText(body.labels)],
          ['gpus', gpusText(body)],
          ['ssh user', body.ssh?.user ?? '-'],
          ['last heartbeat', body.last_heartbeat_at ? `${body.last_heartbeat_at} (${ago(body.last_heartbeat_at)})` : 'never'],
          ['registered', body.created_at],
        ]),
      );
    });
  hives
    .command('add <id>')
    .description('register a hive; prints its heartbeat token, shown this once')
    .requiredOption('--host <host>', 'address the queen reaches the hive at')
    .requiredOption('--port <port>', 'the hive API port', (text) => Number(text))
    .option('--label <key=value>', 'a label (repeatable)', collectLabel)
    .action(async (id: string, { host, port, label }: { host: string; port: number; label?: Record<string, string> }) => {
      const { body } = await client().request<Hive & { heartbeat_token: string }>('POST', '/v1/hives', { body: { id, host, port, labels: label } });
      done(body, `hive ${body.id} registered; heartbeat token (shown this once): ${body.heartbeat_token}`);
    });
  for (const [name, cordoned] of [
    ['cordon', true],
    ['uncordon', false],
  ] as const) {
    hives
      .command(`${name} <id>`)
      .description(cordoned ? 'offer the hive no new workers (it keeps those it runs)' : 'offer the hive new workers again')
      .action(async (id: string) => {
        const { body } = await client().request<Hive>('PATCH', `/v1/hives/${encodeURIComponent(id)}`, { body: { cordoned } });
        done(body, `hive ${body.id} ${name}ed`);
      });
  }
  hives
    .command('rm <id>')
    .description('remove a hive from the catalog (its workers keep running)')
    .action(async (id: string) => {
      await client().request('DELETE', `/v1/hives/${encodeURIComponent(id)}`);
      done({ id, removed: true }, `hive ${id} removed`);
    });
  hives
    .command('token <id>')
    .description('issue a new heartbeat token; the old one stops working at once')
    .action(async (id: string) => {
      const { body } = await client().request<{ heartbeat_token: string }>('POST', `/v1/hives/${encodeURIComponent(id)}/token`);
      done(body, body.heartbeat_token);
    });

  const workers = program.command('workers').description('inference workers on the hives');
  workers
    .command('ls')
    .description('list workers, reported and starting')
    .option('--hive <id>', 'only on this hive')
    .option('--model <id>', 'only of this model')
    .action(async ({ hive, model }: { hive?: string; model?: string }) => {
      const query = new URLSearchParams({ ...(hive ? { hive_id: hive } : {}), ...(model ? { model_id: model } : {}) });
      const { body } = await client().request<{ items: Worker[] }>('GET', `/v1/workers${query.size > 0 ? `?${query}` : ''}`);
      show(body.items, () => (body.items.length === 0 ? 'no workers' : renderTable(body.items, WORKER_COLUMNS, io.columns)));
    });
  const placementOptions = (command: Command) =>
    command
      .requiredOption('--model <id>', 'model to run')
      .requiredOption('--vram <size>', 'VRAM on one GPU (8GiB; 0 for a CPU worker)', sizeOption('--vram'))
      .option('--ram <size>', 'host RAM', sizeOption('--ram'))
      .addOption(new Option('--backend <backend>', 'only this backend').choices(['cuda', 'metal', 'cpu']))
      .addOption(new Option('--strategy <strategy>', 'binpack fills, spread empties').choices(['binpack', 'spread']))
      .option('--hive <id>', 'only this hive')
      .option('--label <key=value>', 'only hives with this label (repeatable)', collectLabel);
  interface PlacementFlags {
    model: string;
    vram: number;
    ram?: number;
    backend?: string;
    strategy?: string;
    hive?: string;
    label?: Record<string, string>;
    id?: string;
  }
  const placementBody = (flags: PlacementFlags) => ({
    model_id: flags.model,
    vram_bytes: flags.vram,
    ram_bytes: flags.ram,
    backend: flags.backend,
    strategy: flags.strategy,
    hive_id: flags.hive,
    labels: flags.label,
  });
  placementOptions(workers.command('start').description('place a worker and start it (safe to retry: one Idempotency-Key per command)'))
    .option('--id <worker-id>', 'the worker\'s id (refused if it exists)')
    .action(async (flags: PlacementFlags) => {
      const { body } = await client().create<{ worker_id: string; hive_id: string; device: string }>('/v1/workers', {
        ...placementBody(flags),
        worker_id: flags.id,
      });
      done(body, `worker ${body.worker_id} starting on ${body.hive_id} (${body.device})`);
    });
  workers
    .command('stop <id>')
    .description('ask the worker\'s hive to stop it')
    .action(async (id: string) => {
      const { body } = await client().request<{ hive_id: string }>('DELETE', `/v1/workers/${encodeURIComponent(id)}`);
      done(body, `worker ${id} stopping on ${body.hive_id}`);
    });

  placementOptions(program.command('place').description('where a worker would go now (nothing is reserved or started)')).action(
    async (flags: PlacementFlags) => {
      const { body } = await client().request<{ hive_id: string; device: string; score: number }>('POST', '/v1/placements', { body: placementBody(flags) });
      done(body, `${body.hive_id} ${body.device} (score ${body.score.toFixed(2)})`);
    },
  );

  program
    .command('events')
    .description('follow fleet events; resumes after a dropped connection without missing any')
    .option('--types <list>', 'comma-separated event types')
    .option('--since <event-id>', 'resume after this event id')
    .option('--limit <n>', 'stop after n events', (text) => Number(text))
    .action(async ({ types, since, limit }: { types?: string; since?: string; limit?: number }) => {
      const format = options().output;
      await followEvents(client(), {
        types,
        since,
        limit,
        onEvent: (event: StreamEvent) => {
          if (format === 'table') {
            const { type: _type, at, ...details } = event.data;
            const text = Object.entries(details)
              .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
              .join(' ');
            io.out(`${String(at)}  ${event.event.padEnd(18)}  ${text}`);
          } else {
            io.out(format === 'json' ? JSON.stringify({ id: event.id, ...event.data }) : `---\n${render({ id: event.id, ...event.data }, 'yaml')}`);
          }
        },
        onReconnect: (reason) => io.err(`queenctl: ${reason}; reconnecting`),
      });
    });

  const deployments = program.command('deployments').description('models the queen keeps running');
  deployments
    .command('ls')
    .description('list deployments with their replicas ready')
    .action(async () => {
      const items = await client().listAll<Deployment>('/v1/deployments');
      show(items, () => (items.length === 0 ? 'no deployments' : renderTable(items, DEPLOYMENT_COLUMNS, io.columns)));
    });
  deployments
    .command('get <name>')
    .description('show one deployment and its workers')
    .action(async (name: string) => {
      const { body } = await client().request<Deployment>('GET', `/v1/deployments/${encodeURIComponent(name)}`);
      show(body, () =>
        [
          renderFields([
            ['name', body.name],
            ['model', body.model_id],
            ['replicas', `${body.status.ready} ready of ${body.replicas} (${body.status.starting} starting, ${body.status.lost} lost, ${body.status.unplaced} unplaced)`],
            ['reason', body.status.reason ?? '-'],
            ['needs', `${formatBytes(body.vram_bytes)} VRAM, ${formatBytes(body.ram_bytes)} RAM${body.backend ? `, ${body.backend}` : ''}`],
            ['placement', `${body.strategy}${body.max_per_hive === null ? '' : `, at most ${body.max_per_hive} per hive`}, labels ${labelsText(body.labels)}`],
          ]),
          ...(body.status.workers.length === 0
            ? []
            : [
                '',
                renderTable(body.status.workers, [
                  { header: 'WORKER', value: (w) => w.worker_id },
                  { header: 'HIVE', value: (w) => w.hive_id },
                  { header: 'DEVICE', value: (w) => w.device },
                  { header: 'STATE', value: (w) => w.state },
                ], io.columns),
              ]),
        ].join('\n'),
      );
    });
  deployments
    .command('apply')
    .description('create the deployment a file describes, or change it to match')
    .requiredOption('-f, --file <path>', 'YAML or JSON: name, model_id, replicas, vram_bytes (8GiB), ram_bytes, backend, strategy, labels, max_per_hive')
    .action(async ({ file }: { file: string }) => {
      const wanted = readDeploymentFile(file);
      const name = wanted.name;
      if (typeof name !== 'string') throw new CommanderError(EXIT.usage, 'queenctl.file', `${file} has no name`);
      let current: Deployment | null = null;
      try {
        current = (await client().request<Deployment>('GET', `/v1/deployments/${encodeURIComponent(name)}`)).body;
      } catch (error) {
        if (!(error instanceof ProblemError && error.problem.status === 404)) throw error;
      }
      if (current === null) {
        const { body } = await client().create<Deployment>('/v1/deployments', wanted);
        done(body, `deployment ${body.name} created`);
        return;
      }
      const fixed = Object.keys(wanted).filter(
        (key) => key !== 'name' && !(CHANGEABLE as readonly string[]).includes(key) && JSON.stringify(wanted[key]) !== JSON.stringify((current as unknown as Record<string, unknown>)[key]),
      );
      if (fixed.length > 0) {
        throw new CommanderError(EXIT.usage, 'queenctl.fixed', `deployment ${name}: ${fixed.join(', ')} cannot change; remove it (queenctl deployments rm ${name}) and apply again`);
      }
      const change = Object.fromEntries(
        CHANGEABLE.filter((key) => key in wanted && JSON.stringify(wanted[key]) !== JSON.stringify(current![key])).map((key) => [key, wanted[key]]),
      );
      if (Object.keys(change).length === 0) {
        done(current, `deployment ${name} unchanged`);
        return;
      }
      const { body } = await client().request<Deployment>('PATCH', `/v1/deployments/${encodeURIComponent(name)}`, { body: change });
      done(body, `deployment ${name} configured (${Object.keys(change).join(', ')})`);
    });
  deployments
    .command('scale <name>')
    .description('change how many replicas the queen keeps running')
    .requiredOption('--replicas <n>', 'replicas, 0 to 1000', (text) => Number(text))
    .action(async (name: string, { replicas }: { replicas: number }) => {
      const { body } = await client().request<Deployment>('PATCH', `/v1/deployments/${encodeURIComponent(name)}`, { body: { replicas } });
      done(body, `deployment ${name} scaled to ${body.replicas}`);
    });
  deployments
    .command('rm <name>')
    .description('delete a deployment; the queen stops its workers')
    .action(async (name: string) => {
      await client().request('DELETE', `/v1/deployments/${encodeURIComponent(name)}`);
      done({ name, deleted: true }, `deployment ${name} deleted; its workers are being stopped`);
    });

  program
    .command('cluster')
    .description('the queens serving this fleet and which one leads')
    .action(async () => {
      const { body } = await client().request<{ queen_id: string; leader_id: string | null; term: number; queens: { queen_id: string; url: string; last_seen_at: string }[] }>(
        'GET',
        '/v1/cluster',
      );
      show(body, () =>
        [
          renderFields([
            ['answered by', body.queen_id],
            ['leader', body.leader_id ?? 'none'],
            ['term', String(body.term)],
          ]),
          '',
          renderTable(body.queens, [
            { header: 'QUEEN', value: (q) => q.queen_id + (q.queen_id === body.leader_id ? ' (leader)' : '') },
            { header: 'URL', value: (q) => q.url },
            { header: 'LAST SEEN', value: (q) => ago(q.last_seen_at) },
          ], io.columns),
        ].join('\n'),
      );
    });

  return program;
}

/** Runs one command line; resolves with the exit code. */
export async function run(argv: string[], io: Io): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return EXIT.ok;
      if (error.code.startsWith('queenctl.')) io.err(`queenctl: ${error.message}`);
      return EXIT.usage;
    }
    if (error instanceof ProblemError) {
      const format = program.opts<GlobalOptions>().output;
      io.err(format === 'table' ? `queenctl: ${describeProblem(error.problem)}` : render(error.problem, format === 'yaml' ? 'yaml' : 'json'));
      return EXIT.refused;
    }
    if (error instanceof UnreachableError) {
      io.err(`queenctl: ${error.message}`);
      return EXIT.unreachable;
    }
    throw error;
  }
}

if (require.main === module) {
  const io: Io = {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
    columns: process.stdout.columns || Number(process.env.COLUMNS) || 100,
  };
  run(process.argv.slice(2), io).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`queenctl: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
