/**
 * Baseline (b): node:http with no framework: read the body, JSON.parse it,
 * store it in a Map, answer the queen's ack. The floor any framework adds to.
 * Run as its own process: `PORT=… node dist/bench/baselines/raw-http.js`.
 *
 * Routes live in ROUTES (`METHOD path` → handler); add one for another
 * benchmark without touching the server loop.
 */
import { createServer, IncomingMessage, ServerResponse } from 'node:http';

const MAX_BODY_BYTES = 1024 * 1024;

type Handler = (body: unknown, req: IncomingMessage) => { status: number; json: unknown };

const heartbeats = new Map<string, unknown>();

const ROUTES = new Map<string, Handler>([
  ['GET /health/ready', () => ({ status: 200, json: { status: 'ok' } })],
  [
    'POST /v1/heartbeat',
    (body, req) => {
      const hiveId = (body as { hive_id?: unknown } | null)?.hive_id;
      if (typeof hiveId !== 'string') return { status: 400, json: { title: 'hive_id missing' } };
      heartbeats.set(hiveId, { body, authorization: req.headers.authorization });
      return { status: 200, json: { acknowledged: true, applied: true, next_heartbeat_ms: 5000, capabilities_required: false } };
    },
  ],
]);

function send(res: ServerResponse, status: number, json: unknown): void {
  const text = JSON.stringify(json);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

const server = createServer((req, res) => {
  const handler = ROUTES.get(`${req.method} ${(req.url ?? '/').split('?')[0]}`);
  if (!handler) return send(res, 404, { title: 'Not Found' });
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      send(res, 413, { title: 'Payload Too Large' });
      req.destroy();
      return;
    }
    chunks.push(chunk);
  });
  req.on('end', () => {
    let body: unknown = undefined;
    if (size > 0) {
      try {
        body = JSON.parse(Buffer.concat(chunks, size).toString('utf8'));
      } catch {
        return send(res, 400, { title: 'malformed JSON' });
      }
    }
    const out = handler(body, req);
    send(res, out.status, out.json);
  });
});

server.keepAliveTimeout = 5000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
