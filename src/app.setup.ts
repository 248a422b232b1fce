import { NestFactory } from '@nestjs/core';
import { json } from 'express';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule, AppModuleOptions } from './app.module';
import { HeartbeatEndpoint } from './heartbeat/heartbeat-endpoint';
import { bodyParserErrorsToProblems, verifyDepth } from './platform/http/body-errors';
import { answerClientErrorsWithProblems } from './platform/http/client-errors';
import { LoadMonitor } from './platform/http/load-shedding';
import { mountApiDocs } from './platform/docs/swagger';
import { startupLogger } from './platform/logging/logging.module';

/** Largest request body accepted on any route (API.md: heartbeats ≤ 1 MiB). */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Builds the queen exactly as production runs it; e2e tests call this too, so
 * they get the same body limits, docs, logger and shutdown hooks (run by `app.close()`).
 */
export async function createQueenApp(options: AppModuleOptions): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(options), {
    bodyParser: false,
    logger: startupLogger(options.config.logLevel),
    // A failed start is thrown to the caller (main logs it and exits 1), not a process.abort().
    abortOnError: false,
  });
  app.disable('x-powered-by');
  // Plain JSON heartbeats are answered before Express sees them (see HeartbeatEndpoint).
  app.get(HeartbeatEndpoint).attach(app.getHttpServer());
  // Shedding first: a refused request costs no body parsing.
  app.use(app.get(LoadMonitor).shedder());
  app.use(json({ limit: MAX_BODY_BYTES, verify: verifyDepth }), bodyParserErrorsToProblems);
  answerClientErrorsWithProblems(app.getHttpServer());
  mountApiDocs(app);
  return app;
}
