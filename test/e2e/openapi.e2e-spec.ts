/**
 * The OpenAPI document of the BUILT app: the Swagger CLI plugin that turns DTO
 * types and comments into schemas only runs under `nest build`, so the app is
 * loaded from dist/ (build first: `npm run build`).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SwaggerParser from '@apidevtools/swagger-parser';
import type { NestExpressApplication } from '@nestjs/platform-express';
import request from 'supertest';

type AppSetup = typeof import('../../src/app.setup');
type ConfigModule = typeof import('../../src/platform/config/queen-config');
type ClockModule = typeof import('../../src/platform/clock/clock');

const DIST = join(__dirname, '../../dist/src');

interface Schema {
  type?: string | string[];
  $ref?: string;
  allOf?: Schema[];
  anyOf?: Schema[];
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: string[];
  example?: unknown;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  enum?: unknown[];
  additionalProperties?: Schema | boolean;
}
interface Operation {
  summary?: string;
  tags?: string[];
  security?: Record<string, unknown>[];
  parameters?: { name: string; in: string; required?: boolean; schema?: Schema; example?: unknown }[];
  requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: Schema }> }>;
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

const ref = (name: string) => `#/components/schemas/${name}`;

describe('OpenAPI document of the built app', () => {
  let app: NestExpressApplication;
  let dataDir: string;
  let doc: Document;

  beforeAll(async () => {
    if (!existsSync(join(DIST, 'app.setup.js'))) throw new Error(`${DIST}/app.setup.js is missing: run "npm run build" first`);
    const { createQueenApp } = require(join(DIST, 'app.setup')) as AppSetup;
    const { loadConfig } = require(join(DIST, 'platform/config/queen-config')) as ConfigModule;
    const { ManualClock } = require(join(DIST, 'platform/clock/clock')) as ClockModule;
    dataDir = mkdtempSync(join(tmpdir(), 'queen-openapi-'));
    const config = loadConfig({ DATABASE_URL: `sqlite://${join(dataDir, 'queen.sqlite')}`, QUEEN_DATA_DIR: dataDir, LOG_LEVEL: 'silent' });
    app = await createQueenApp({ config, clock: new ManualClock(Date.parse('2026-11-27T10:00:00.000Z')) });
    await app.listen(0, '127.0.0.1');
    const res = await request(app.getHttpServer()).get('/docs-json').expect(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    doc = res.body;
  });
  afterAll(async () => {
    await app?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const schema = (name: string): Schema => {
    const found = doc.components.schemas[name];
    if (!found) throw new Error(`no schema ${name}; have ${Object.keys(doc.components.schemas).join(', ')}`);
    return found;
  };
  const refName = (s: Schema): string | undefined => (s.$ref ?? [...(s.allOf ?? []), ...(s.anyOf ?? [])].find((part) => part.$ref)?.$ref)?.replace(ref(''), '');
  const isNullable = (s: Schema): boolean => (Array.isArray(s.type) && s.type.includes('null')) || (s.anyOf ?? []).some((part) => part.type === 'null');

  /** Every property has an example, or refers (directly, nullable, or as array items) to a schema that does. */
  const expectExamples = (name: string, path: string[] = [], seen = new Set<string>()): void => {
    if (seen.has(name)) return;
    seen.add(name);
    const properties = schema(name).properties ?? {};
    expect(Object.keys(properties).length).toBeGreaterThan(0);
    for (const [property, definition] of Object.entries(properties)) {
      const nested = refName(definition) ?? (definition.items && refName(definition.items));
      if (nested) expectExamples(nested, [...path, name], seen);
      else expect({ at: `${[...path, name].join(' > ')}.${property}`, example: definition.example }).toEqual({ at: expect.any(String), example: expect.anything() });
    }
  };

  it('has every route it documents described in docs/api.md, under a heading of its own', () => {
    const reference = readFileSync(join(__dirname, '../../docs/api.md'), 'utf8');
    const headings = new Set(reference.split('\n').filter((line) => line.startsWith('### ')).map((line) => line.slice(4).trim()));
    const routes = Object.entries(doc.paths).flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`));
    expect(routes.length).toBeGreaterThan(10);
    expect(routes.filter((route) => !headings.has(route))).toEqual([]);
  });

  it('is a valid OpenAPI 3 document', async () => {
    expect(doc.openapi).toBe('3.1.0');
    // validate() dereferences in place: give it a copy.
    await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeDefined();
  });

  const HIVE_ROUTES: { path: string; method: string; body?: string; status: string; response?: string; errors: string[] }[] = [
    { path: '/v1/hives', method: 'post', body: 'CreateHiveDto', status: '201', response: 'CreatedHiveDto', errors: ['400', '401', '409', '413', '415', '429', '503'] },
    { path: '/v1/hives', method: 'get', status: '200', response: 'HiveListDto', errors: ['400', '401', '429'] },
    { path: '/v1/hives/{id}', method: 'get', status: '200', response: 'HiveDto', errors: ['400', '401', '404', '429'] },
    { path: '/v1/hives/{id}', method: 'patch', body: 'PatchHiveDto', status: '200', response: 'HiveDto', errors: ['400', '401', '404', '412', '413', '415', '429', '503'] },
    { path: '/v1/hives/{id}', method: 'delete', status: '204', errors: ['400', '401', '404', '412', '429', '503'] },
    { path: '/v1/hives/{id}/token', method: 'post', status: '200', response: 'HiveTokenDto', errors: ['400', '401', '404', '429', '503'] },
  ];

  it.each(HIVE_ROUTES)('documents $method $path: body, responses, problems and examples', ({ path, method, body, status, response, errors }) => {
    const operation = doc.paths[path]?.[method];
    expect(operation).toBeDefined();
    expect(operation.tags).toContain('hives');
    expect(operation.security).toContainEqual({ bearer: [] });

    if (body) {
      expect(operation.requestBody?.required).toBe(true);
      expect(operation.requestBody?.content['application/json'].schema).toEqual({ $ref: ref(body) });
      expectExamples(body);
    } else {
      expect(operation.requestBody).toBeUndefined();
    }

    const success = operation.responses[status];
    expect(success).toBeDefined();
    if (response) {
      expect(success.content?.['application/json'].schema).toEqual({ $ref: ref(response) });
      expectExamples(response);
    } else {
      expect(success.content).toBeUndefined();
    }

    const documentedErrors = Object.keys(operation.responses).filter((code) => code >= '400');
    expect(documentedErrors.sort()).toEqual([...errors].sort());
    for (const code of errors) {
      expect(operation.responses[code].description).not.toBe('');
      expect(operation.responses[code].content).toEqual({ 'application/problem+json': { schema: { $ref: ref('ProblemDto') } } });
    }
    expectExamples('ProblemDto');

    for (const parameter of operation.parameters ?? []) {
      if (parameter.in === 'path') {
        expect(parameter).toMatchObject({ name: 'id', required: true });
        expect(parameter.schema?.example ?? parameter.example).toBe('gpu-node-01');
      }
    }
  });

  it('describes the create body field by field', () => {
    const create = schema('CreateHiveDto');
    expect(create.required?.sort()).toEqual(['host', 'id', 'port']);
    expect(Object.keys(create.properties!).sort()).toEqual(['host', 'id', 'labels', 'port', 'ssh']);
    expect(create.properties!.id).toMatchObject({ type: 'string', example: 'gpu-node-01', pattern: '^[a-z0-9][a-z0-9._-]{0,62}$' });
    expect(create.properties!.host).toMatchObject({ type: 'string', example: '10.0.0.5' });
    expect(create.properties!.port).toMatchObject({ example: 7835, minimum: 1, maximum: 65535 });
    expect(create.properties!.labels).toMatchObject({ type: 'object', example: { zone: 'a' } });
    expect(refName(create.properties!.ssh)).toBe('CreateSshSettingsDto');

    const ssh = schema('CreateSshSettingsDto');
    expect(ssh.required).toEqual(['user']);
    expect(Object.keys(ssh.properties!).sort()).toEqual(['password', 'port', 'private_key', 'user']);
    expect(ssh.properties!.port).toMatchObject({ example: 22, minimum: 1, maximum: 65535 });
  });

  it('describes the patch body with every field optional and ssh nullable', () => {
    const patch = schema('PatchHiveDto');
    expect(patch.required ?? []).toEqual([]);
    expect(Object.keys(patch.properties!).sort()).toEqual(['cordoned', 'host', 'labels', 'port', 'ssh']);
    expect(isNullable(patch.properties!.ssh)).toBe(true);
    expect(refName(patch.properties!.ssh)).toBe('PatchSshSettingsDto');
    expect(schema('PatchSshSettingsDto').required ?? []).toEqual([]);
  });

  it('describes the hive without secrets, and the created hive with its token', () => {
    const hive = schema('HiveDto');
    const fields = ['capabilities', 'cordoned', 'created_at', 'host', 'id', 'labels', 'last_heartbeat_at', 'port', 'ssh', 'status', 'updated_at'];
    expect(Object.keys(hive.properties!).sort()).toEqual(fields);
    expect(Object.keys(schema('HiveSshDto').properties!).sort()).toEqual(['credentials_set', 'port', 'user']);
    expect(hive.properties!.status.enum).toEqual(['unknown', 'online', 'offline']);
    expect(hive.properties!.last_heartbeat_at).toMatchObject({ type: ['string', 'null'], format: 'date-time' });
    expect(hive.properties!.created_at).toMatchObject({ type: 'string', format: 'date-time' });
    expect(hive.properties!.port.type).toBe('integer');
    expect(isNullable(hive.properties!.ssh) && isNullable(hive.properties!.capabilities)).toBe(true);
    expect(Object.keys(schema('CreatedHiveDto').properties!).sort()).toEqual([...fields, 'heartbeat_token'].sort());
    expect(JSON.stringify(doc.components.schemas.HiveDto)).not.toMatch(/private_key|password|token_hash|ssh_secret/);
    expect(schema('HiveListDto').properties!.items).toEqual({ type: 'array', items: { $ref: ref('HiveDto') } });
  });

  it('documents the list query: optional, bounded, with examples', () => {
    const parameters = doc.paths['/v1/hives'].get.parameters ?? [];
    const byName = Object.fromEntries(parameters.map((p) => [p.name, p]));
    expect(Object.keys(byName).sort()).toEqual(['limit', 'offset', 'status']);
    for (const parameter of parameters) {
      expect(parameter).toMatchObject({ in: 'query', required: false });
      expect(parameter.schema?.example).toBeDefined();
    }
    expect(byName.limit.schema).toMatchObject({ minimum: 1, maximum: 500, default: 50 });
    expect(byName.offset.schema).toMatchObject({ minimum: 0, default: 0 });
    expect(byName.status.schema?.enum).toEqual(['unknown', 'online', 'offline']);
  });

  it('has examples that the API itself accepts, and responses shaped as documented', async () => {
    const example = (name: string, field: string) => schema(name).properties![field].example;
    const body = {
      id: example('CreateHiveDto', 'id'),
      host: example('CreateHiveDto', 'host'),
      port: example('CreateHiveDto', 'port'),
      labels: example('CreateHiveDto', 'labels'),
      ssh: {
        user: example('CreateSshSettingsDto', 'user'),
        port: example('CreateSshSettingsDto', 'port'),
        private_key: example('CreateSshSettingsDto', 'private_key'),
      },
    };
    const http = request(app.getHttpServer());
    const created = await http.post('/v1/hives').send(body).expect(201);
    expect(Object.keys(created.body).sort()).toEqual(Object.keys(schema('CreatedHiveDto').properties!).sort());
    expect(Object.keys(created.body.ssh).sort()).toEqual(Object.keys(schema('HiveSshDto').properties!).sort());
    const patch = { host: example('PatchHiveDto', 'host'), port: example('PatchHiveDto', 'port'), labels: example('PatchHiveDto', 'labels'), cordoned: example('PatchHiveDto', 'cordoned') };
    const patched = await http.patch(`/v1/hives/${body.id}`).send(patch).expect(200);
    expect(patched.body).toMatchObject(patch);
    const listed = await http.get('/v1/hives').query({ limit: 50, offset: 0 }).expect(200);
    expect(Object.keys(listed.body).sort()).toEqual(Object.keys(schema('HiveListDto').properties!).sort());
    const problem = await http.get('/v1/hives/no-such-hive').expect(404);
    expect(Object.keys(problem.body).sort()).toEqual(schema('ProblemDto').required!.sort());
  });

  it('documents the health routes and no unexpected ones', () => {
    expect(doc.paths['/health/live'].get).toBeDefined();
    const ready = doc.paths['/health/ready'].get;
    expect(ready.responses['503'].content).toEqual({ 'application/problem+json': { schema: { $ref: ref('ProblemDto') } } });
    expect(ready.security).toEqual([]);
    expect(doc.paths['/health/live'].get.security).toEqual([]);
  });

  it('serves Swagger UI at /docs', async () => {
    const res = await request(app.getHttpServer()).get('/docs').redirects(2).expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.text).toMatch(/swagger-ui/i);
  });
});
