/**
 * The periodic work that grows with the fleet, per pass, at 10,000 and 100,000 hives:
 *
 *   npm run bench:periodic
 *
 *   sweep, quiet      LivenessSweeper's pass when no hive went silent (the usual pass, every second)
 *   sweep, 1% silent  a pass that announces 1% of the fleet offline
 *   flush             the coalesced write of every hive's heartbeat time (every 5 s), on SQLite
 *   metrics           the fleet gauges a Prometheus scrape computes (GET /metrics, GET /v1/fleet)
 *
 * Each in process, on the real classes, with the fleet beating every hive once
 * per flush as a real one does; CPU time per pass, median and worst of --passes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DataSource } from 'typeorm';
import { CatalogWriteBehind } from '../src/catalog/catalog-write-behind';
import { LeaderFence } from '../src/catalog/leader-fence';
import { ClusterLink } from '../src/platform/cluster/cluster-link';
import { CatalogWriter } from '../src/catalog/catalog-writer';
import { DeploymentCatalog } from '../src/catalog/deployment-catalog';
import { buildDataSourceOptions } from '../src/catalog/database/database-options';
import { HiveCatalog } from '../src/catalog/hive-catalog.service';
import { FleetView } from '../src/fleet/fleet-view';
import { ManualClock } from '../src/platform/clock/clock';
import { loadConfig } from '../src/platform/config/queen-config';
import { SecretBox } from '../src/platform/security/secret-box';
import { HiveRegistry } from '../src/registry/hive-registry';
import type { WorkerReport } from '../src/registry/registry.types';
import { readCommandLine } from './lib/args';
import { fmtInt, fmtNum, machineInfo, progress, table, writeJson } from './lib/format';
import { exitCodeFor, runBenchmark } from './lib/run';

const GiB = 2 ** 30;

const FLAGS = {
  sizes: { default: '10000,100000', help: 'fleet sizes, comma-separated' },
  passes: { default: 20, min: 3, max: 1000, help: 'passes measured per kind of work' },
  out: { default: 'bench/results/periodic-latest.json', help: 'JSON results file' },
};

function worker(hive: number, index: number): WorkerReport {
  return {
    workerId: `w-${hive}-${index}`,
    modelId: 'llama-3-8b',
    state: 'idle',
    backend: 'cuda',
    deviceId: index,
    device: `cuda:${index}`,
    vramBytes: 8 * GiB,
    ramBytes: 2 * GiB,
    url: `http://10.0.0.1:${9000 + index}`,
    healthStatus: 'healthy',
    lastHeartbeat: null,
    cpuPercent: 1,
    gpuPercent: 1,
  };
}

/** CPU milliseconds (all threads: SQLite writes on libuv's) of each call of `pass`, run `count` times, each after an untimed `setup`. */
async function time(count: number, pass: () => unknown, setup: () => void = () => undefined): Promise<{ medianMs: number; maxMs: number }> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    setup();
    const before = process.cpuUsage();
    await pass();
    const used = process.cpuUsage(before);
    samples.push((used.user + used.system) / 1000);
  }
  samples.sort((a, b) => a - b);
  return { medianMs: samples[Math.floor(samples.length / 2)], maxMs: samples[samples.length - 1] };
}

interface SizeResult {
  hives: number;
  passes: Record<string, { medianMs: number; maxMs: number }>;
}

async function measureSize(hives: number, passes: number): Promise<SizeResult> {
  const dir = mkdtempSync(join(tmpdir(), 'queen-bench-periodic-'));
  const config = loadConfig({ DATABASE_URL: `sqlite://${join(dir, 'queen.sqlite')}`, QUEEN_DATA_DIR: dir, LOG_LEVEL: 'silent' });
  const clock = new ManualClock(Date.parse('2026-11-27T10:00:00Z'));
  const dataSource = await new DataSource(buildDataSourceOptions(config.database)).initialize();
  await dataSource.runMigrations();
  try {
    const writer = new CatalogWriter();
    const cluster = new ClusterLink(config);
    const fence = new LeaderFence(cluster);
    const catalog = new HiveCatalog(dataSource, new SecretBox(Buffer.alloc(32, 7)), clock, writer, cluster, fence);
    const registry = new HiveRegistry(config.heartbeatTimeoutMs, clock.now());
    const writeBehind = new CatalogWriteBehind(catalog, config);
    progress(`${fmtInt(hives)} hives: registering`);
    await dataSource.transaction(async (manager) => {
      for (let h = 0; h < hives; h += 500) {
        const rows = Array.from({ length: Math.min(500, hives - h) }, (_, i) => ({
          id: `hive-${String(h + i).padStart(6, '0')}`,
          host: '10.0.0.1',
          port: 7835,
          sshUser: null,
          sshPort: null,
          sshSecret: null,
          tokenHash: `${String(h + i).padStart(64, '0')}`,
          labels: {},
          cordoned: false,
          status: 'unknown' as const,
          lastHeartbeatAt: null,
          capabilities: null,
          createdAt: new Date(clock.now()),
          updatedAt: new Date(clock.now()),
        }));
        await manager.getRepository('HiveEntity').insert(rows);
      }
    });
    await catalog.onModuleInit();
    const capabilities = { cpuCores: 64, ramBytes: 512 * GiB, gpus: Array.from({ length: 8 }, (_, index) => ({ index, name: 'H100', vramBytes: 80 * GiB, backend: 'cuda' as const })) };
    const ids: string[] = [];
    for (const hive of catalog.all()) {
      ids.push(hive.id);
      registry.track({ id: hive.id, cordoned: false, labels: {}, capabilities, status: 'unknown' });
    }
    progress(`${fmtInt(hives)} hives: first beats`);
    ids.forEach((id, h) => {
      registry.applyHeartbeat(id, { stamp: { sequence: 1, timestamp: clock.now() }, workers: Array.from({ length: 8 }, (_, i) => worker(h, i)), receivedAt: clock.now() });
    });
    const fleet = new FleetView(catalog, registry, new DeploymentCatalog(dataSource, writer, clock, cluster, fence), clock);

    const results: SizeResult['passes'] = {};
    results['sweep, quiet'] = await time(passes, () => {
      clock.advance(1);
      return registry.sweep(clock.now());
    });
    const beatAllBut = (silent: number) => {
      const now = clock.now();
      for (let h = silent; h < ids.length; h++) registry.applyHeartbeat(ids[h], { stamp: { sequence: now, timestamp: now }, workers: [], receivedAt: now });
    };
    results['sweep, 1% silent'] = await time(
      Math.min(passes, 10),
      () => registry.sweep(clock.now()),
      () => {
        // Everyone beats, then a timeout passes in which all but the first 1% beat again.
        beatAllBut(0);
        clock.advance(config.heartbeatTimeoutMs + 1);
        beatAllBut(Math.ceil(hives / 100));
      },
    );
    results.flush = await time(
      Math.min(passes, 5),
      () => writeBehind.flushHeartbeats(),
      () => {
        clock.advance(5000);
        for (const id of ids) writeBehind.noteHeartbeat(id, clock.now());
      },
    );
    results.metrics = await time(passes, () => fleet.summary());
    return { hives, passes: results };
  } finally {
    await dataSource.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<number> {
  const flags = readCommandLine(process.argv.slice(2), FLAGS, 'node dist/bench/periodic.js');
  if (typeof flags === 'number') return flags;
  const sizes = flags.sizes.split(',').map((size) => Number(size.trim()));
  if (sizes.some((size) => !Number.isInteger(size) || size < 100 || size > 1_000_000)) {
    process.stderr.write(`--sizes must list fleet sizes from 100 to 1000000 (got "${flags.sizes}")\n`);
    return 2;
  }
  const results: SizeResult[] = [];
  for (const size of sizes) results.push(await measureSize(size, flags.passes));
  const kinds = Object.keys(results[0].passes);
  const lines = [
    'Periodic work per pass (CPU ms, median / worst)',
    `Machine: ${machineInfo().cpus} x ${machineInfo().cpuModel}`,
    '',
    table(['work', ...results.map((r) => `${fmtInt(r.hives)} hives`)], kinds.map((kind) => [kind, ...results.map((r) => `${fmtNum(r.passes[kind].medianMs, 2)} / ${fmtNum(r.passes[kind].maxMs, 2)}`)])),
  ];
  process.stdout.write(`\n${lines.join('\n')}\n`);
  writeJson(resolve(flags.out), { benchmark: 'periodic', machine: machineInfo(), results });
  return exitCodeFor([]);
}

runBenchmark(main);
