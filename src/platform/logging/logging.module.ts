import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DynamicModule, Module, RequestMethod } from '@nestjs/common';
import { Logger, LoggerModule, Params, PinoLogger } from 'nestjs-pino';
import type { QueenConfig } from '../config/queen-config';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

const decodeOrSelf = (text: string): string => {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
};

/** Query parameters whose values are logged: the API's own filters and paging, which carry nothing secret. */
const LOGGED_QUERY_PARAMETERS = new Set(['types', 'status', 'limit', 'offset', 'hive_id', 'model_id']);

/**
 * The URL as logged. `?access_token=` carries the admin token (GET /v1/events
 * from a browser), and a client may spell it any way (`access_token[]=`,
 * `Access_Token=`, `token=`): every value is replaced except those of the
 * API's own filters, however their names are encoded.
 */
export function redactUrl(url: string | undefined): string | undefined {
  const start = url?.indexOf('?') ?? -1;
  if (url === undefined || start < 0) return url;
  const query = url
    .slice(start + 1)
    .split('&')
    .map((pair) => {
      const at = pair.indexOf('=');
      const name = at < 0 ? pair : pair.slice(0, at);
      if (at < 0) return LOGGED_QUERY_PARAMETERS.has(decodeOrSelf(name)) ? pair : '[redacted]';
      return LOGGED_QUERY_PARAMETERS.has(decodeOrSelf(name).trim()) ? pair : `${name}=[redacted]`;
    });
  return `${url.slice(0, start)}?${query.join('&')}`;
}

/** Routes that probes and scrapers call every few seconds: logged at debug, not info. */
const CHATTY = /^\/(health\/|metrics)/;

/**
 * Structured JSON logs through pino. Each request gets an id (the caller's
 * `X-Request-Id` when it is sane) echoed in the response. Request headers and
 * bodies are not logged at all, so tokens and SSH secrets cannot leak there.
 */
export function loggerParams(level: string): Params {
  return {
    // Heartbeats arrive thousands of times a second: a request logger there costs about a
    // tenth of the queen's CPU for lines dropped at the default level. They are counted by
    // result in queen_heartbeats_total instead.
    exclude: [{ method: RequestMethod.POST, path: 'v1/heartbeat' }],
    pinoHttp: {
      level,
      genReqId: (req: IncomingMessage, res: ServerResponse) => {
        const given = req.headers['x-request-id'];
        const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      customLogLevel: (req: IncomingMessage, res: ServerResponse, error?: Error) => {
        if (error || res.statusCode >= 500) return 'error';
        if (res.statusCode >= 400) return 'warn';
        return CHATTY.test(req.url ?? '') ? 'debug' : 'info';
      },
      serializers: {
        req: (req: { id: string; method: string; url: string; remoteAddress?: string }) => ({
          id: req.id,
          method: req.method,
          url: redactUrl(req.url),
          remote: req.remoteAddress,
        }),
        res: (res: { statusCode: number }) => ({ status: res.statusCode }),
      },
      redact: { paths: ['req.headers.authorization', '*.private_key', '*.password', '*.heartbeat_token'], remove: true },
    },
  };
}

/**
 * Nest's own start-up narration (each module loaded, each route mapped) and its report of a failed start,
 * which main.ts reports once itself: debug lines, so that `info` says what an operator needs.
 */
const NEST_NARRATION = new Set(['NestFactory', 'InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestApplication', 'ExceptionHandler']);

class QueenLogger extends Logger {
  override log(message: unknown, ...optionalParams: unknown[]): void {
    if (NEST_NARRATION.has(optionalParams.at(-1) as string)) super.debug(message, ...optionalParams);
    else super.log(message, ...optionalParams);
  }

  override error(message: unknown, ...optionalParams: unknown[]): void {
    if (optionalParams.at(-1) === 'ExceptionHandler') super.debug(message, ...optionalParams);
    else super.error(message, ...optionalParams);
  }
}

/**
 * The logger Nest uses from its first line on, before the module that provides it exists: with the same
 * pino behind it, start-up (and a start-up that fails) logs JSON lines like the running queen.
 */
export function startupLogger(level: string): Logger {
  return new QueenLogger(new PinoLogger(loggerParams(level)), {});
}

@Module({})
export class LoggingModule {
  static forRoot(config: QueenConfig): DynamicModule {
    return { module: LoggingModule, imports: [LoggerModule.forRoot(loggerParams(config.logLevel))] };
  }
}
