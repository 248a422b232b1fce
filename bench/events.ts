/**
 * Event-stream benchmark: do event clients that stop reading slow the hives down?
 *
 *   npm run bench:events                 # 1,000 hives, 400 heartbeats/s, 3 stuck clients
 *   npm run bench:events -- --duration 5 # quick run
 *
 * The built queen runs in its default configuration as a child process on
 * core 0; this process (the load generator) runs on the last core. Hives are
 * registered, then heartbeats are sent open loop at --rate, each one changing
 * its hive's workers so that every beat publishes events (worker.added and
 * worker.removed). In the same run, alternating:
 *   none     no event clients;
 *   stuck    --clients connections that open GET /v1/events and never read
 *            (the socket is paused: the kernel's buffers fill, then the queen's);
 *   reading  --clients connections that read everything.
 * Prints heartbeat p50/p99 per round, the ratio stuck / none, and how many stuck
 * clients the queen dropped. Writes bench/results/events-latest.json.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readCommandLine } from './lib/args';
import { ChildServer } from './lib/child-server';
import { fmtInt, fmtNum, machineInfo, progress, table, writeJson } from './lib/format';
import { BenchHive, registerHives } from './lib/hives';
import { LoadRequest, loadProblems, LoadSummary, runLoad } from './lib/load';
import { counterDelta, scrapeMetrics } from './lib/metrics';
import { exitCodeFor, pinLoadGenerator, runBenchmark } from './lib/run';

const DIST = resolve(__dirname, '..');
const PROJECT = process.cwd();

const FLAGS = {
  hives: { default: 1000, min: 1, max: 100_000, help: 'hives registered and beating' },
  rate: { default: 400, min: 1, max: 100_000, help: 'heartbeats per second (open loop)' },
  clients: { default: 3, min: 1, max: 100, help: 'event clients in the stuck and reading rounds' },
  duration: { default: 15, min: 1, max: 600, help: 'measured seconds per round' },
  rounds: { default: 2, min: 1, max: 10, help: 'times each kind of round is run, alternating' },
  connections: { default: 20, min: 1, max: 1000, help: 'load generator connections' },
  out: { default: 'bench/results/events-latest.json', help: 'JSON results file' },
};

type RoundKind = 'none' | 'stuck' | 'reading';

/** Heartbeats whose workers change every beat: each publishes a worker.added and a worker.removed. */
function churningFeed(hives: BenchHive[]): () => LoadRequest {
  let cursor = 0;
  const sequences = new Float64Array(hives.length);
  return () => {
    const i = cursor;
    cursor = (cursor + 1) % hives.length;
    const sequence = ++sequences[i];
    const timestamp = new Date().toISOString();
    const capabilities = sequence === 1 ? ',"capabilities":{"cpu_cores":8,"ram_bytes":68719476736,"gpus":[]}' : '';
    return {
      method: 'POST',
      path: '/v1/heartbeat',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${hives[i].token}` },
      body: `{"hive_id":"${hives[i].id}","timestamp":"${timestamp}","sequence":${sequence}${capabilities},"workers":[{"worker_id":"w-${sequence}","state":"Idle","backend":"cpu","ram_bytes":1073741824}]}`,
    };
  };
}

/** Event-stream connections: `stuck` ones never read a byte after the request; `reading` ones read and discard. */
async function openClients(baseUrl: string, count: number, reading: boolean): Promise<Socket[]> {
  const { port } = new URL(baseUrl);
  return Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Socket>((done, fail) => {
          const socket = connect(Number(port), '127.0.0.1', () => {
            socket.write('GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n');
            if (reading) socket.on('data', () => undefined);
            else socket.pause();
            done(socket);
          });
          socket.on('error', () => socket.destroy());
          socket.once('error', fail);
        }),
    ),
  );
}

interface Round {
  kind: RoundKind;
  load: LoadSummary;
  droppedClients: number | null;
}

async function main(): Promise<number> {
  const flags = readCommandLine(process.argv.slice(2), FLAGS, 'node dist/bench/events.js');
  if (typeof flags === 'number') return flags;
  const pinning = pinLoadGenerator();
  const dataDir = mkdtempSync(join(tmpdir(), 'queen-bench-events-'));
  const errors: string[] = [];
  const rounds: Round[] = [];
  progress(`queen: starting (default configuration${pinning === 'pinned' ? ', core 0; load generator on the last core' : ''})`);
  const server = await ChildServer.start({ name: 'queen', script: join(DIST, 'src/main.js'), env: { QUEEN_DATA_DIR: dataDir }, cwd: PROJECT, cpus: '0' });
  try {
    progress(`registering ${fmtInt(flags.hives)} hives`);
    const { hives } = await registerHives({ baseUrl: server.baseUrl, count: flags.hives });
    const next = churningFeed(hives);
    const load = (durationS: number) => runLoad({ baseUrl: server.baseUrl, connections: flags.connections, durationS, ratePerSecond: flags.rate, next });
    progress('warm-up: 3 s');
    await load(3);
    const order: RoundKind[] = [];
    for (let r = 0; r < flags.rounds; r++) order.push('none', 'stuck', 'reading');
    for (const kind of order) {
      const clients = kind === 'none' ? [] : await openClients(server.baseUrl, flags.clients, kind === 'reading');
      const before = await scrapeMetrics(server.baseUrl);
      progress(`round ${kind}: ${flags.duration} s at ${flags.rate}/s with ${clients.length} event clients`);
      const summary = await load(flags.duration);
      const after = await scrapeMetrics(server.baseUrl);
      for (const socket of clients) socket.destroy();
      const problem = loadProblems(`round ${kind}`, summary);
      if (problem) errors.push(problem);
      rounds.push({ kind, load: summary, droppedClients: counterDelta(before, after, 'queen_event_clients_dropped_total') });
      progress(`  p50 ${summary.latencyMs.p50} ms, p99 ${summary.latencyMs.p99} ms`);
    }
  } catch (error) {
    errors.push((error as Error).message);
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }

  const p99 = (kind: RoundKind) => {
    const values = rounds.filter((round) => round.kind === kind).map((round) => round.load.latencyMs.p99);
    return values.length ? Math.max(...values) : null;
  };
  const lines = [
    `Event-stream benchmark: ${fmtInt(flags.hives)} hives, ${fmtInt(flags.rate)} heartbeats/s (each publishing 2 events), ${flags.clients} event clients, ${flags.duration} s rounds`,
    `Machine: ${machineInfo().cpus} x ${machineInfo().cpuModel}; queen on core 0, load generator ${pinning === 'unpinned' ? 'not pinned (no taskset)' : 'on the last core'}`,
    '',
    table(
      ['round', 'heartbeats/s', 'p50 ms', 'p99 ms', 'max ms', 'stuck clients dropped'],
      rounds.map((round) => [round.kind, fmtInt(round.load.perSecond), fmtNum(round.load.latencyMs.p50, 0), fmtNum(round.load.latencyMs.p99, 0), fmtNum(round.load.latencyMs.max, 0), round.kind === 'stuck' ? fmtInt(round.droppedClients) : '']),
    ),
    '',
    `worst p99: none ${p99('none')} ms, stuck ${p99('stuck')} ms, reading ${p99('reading')} ms; stuck / none = ${fmtNum((p99('stuck') ?? NaN) / (p99('none') ?? NaN), 2)}x`,
  ];
  process.stdout.write(`\n${lines.join('\n')}\n`);
  writeJson(resolve(flags.out), { benchmark: 'events', machine: machineInfo(), parameters: flags, rounds, errors });
  return exitCodeFor(errors);
}

runBenchmark(main);
