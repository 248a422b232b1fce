/**
 * Fleet simulator CLI: starts simulated hives on loopback, registers them with the
 * queen and keeps them beating until Ctrl-C/SIGTERM.
 *
 *   npm run simulate -- --hives 200 --gpus 4 --queen http://127.0.0.1:7833
 */
import { planFleet } from './fleet-plan';
import { HeartbeatFleet, QueenClient } from './queen-client';
import { SimulatedHive } from './hive-server';
import { parseSimulatorArgs, SimulatorConfig, usage, UsageError } from './simulator-args';

const STATUS_INTERVAL_MS = 5000;
const KILL_TICK_MS = 1000;
/** Redraw the progress line at most this often, so printing never slows registration. */
const PROGRESS_REDRAW_MS = 100;

interface Simulation {
  hives: SimulatedHive[];
  client: QueenClient;
  fleet: HeartbeatFleet;
  timers: NodeJS.Timeout[];
}

async function main(): Promise<number> {
  let config: SimulatorConfig;
  try {
    const parsed = parseSimulatorArgs(process.argv.slice(2), process.env);
    if (parsed.help) {
      console.log(usage());
      return 0;
    }
    config = parsed.config;
  } catch (error: unknown) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`simulate: ${error.message}\n\n${usage()}`);
    return 2;
  }

  // Listen for signals before starting, so Ctrl-C during registration also cleans up.
  const stopRequested = new Promise<NodeJS.Signals>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        console.error(`\n${signal} again: exiting without cleanup`);
        process.exit(130);
      }
      stopping = true;
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  const simulation = await startSimulation(config);
  const signal = await stopRequested;
  console.log(`\n${signal}: stopping ${simulation.hives.length} hives...`);
  await stopSimulation(simulation);
  console.log('stopped');
  return 0;
}

async function startSimulation(config: SimulatorConfig): Promise<Simulation> {
  const plan = planFleet(config);
  const hives = plan.map(
    (planned) =>
      new SimulatedHive({
        id: planned.id,
        gpus: planned.gpus,
        cpuCores: planned.cpuCores,
        ramBytes: planned.ramBytes,
        loadDelayMs: config.loadDelayMs,
      }),
  );
  plan.forEach((planned, index) => hives[index].setFaults({ responseDelayMs: planned.responseDelayMs }));
  await Promise.all(hives.map((hive) => hive.start()));
  const slowCount = plan.filter((planned) => planned.responseDelayMs > 0).length;
  console.log(
    `started ${hives.length} hives on 127.0.0.1 (${config.gpusPerHive} GPUs each, ${slowCount} slow); queen ${config.queenUrl}`,
  );

  const client = new QueenClient({ queenUrl: config.queenUrl, adminToken: config.adminToken });
  const fleet = new HeartbeatFleet(client, hives);
  const summary = await fleet.registerAll(progressPrinter(hives.length));
  const authRejection = summary.errors.find((error) => error.isAuthRejection);
  if (authRejection) {
    await stopSimulation({ hives, client, fleet, timers: [] });
    const hint = config.adminToken ? 'check --token / QUEEN_API_TOKEN' : 'pass --token or set QUEEN_API_TOKEN';
    throw new Error(`the queen refused registration (${authRejection.message}); ${hint}`);
  }
  if (summary.errors.length > 0) {
    console.log(
      `${summary.errors.length} hives not registered yet (${summary.errors[0].message}); retrying in the background`,
    );
  }

  fleet.start();
  const timers = [statusTimer(hives, fleet)];
  if (config.killRatePerMinute > 0) timers.push(killTimer(hives, config.killRatePerMinute));
  if (config.failRatePerMinute > 0) timers.push(failTimer(hives, config.failRatePerMinute));
  return { hives, client, fleet, timers };
}

async function stopSimulation({ hives, client, fleet, timers }: Simulation): Promise<void> {
  for (const timer of timers) clearInterval(timer);
  fleet.stop();
  await client.close();
  await Promise.all(hives.map((hive) => hive.close()));
}

function progressPrinter(total: number): (done: number) => void {
  const interactive = process.stdout.isTTY === true;
  let lastDrawAt = 0;
  let lastTenth = -1;
  return (done) => {
    const line = `registering ${done}/${total} hives...`;
    if (interactive) {
      const now = Date.now();
      if (done < total && now - lastDrawAt < PROGRESS_REDRAW_MS) return;
      lastDrawAt = now;
      process.stdout.write(`\r${line}${done === total ? '\n' : ''}`);
    } else {
      // Logs get one line per tenth, not one per hive.
      const tenth = Math.floor((done * 10) / total);
      if (tenth === lastTenth) return;
      lastTenth = tenth;
      console.log(line);
    }
  };
}

function statusTimer(hives: readonly SimulatedHive[], fleet: HeartbeatFleet): NodeJS.Timeout {
  let previousAcknowledged = 0;
  let previousAt = Date.now();
  return setInterval(() => {
    const stats = fleet.stats();
    const now = Date.now();
    const beatsPerSecond = ((stats.heartbeatsAcknowledged - previousAcknowledged) * 1000) / (now - previousAt);
    previousAcknowledged = stats.heartbeatsAcknowledged;
    previousAt = now;

    let workers = 0;
    let loading = 0;
    let down = 0;
    for (const hive of hives) {
      const hiveWorkers = hive.listWorkers();
      workers += hiveWorkers.length;
      loading += hiveWorkers.filter((worker) => worker.state === 'Loading').length;
      if (!hive.isListening) down += 1;
    }
    const errors = stats.heartbeatsFailed + stats.registrationsFailed;
    console.log(
      [
        new Date(now).toISOString().slice(11, 19),
        `beating ${stats.beating}/${stats.hives}`,
        `registered ${stats.registered}`,
        `silent ${stats.silent}`,
        `down ${down}`,
        `workers ${workers} (${loading} loading)`,
        `${beatsPerSecond.toFixed(1)} hb/s`,
        `errors ${errors}${stats.lastError ? ` (last: ${stats.lastError})` : ''}`,
      ].join(' | '),
    );
  }, STATUS_INTERVAL_MS);
}

/**
 * Each second every live hive dies with probability rate/60. Half of the victims only
 * go silent (agent hung: port open, no heartbeats); the others lose their port too
 * (machine gone). Both stay dead: the point is to watch the queen mark them offline.
 */
function killTimer(hives: readonly SimulatedHive[], ratePerMinute: number): NodeJS.Timeout {
  const chancePerTick = (ratePerMinute * KILL_TICK_MS) / 60_000;
  return setInterval(() => {
    for (const hive of hives) {
      if (hive.getFaults().heartbeatsStopped || Math.random() >= chancePerTick) continue;
      hive.setFaults({ heartbeatsStopped: true });
      if (Math.random() < 0.5) void hive.stop();
    }
  }, KILL_TICK_MS);
}

/** Each second every Idle worker turns Failed with probability rate/60, as a model process that crashes. */
function failTimer(hives: readonly SimulatedHive[], ratePerMinute: number): NodeJS.Timeout {
  const chancePerTick = (ratePerMinute * KILL_TICK_MS) / 60_000;
  return setInterval(() => {
    for (const hive of hives) {
      for (const worker of hive.listWorkers()) if (worker.state === 'Idle' && Math.random() < chancePerTick) hive.failWorker(worker.workerId);
    }
  }, KILL_TICK_MS);
}

main().then(
  (exitCode) => process.exit(exitCode),
  (error: unknown) => {
    console.error('simulate: failed:', error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
