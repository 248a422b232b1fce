import { NestFactory } from '@nestjs/core';
import { json } from 'express';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Logger as PinoLogger } from 'nestjs-pino';
import { AppModule, AppModuleOptions } from './app.module';
import { HeartbeatEndpoint } from './heartbeat/heartbeat-endpoint';
import { bodyParserErrorsToProblems, verifyDepth } from './platform/http/body-errors';
import { answerClientErrorsWithProblems } from './platform/http/client-errors';
import { LoadMonitor } from './platform/http/load-shedding';
import { mountApiDocs } from './platform/docs/swagger';

/** Largest request body accepted on any route (API.md: heartbeats ≤ 1 MiB). */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Builds the queen exactly as production runs it; e2e tests call this too, so
 * they get the same body limits, docs, logger and shutdown behaviour.
 */
export async function createQueenApp(options: AppModuleOptions): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(options), {
    bodyParser: false,
    bufferLogs: true,
  });
  app.useLogger(app.get(PinoLogger));
  app.disable('x-powered-by');
  // Plain JSON heartbeats are answered before Express sees them (see HeartbeatEndpoint).
  app.get(HeartbeatEndpoint).attach(app.getHttpServer());
  // Shedding first: a refused request costs no body parsing.
  app.use(app.get(LoadMonitor).shedder());
  app.use(json({ limit: MAX_BODY_BYTES, verify: verifyDepth }), bodyParserErrorsToProblems);
  answerClientErrorsWithProblems(app.getHttpServer());
  // On SIGTERM/SIGINT: close the server, run shutdown hooks, then exit 0. Without
  // useProcessExit Nest re-raises the signal and the process dies "killed by SIGTERM".
  app.enableShutdownHooks([], { useProcessExit: true });
  mountApiDocs(app);
  return app;
}
