/**
 * Writes the queen's OpenAPI document (what `/docs-json` serves) to a file, without a server or a
 * database to keep: the built app is created on an in-memory SQLite and closed again.
 *
 *   node dist/tools/openapi/write-document.js dist/openapi.json
 *
 * Run from the compiled tree: the Swagger CLI plugin that turns DTO types and comments into schemas
 * only runs under `nest build`. `npm test` writes dist/openapi.json this way before the suites that
 * lint the document and check every response against it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createQueenApp } from '../../src/app.setup';
import { buildOpenApiDocument } from '../../src/platform/docs/swagger';
import { loadConfig } from '../../src/platform/config/queen-config';

async function main(target: string | undefined): Promise<void> {
  if (!target) throw new Error('usage: write-document.js <file>');
  const dataDir = mkdtempSync(join(tmpdir(), 'queen-openapi-'));
  try {
    const config = loadConfig({ DATABASE_URL: 'sqlite::memory:', QUEEN_DATA_DIR: dataDir, LOG_LEVEL: 'silent', OVERLOAD_LAG_MS: '0' });
    const app = await createQueenApp({ config });
    writeFileSync(target, `${JSON.stringify(buildOpenApiDocument(app), null, 2)}\n`);
    await app.close();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main(process.argv[2]).catch((error: unknown) => {
  process.stderr.write(`write-document: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
