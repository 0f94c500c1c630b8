// The functions' source maps: written beside dist/functions (never deployed), linked from each
// bundle, and enough for `npm run map-stack` to turn a deployed Function's stack into TypeScript lines.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { mapStack } from '../../scripts/map-stack';

jest.setTimeout(30_000);

const ROOT = join(__dirname, '..', '..');
let dist: string;

const SOURCE_MAP_DIR = 'sourcemaps/functions';

// scripts/function-bundle.mjs is an ES module (the build's own): run as the build runs it.
beforeAll(async () => {
  dist = mkdtempSync(join(tmpdir(), 'cme-maps-'));
  const bundler = pathToFileURL(join(ROOT, 'scripts/function-bundle.mjs')).href;
  const script = `const { buildFunctions } = await import(${JSON.stringify(bundler)});
    await buildFunctions([${JSON.stringify(join(ROOT, 'functions/token.ts'))}], ${JSON.stringify(dist)});`;
  await new Promise<void>((resolve, reject) =>
    execFile(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT }, (err, _out, stderr) =>
      err ? reject(new Error(stderr || err.message)) : resolve(),
    ),
  );
});
afterAll(() => rmSync(dist, { recursive: true, force: true }));

it('keeps the maps out of dist/functions and links each bundle to its own', () => {
  expect(readdirSync(join(dist, 'functions'))).toEqual(['token.js']);
  expect(readdirSync(join(dist, SOURCE_MAP_DIR))).toEqual(['token.js.map']);
  const bundle = readFileSync(join(dist, 'functions/token.js'), 'utf8');
  expect(bundle.endsWith('//# sourceMappingURL=../sourcemaps/functions/token.js.map\n')).toBe(true);
});

it('maps a position a deployed log shows back to the TypeScript line', () => {
  const bundle = readFileSync(join(dist, 'functions/token.js'), 'utf8').split('\n');
  const line = bundle.findIndex((l) => l.includes('async function issueVoiceToken(')) + 1;
  const source = readFileSync(join(ROOT, 'lib/routes/token.ts'), 'utf8').split('\n');
  const expected = source.findIndex((l) => l.startsWith('export async function issueVoiceToken(')) + 1;
  expect(line).toBeGreaterThan(0);
  const log = `Error: boom\n    at issueVoiceToken (/var/task/handlers/ZNabc/token.js:${line}:1)\n    at node:internal/timers:1:1`;
  expect(mapStack(log, join(dist, SOURCE_MAP_DIR))).toBe(
    `Error: boom\n    at issueVoiceToken (lib/routes/token.ts:${expected}:1)\n    at node:internal/timers:1:1`,
  );
});
