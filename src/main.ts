import 'reflect-metadata';
import { setFlagsFromString } from 'node:v8';

// The queen's heap is mostly long-lived fleet state plus short-lived request garbage; V8's default lets
// the heap grow to several times the live data before collecting. Growing by at most 30% keeps the old
// generation near what the fleet needs. The young generation stays at its starting size (2 MiB instead
// of growing to 32 MiB): a heartbeat's garbage dies young, so small, frequent scavenges cost about the
// same CPU (heartbeats/s unchanged within noise) and stay in the CPU's caches; with 10,000 hives of 8
// workers at 1,000 beats/s RSS falls by about 30 MiB, and closed-loop p99 from 19 to 7 ms
// (`npm run bench:memory`, `npm run bench:heartbeat`).
setFlagsFromString('--heap-growing-percent=30');
setFlagsFromString('--semi-space-growth-factor=1');
import type { LoggerService } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Command, CommanderError } from 'commander';
import { createQueenApp } from './app.setup';
import { DatabaseStartError, describeDatabase } from './catalog/database/open-database';
import { ConfigError, ENVIRONMENT_HELP, loadConfig, QueenConfig } from './platform/config/queen-config';
import { startupLogger } from './platform/logging/logging.module';

const CONTEXT = 'Queen';

/** `queen --help`: what the server is and what it reads. It takes no arguments; all settings come from the environment. */
function commandLine(): Command {
  const width = Math.max(...ENVIRONMENT_HELP.map(([name]) => name.length));
  const environment = ENVIRONMENT_HELP.map(([name, defaultValue, meaning]) => `  ${name.padEnd(width)}  ${meaning} (default: ${defaultValue})`);
  return new Command('queen')
    .description('The queen: catalog, live registry and GPU placement for a fleet of hives. Serves HTTP until SIGTERM or SIGINT.')
    .usage('[--help]')
    .helpOption('-h, --help', 'print this help and exit')
    .allowExcessArguments(false)
    .exitOverride()
    .addHelpText('after', `\nEnvironment:\n${environment.join('\n')}\n\nAPI documentation is served at /docs once the queen runs.`);
}

function shutDownOn(app: NestExpressApplication, logger: LoggerService): void {
  let closing = false;
  const shutDown = async (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    const started = performance.now();
    logger.log(`${signal}: no new requests; writing what is pending, then closing`, CONTEXT);
    try {
      await app.close();
    } catch (error) {
      logger.error(`shutdown failed: ${error instanceof Error ? error.message : String(error)}`, undefined, CONTEXT);
      process.exit(1);
    }
    logger.log(`stopped in ${Math.round(performance.now() - started)} ms: HTTP server, event streams and database closed`, CONTEXT);
    process.exit(0);
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, (received) => void shutDown(received));
}

async function main(): Promise<void> {
  try {
    commandLine().parse(process.argv);
  } catch (error) {
    // --help has been printed (exit 0), or commander has said what is wrong with the arguments (exit 1).
    process.exit(error instanceof CommanderError ? error.exitCode : 1);
  }
  let config: QueenConfig;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    startupLogger('info').fatal(error.message, CONTEXT);
    process.exit(1);
  }
  const logger = startupLogger(config.logLevel);
  let app: NestExpressApplication;
  try {
    app = await createQueenApp({ config });
    shutDownOn(app, logger);
    await app.listen(config.port, config.host);
  } catch (error) {
    // A database that cannot be opened is said in one line; anything else is a defect, reported with its stack.
    if (error instanceof DatabaseStartError) logger.fatal(`failed to start: ${error.message}`, CONTEXT);
    else logger.fatal(error, 'failed to start', CONTEXT);
    process.exit(1);
  }
  logger.log(`queen listening on http://${config.host}:${config.port} (database: ${describeDatabase(config.database)}, docs: /docs)`, CONTEXT);
  if (!config.apiToken) {
    logger.warn('QUEEN_API_TOKEN is not set: admin API is open to local clients only, so the queen listens on 127.0.0.1', CONTEXT);
  }
}

void main();
