import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('queen')
    .setDescription(
      'Control plane for a fleet of GPU machines serving LLM inference. Sizes are integer bytes, JSON is snake_case, errors are RFC 9457 problem JSON.',
    )
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'QUEEN_API_TOKEN for admin routes; a hive token for heartbeats' })
    .build();
  return SwaggerModule.createDocument(app, config);
}

/** Swagger UI at /docs and the OpenAPI 3 document at /docs-json (both public). */
export function mountApiDocs(app: INestApplication): void {
  SwaggerModule.setup('docs', app, buildOpenApiDocument(app), { jsonDocumentUrl: 'docs-json' });
}
