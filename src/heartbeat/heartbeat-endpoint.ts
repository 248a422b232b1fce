import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { HttpStatus, Injectable, Logger } from '@nestjs/common';
import { MAX_BODY_DEPTH, refuseDeepBodies } from '../platform/http/body-errors';
import { PROBLEM_CONTENT_TYPE, ProblemException, problemType, serializeProblem, statusTitle } from '../platform/http/problem';
import { bearerToken } from '../platform/security/tokens';
import { HeartbeatResults } from './heartbeat-results';
import { HeartbeatService } from './heartbeat.service';

/** The largest heartbeat body: 1024 workers fit in far less. */
export const MAX_HEARTBEAT_BYTES = 1024 * 1024;

function problemBody(status: number, slug: string, detail: string): string {
  return serializeProblem({ type: problemType(slug), title: statusTitle(status), status, detail });
}

/**
 * `POST /v1/heartbeat` as it arrives thousands of times a second. The route
 * of HeartbeatController (its OpenAPI documentation, and the handler of
 * anything unusual, such as a compressed body), taken at the HTTP server
 * before Express sees the request: the body is read and parsed here, with the
 * same size and depth bounds, checked by HeartbeatService exactly as on the
 * controller, and answered with the same JSON and problem JSON. What is
 * skipped is only what a heartbeat does not need: routing, guards and pipes
 * meant for admin routes, and the objects they make for every request.
 */
@Injectable()
export class HeartbeatEndpoint {
  private readonly logger = new Logger('Heartbeat');

  constructor(
    private readonly heartbeats: HeartbeatService,
    private readonly results: HeartbeatResults,
  ) {}

  /** Puts this endpoint in front of the server's request handler (the Express app): it takes plain JSON heartbeats, the app the rest. */
  attach(server: Server): void {
    const handlers = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
    server.removeAllListeners('request');
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (req.method === 'POST' && req.url === '/v1/heartbeat' && this.isPlainJson(req)) this.read(req, res);
      else for (const handler of handlers) handler(req, res);
    });
  }

  private isPlainJson(req: IncomingMessage): boolean {
    const type = req.headers['content-type'];
    const encoding = req.headers['content-encoding'];
    return (encoding === undefined || encoding === 'identity') && typeof type === 'string' && /^application\/json\s*(;\s*charset=utf-8\s*)?$/i.test(type);
  }

  private read(req: IncomingMessage, res: ServerResponse): void {
    const startedAt = performance.now();
    const declared = Number(req.headers['content-length']);
    if (declared > MAX_HEARTBEAT_BYTES) {
      this.send(res, HttpStatus.PAYLOAD_TOO_LARGE, problemBody(HttpStatus.PAYLOAD_TOO_LARGE, 'body-too-large', `request body is larger than ${MAX_HEARTBEAT_BYTES} bytes`), null, startedAt, true);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on('data', (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > MAX_HEARTBEAT_BYTES) {
        refused = true;
        this.send(res, HttpStatus.PAYLOAD_TOO_LARGE, problemBody(HttpStatus.PAYLOAD_TOO_LARGE, 'body-too-large', `request body is larger than ${MAX_HEARTBEAT_BYTES} bytes`), null, startedAt, true);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!refused) this.handle(req, res, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size), startedAt);
    });
    req.on('error', () => res.destroy());
  }

  private handle(req: IncomingMessage, res: ServerResponse, raw: Buffer, startedAt: number): void {
    let body: unknown;
    try {
      refuseDeepBodies(raw);
      body = JSON.parse(raw.toString('utf8'));
    } catch (error) {
      const deep = (error as { type?: unknown }).type === 'entity.too.deep';
      this.send(
        res,
        HttpStatus.BAD_REQUEST,
        deep
          ? problemBody(HttpStatus.BAD_REQUEST, 'body-too-deep', `request body is nested deeper than ${MAX_BODY_DEPTH} levels`)
          : problemBody(HttpStatus.BAD_REQUEST, 'malformed-json', 'request body is not valid JSON'),
        null,
        startedAt,
      );
      return;
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      this.send(res, HttpStatus.BAD_REQUEST, problemBody(HttpStatus.BAD_REQUEST, 'body-not-object', 'request body must be a JSON object sent with Content-Type: application/json'), null, startedAt);
      return;
    }
    try {
      const ack = this.heartbeats.receive(body as Record<string, unknown>, bearerToken(req.headers.authorization));
      const text = `{"acknowledged":true,"applied":${ack.applied},"next_heartbeat_ms":${ack.next_heartbeat_ms},"capabilities_required":${ack.capabilities_required}}`;
      this.send(res, HttpStatus.OK, text, ack.applied, startedAt);
    } catch (error) {
      if (error instanceof ProblemException) {
        const status = error.getStatus();
        if (status === HttpStatus.UNAUTHORIZED) res.setHeader('WWW-Authenticate', 'Bearer');
        this.send(res, status, serializeProblem(error.problem), null, startedAt);
        return;
      }
      this.logger.error('unhandled error on POST /v1/heartbeat', error instanceof Error ? error.stack : String(error));
      this.send(res, HttpStatus.INTERNAL_SERVER_ERROR, problemBody(HttpStatus.INTERNAL_SERVER_ERROR, 'internal', 'the queen failed to handle this request'), null, startedAt);
    }
  }

  private send(res: ServerResponse, status: number, text: string, applied: boolean | null, startedAt: number, closeAfter = false): void {
    res.writeHead(status, {
      'Content-Type': status === HttpStatus.OK ? 'application/json; charset=utf-8' : PROBLEM_CONTENT_TYPE,
      'Content-Length': Buffer.byteLength(text),
      // A body too large to read is left unread: the connection cannot be reused after it.
      ...(closeAfter ? { Connection: 'close' } : {}),
    });
    res.end(text);
    this.results.record(status, applied, startedAt);
  }
}
