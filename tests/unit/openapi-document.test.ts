// The OpenAPI 3.1 document of the backend API (lib/shared/openapi.ts): assets/openapi.json is what
// `npm run openapi` writes now (never stale), every backend route of the contracts is in it with
// each of its answers (2xx and every error code at its status), and every schema in it compiles
// as JSON Schema 2020-12 with its $refs resolved. Real answers: tests/integration/backend-openapi.test.ts.
import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { BACKEND_ROUTES } from '../../lib/shared/openapi';
import { errorsOf, ROUTE_CONTRACTS } from '../../lib/shared/route-contracts';
import { statusOf } from '../../lib/shared/error-catalogue';
import { OPENAPI_FILE, openApiText } from '../../scripts/openapi';

type Json = Record<string, unknown>;
const doc = JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')) as Json;
const paths = doc.paths as Record<string, Record<string, Json>>;

it('assets/openapi.json is what npm run openapi writes now', () => {
  expect(readFileSync(OPENAPI_FILE, 'utf8')).toBe(openApiText());
});

it('is OpenAPI 3.1 with the key routes and the Twilio-signed backend routes, each method of the contract', () => {
  expect(doc.openapi).toBe('3.1.0');
  expect(Object.keys(paths).sort()).toEqual([...BACKEND_ROUTES].sort());
  for (const path of BACKEND_ROUTES) {
    const route = ROUTE_CONTRACTS.find((r) => r.path === path);
    expect(Object.keys(paths[path] ?? {}).sort()).toEqual(route?.methods.map((m) => m.toLowerCase()).sort());
  }
  expect(Object.keys(doc.webhooks as Json).sort()).toEqual(['call.ended', 'call.message', 'call.started']);
});

it.each([...BACKEND_ROUTES])('%s documents every answer of its contract', (path) => {
  const route = ROUTE_CONTRACTS.find((r) => r.path === path);
  if (!route) throw new Error(`no contract for ${path}`);
  for (const operation of Object.values(paths[path] ?? {})) {
    const responses = operation.responses as Record<string, Json>;
    for (const status of Object.keys(route.answers)) expect(responses[status]).toBeDefined();
    for (const code of errorsOf(route)) {
      const response = responses[String(statusOf(code))];
      expect({ code, documented: JSON.stringify(response ?? {}).includes(`"${code}"`) }).toEqual({
        code,
        documented: true,
      });
    }
  }
});

it('every schema compiles (JSON Schema 2020-12), $refs included', () => {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema(doc, 'openapi.json');
  const pointers: string[] = [];
  const walk = (node: unknown, pointer: string) => {
    if (typeof node !== 'object' || node === null) return;
    for (const [key, value] of Object.entries(node)) {
      const here = `${pointer}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
      if (key === 'schema') pointers.push(here);
      else walk(value, here);
    }
  };
  walk(doc.paths, '#/paths');
  walk(doc.webhooks, '#/webhooks');
  expect(pointers.length).toBeGreaterThan(20);
  for (const pointer of pointers) expect(ajv.getSchema(`openapi.json${pointer}`)).toBeInstanceOf(Function);
});
