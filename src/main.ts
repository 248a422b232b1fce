import 'reflect-metadata';
import { setFlagsFromString } from 'node:v8';

// The queen's heap is mostly long-lived fleet state plus short-lived request garbage; V8's default lets
// the heap grow to several times the live data before collecting. Growing by at most 30% keeps RSS near
// what the fleet needs (under 250 MB for 10,000 hives of 8 workers; 270 MB at 50%) for a little more
// GC work (`npm run bench:memory`).
setFlagsFromString('--heap-growing-percent=30');
import { Logger } from '@nestjs/common';
import { createQueenApp } from './app.setup';
import { ConfigError, loadConfig, QueenConfig } from './platform/config/queen-config';

function describeDatabase(config: QueenConfig): string {
  if (config.database.type === 'sqlite') return `sqlite ${config.database.path}`;
  const url = new URL(config.database.url);
  return `postgres ${url.host}${url.pathname}`;
}

async function main(): Promise<void> {
  let config: QueenConfig;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`queen: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const app = await createQueenApp({ config });
  await app.listen(config.port, config.host);
  const logger = new Logger('Queen');
  logger.log(`queen listening on http://${config.host}:${config.port} (database: ${describeDatabase(config)}, docs: /docs)`);
  if (!config.apiToken) {
    logger.warn('QUEEN_API_TOKEN is not set: admin API is open to local clients only, so the queen listens on 127.0.0.1');
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`queen: failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
