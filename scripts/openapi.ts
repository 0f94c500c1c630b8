// npm run openapi: writes the backend API's OpenAPI 3.1 document (lib/shared/openapi.ts, generated
// from the route contracts) to assets/openapi.json, which the build copies into dist/assets: served
// as /openapi.json. tests/unit/openapi-document.test.ts fails when the file is stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openApiDocument } from '../lib/shared/openapi';
import { parseCommandLine } from './cli';

export const OPENAPI_FILE = join(__dirname, '..', 'assets', 'openapi.json');

/** The document's text as the file holds it. */
export function openApiText(): string {
  const { version } = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
  return `${JSON.stringify(openApiDocument(version), null, 2)}\n`;
}

if (require.main === module) {
  parseCommandLine(
    `Usage: npm run openapi
Writes the backend API's OpenAPI 3.1 document, generated from lib/shared/route-contracts.ts, to
${OPENAPI_FILE} (served as /openapi.json). Run it after changing a route contract.`,
    {},
  );
  writeFileSync(OPENAPI_FILE, openApiText());
  console.log(`wrote ${OPENAPI_FILE}`);
}
