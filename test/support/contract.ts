/**
 * Every response a test queen sends is checked against the OpenAPI document of the built app
 * (dist/openapi.json, which `npm test` writes before the suites run): its status must be documented for
 * the operation, and its body must validate, with Ajv, against the schema documented for that status
 * and content type. A mismatch fails the test that was running (see contract-check.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { join } from 'node:path';
import Ajv2020, { ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

const DOCUMENT_PATH = join(__dirname, '../../dist/openapi.json');
/** Bodies above this are not kept (none of the API's JSON answers comes near it in the tests). */
const MAX_CAPTURED_BYTES = 8 * 1024 * 1024;
const METHODS = ['get', 'put', 'post', 'patch', 'delete'];

interface MediaType {
  schema?: unknown;
}
interface Operation {
  responses: Record<string, { content?: Record<string, MediaType> }>;
}
interface Route {
  method: string;
  template: string;
  pattern: RegExp;
  pointer: string;
  operation: Operation;
}

export class Contract {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: false, validateFormats: true });
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly routes: Route[] = [];

  constructor(document: { paths: Record<string, Record<string, Operation>> }) {
    addFormats(this.ajv);
    this.ajv.addSchema({ ...document, $id: 'openapi' });
    for (const [template, operations] of Object.entries(document.paths)) {
      const pattern = new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`);
      for (const method of METHODS) {
        const operation = operations[method];
        if (operation) this.routes.push({ method, template, pattern, pointer: `#/paths/${escapePointer(template)}/${method}`, operation });
      }
    }
    // A literal segment wins over a parameter (`/v1/hives/active` over `/v1/hives/{id}`).
    this.routes.sort((a, b) => (a.template.match(/\{/g)?.length ?? 0) - (b.template.match(/\{/g)?.length ?? 0));
  }

  /** What is wrong with this response, or null. Routes the document does not describe are not checked. */
  check(method: string, path: string, status: number, contentType: string, body: Buffer | null): string | null {
    const route = this.routes.find((candidate) => candidate.method === method && candidate.pattern.test(path));
    if (!route) return null;
    const where = `${method.toUpperCase()} ${path} (${route.template}) answered ${status}`;
    const code = [String(status), `${String(status)[0]}XX`, 'default'].find((key) => route.operation.responses[key]);
    if (code === undefined) return `${where}: that status is not documented (documented: ${Object.keys(route.operation.responses).join(', ')})`;
    const content = route.operation.responses[code].content;
    const mediaType = contentType.split(';')[0].trim().toLowerCase();
    if (!content) return body !== null && body.length > 0 ? `${where}: a body was sent where none is documented` : null;
    if (!content[mediaType]) return `${where}: content type "${mediaType}" is not documented (documented: ${Object.keys(content).join(', ')})`;
    if (body === null || !content[mediaType].schema || !/json$/.test(mediaType)) return null;
    let value: unknown;
    try {
      value = JSON.parse(body.toString('utf8'));
    } catch {
      return `${where}: the body is not JSON`;
    }
    const pointer = `openapi${route.pointer}/responses/${code}/content/${escapePointer(mediaType)}/schema`;
    let validate = this.validators.get(pointer);
    if (!validate) {
      validate = this.ajv.compile({ $ref: pointer });
      this.validators.set(pointer, validate);
    }
    if (validate(value)) return null;
    const errors = (validate.errors ?? []).map((error) => `${error.instancePath || '/'} ${error.message ?? ''}`).join('; ');
    return `${where}: the body does not match its documented schema: ${errors}; body: ${body.toString('utf8').slice(0, 500)}`;
  }
}

function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

let contract: Contract | undefined;
const violations: string[] = [];

function loadContract(): Contract {
  if (!contract) {
    if (!existsSync(DOCUMENT_PATH)) {
      throw new Error(`${DOCUMENT_PATH} is missing: run "npm run build" (npm test does)`);
    }
    contract = new Contract(JSON.parse(readFileSync(DOCUMENT_PATH, 'utf8')));
  }
  return contract;
}

/** Mismatches found since the last call, and forgets them. */
export function takeContractViolations(): string[] {
  return violations.splice(0);
}

/** Checks every response `server` sends from now on; attach before anything else handles requests. */
export function checkResponsesOf(server: Server): void {
  const checker = loadContract();
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let streaming = false;
    const keep = (chunk: unknown, encoding: unknown) => {
      if (streaming || chunk === undefined || chunk === null || typeof chunk === 'function') return;
      if (String(contentType ?? res.getHeader('content-type') ?? '').startsWith('text/event-stream')) {
        streaming = true;
        return;
      }
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
      size += buffer.length;
      if (size <= MAX_CAPTURED_BYTES) chunks.push(buffer);
    };
    // The heartbeat fast path passes its headers to writeHead, where getHeader() does not see them.
    let contentType: string | undefined;
    const writeHead = res.writeHead;
    res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
      const headers = args.find((arg): arg is Record<string, unknown> => typeof arg === 'object' && arg !== null && !Array.isArray(arg));
      const given = headers && Object.entries(headers).find(([name]) => name.toLowerCase() === 'content-type');
      if (given) contentType = String(given[1]);
      return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
    } as typeof res.writeHead;
    const write = res.write;
    const end = res.end;
    res.write = function (this: ServerResponse, chunk: unknown, encoding?: unknown, ...rest: unknown[]) {
      keep(chunk, encoding);
      return (write as (...args: unknown[]) => boolean).call(this, chunk, encoding, ...rest);
    } as typeof res.write;
    res.end = function (this: ServerResponse, chunk?: unknown, encoding?: unknown, ...rest: unknown[]) {
      keep(chunk, encoding);
      return (end as (...args: unknown[]) => ServerResponse).call(this, chunk, encoding, ...rest);
    } as typeof res.end;
    res.once('finish', () => {
      if (streaming || size > MAX_CAPTURED_BYTES || req.method === 'HEAD') return;
      const path = (req.url ?? '/').split('?')[0];
      const problem = checker.check((req.method ?? 'GET').toLowerCase(), path, res.statusCode, String(contentType ?? res.getHeader('content-type') ?? ''), Buffer.concat(chunks));
      if (problem) violations.push(problem);
    });
  });
}
