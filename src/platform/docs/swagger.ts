import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';

const TAGS: [name: string, description: string][] = [
  ['hives', 'The catalog of hives: register, change, remove, rotate tokens; read them with their live status'],
  ['workers', 'Start and stop inference workers, and list those the hives report'],
  ['deployments', 'Desired state: models the queen keeps running, replacing workers that fail or whose hive stays away'],
  ['scheduling', 'Placement plans: which hive and GPU would take a worker now'],
  ['fleet', 'Fleet-wide totals'],
  ['heartbeat', 'What hive agents send, authenticated by their own tokens'],
  ['events', 'A stream of fleet changes (Server-Sent Events)'],
  ['cluster', 'The queens serving the fleet, and which one leads'],
  ['health', 'Probes for process supervisors and load balancers'],
];

/**
 * The API's only fractional numbers: a worker's CPU and GPU load in percent, a placement's score. Every other number is an
 * integer (bytes, counts, ports, milliseconds, device indexes) and is documented as one.
 */
const FRACTIONAL_NUMBERS = new Set(['cpu_percent', 'gpu_percent', 'score']);
/** Times are RFC 3339 strings in fields so named. */
const isTimeField = (name: string) => name.endsWith('_at') || name === 'timestamp';

type Schema = Record<string, unknown>;
const isObject = (value: unknown): value is Schema => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * One schema as OpenAPI 3.1 (JSON Schema 2020-12) says it, in place: `nullable` (3.0) becomes a `null`
 * type or an `anyOf` with `null`, integers are `integer`, times are `date-time`. `name` is the
 * property the schema describes, when it describes one.
 */
function toJsonSchema(schema: Schema, name: string | undefined): void {
  if (schema.type === 'number' && !(name !== undefined && FRACTIONAL_NUMBERS.has(name))) schema.type = 'integer';
  if (schema.type === 'string' && name !== undefined && isTimeField(name) && schema.format === undefined) schema.format = 'date-time';
  if (schema.nullable === true) {
    delete schema.nullable;
    const reference = typeof schema.$ref === 'string' ? { $ref: schema.$ref } : Array.isArray(schema.allOf) && schema.allOf.length === 1 ? schema.allOf[0] : undefined;
    if (reference !== undefined) {
      // The plugin writes `type: object` beside the reference, which would refuse the null.
      delete schema.$ref;
      delete schema.allOf;
      delete schema.type;
      schema.anyOf = [reference, { type: 'null' }];
    } else if (typeof schema.type === 'string') {
      schema.type = [schema.type, 'null'];
      if (Array.isArray(schema.enum)) schema.enum = [...schema.enum, null];
    }
  }
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'example' || key === 'examples' || key === 'default' || key === 'enum') continue;
    if (key === 'properties' && isObject(value)) {
      for (const [property, definition] of Object.entries(value)) if (isObject(definition)) toJsonSchema(definition, property);
    } else if (key === 'items' || key === 'additionalProperties') {
      if (isObject(value)) toJsonSchema(value, name);
    } else if (Array.isArray(value)) {
      for (const item of value) if (isObject(item)) toJsonSchema(item, name);
    } else if (isObject(value)) {
      toJsonSchema(value, undefined);
    }
  }
}

/** Every schema of the document: components, parameters, bodies and responses. */
function forEachSchema(document: OpenAPIObject, visit: (schema: Schema, name: string | undefined) => void): void {
  for (const schema of Object.values(document.components?.schemas ?? {})) visit(schema as Schema, undefined);
  for (const operations of Object.values(document.paths)) {
    for (const operation of Object.values(operations as Record<string, Schema>)) {
      if (!isObject(operation)) continue;
      for (const parameter of (operation.parameters as Schema[] | undefined) ?? []) {
        if (isObject(parameter.schema)) visit(parameter.schema, parameter.name as string);
      }
      const bodies = [operation.requestBody, ...Object.values((operation.responses as Schema | undefined) ?? {})];
      for (const body of bodies) {
        if (!isObject(body) || !isObject(body.content)) continue;
        for (const media of Object.values(body.content)) if (isObject(media) && isObject(media.schema)) visit(media.schema, undefined);
      }
    }
  }
}

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const builder = new DocumentBuilder()
    .setOpenAPIVersion('3.1.0')
    .setTitle('queen')
    .setDescription(
      'Control plane for a fleet of GPU machines serving LLM inference. Sizes are integer bytes, times RFC 3339, JSON is snake_case, errors are RFC 9457 problem JSON.',
    )
    .setVersion('1')
    .addServer('/', 'This queen')
    // An opaque token, not a JWT: the admin token for admin routes, a hive's own token for heartbeats.
    .addSecurity('bearer', { type: 'http', scheme: 'bearer', description: 'QUEEN_API_TOKEN for admin routes; a hive token for heartbeats' });
  for (const [name, description] of TAGS) builder.addTag(name, description);
  const document = SwaggerModule.createDocument(app, builder.build());
  document.info.license = { name: 'Proprietary', identifier: 'LicenseRef-Proprietary' } as OpenAPIObject['info']['license'];
  forEachSchema(document, toJsonSchema);
  return document;
}

/** Swagger UI at /docs and the OpenAPI 3.1 document at /docs-json (both public). */
export function mountApiDocs(app: INestApplication): void {
  SwaggerModule.setup('docs', app, buildOpenApiDocument(app), { jsonDocumentUrl: 'docs-json' });
}
