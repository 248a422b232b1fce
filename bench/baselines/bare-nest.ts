/**
 * Baseline (a): a bare Nest/Express app with the queen's DTOs (the heartbeat's as
 * class-validator classes) and the queen's validation options, storing into a Map. Run as its own process by the
 * benchmarks: `PORT=… node dist/bench/baselines/bare-nest.js`.
 *
 * To baseline another queen route (e.g. POST /v1/placements), add a controller
 * under ./bare-nest/ using the queen's DTO class and list it in
 * BARE_NEST_CONTROLLERS; nothing else changes.
 */
import 'reflect-metadata';
import { Module, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { json } from 'express';
import { BaselinePipe } from './bare-nest/baseline-pipe';
import { BaselineStore } from './bare-nest/baseline-store';
import { HealthBaselineController } from './bare-nest/health-baseline.controller';
import { HeartbeatBaselineController } from './bare-nest/heartbeat-baseline.controller';
import { PlacementBaselineController } from './bare-nest/placement-baseline.controller';

/** Routes the baseline serves. */
export const BARE_NEST_CONTROLLERS: Type<unknown>[] = [
  HealthBaselineController,
  HeartbeatBaselineController,
  PlacementBaselineController,
];

/** The queen's body limit (MAX_BODY_BYTES in src/app.setup.ts, not imported: that would load the whole AppModule). */
const MAX_BODY_BYTES = 1024 * 1024;

@Module({ controllers: BARE_NEST_CONTROLLERS, providers: [BaselineStore] })
class BareNestModule {}

async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 0);
  const app = await NestFactory.create<NestExpressApplication>(BareNestModule, {
    bodyParser: false,
    logger: ['error', 'warn'],
  });
  app.disable('x-powered-by');
  app.use(json({ limit: MAX_BODY_BYTES }));
  // The queen's pipe (its APP_PIPE) for every route, and the standard ValidationPipe with the
  // same options for the class-validator heartbeat DTO.
  app.useGlobalPipes(new BaselinePipe());
  app.enableShutdownHooks();
  await app.listen(port, '127.0.0.1');
}

main().catch((error: unknown) => {
  process.stderr.write(`bare-nest baseline failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
