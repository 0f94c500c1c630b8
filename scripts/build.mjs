// Builds what twilio-run serves and deploys: one self-contained .js per function under
// dist/functions (relative requires do not survive deployment) and the assets under dist/assets
// (pages as they are, plus the softphone and console bundles: scripts/build-browser.mjs).
// `twilio` stays external: the Functions runtime installs it from package.json. Source maps go to
// dist/sourcemaps (not deployed; scripts/function-bundle.mjs).
import { cpSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildFunctions } from './function-bundle.mjs';

// Plain JavaScript (it runs before anything is built), so scripts/cli.ts's helper is written out here.
const USAGE = `Usage: npm run build
Writes dist/: one bundle per function in dist/functions, the pages and the browser bundles in
dist/assets (what twilio-run serves and deploys: .twilioserverlessrc), the functions' source maps in
dist/sourcemaps (never deployed; npm run map-stack reads them).`;
try {
  if (parseArgs({ options: { help: { type: 'boolean', short: 'h' } } }).values.help) {
    console.log(USAGE);
    process.exit(0);
  }
} catch (err) {
  console.error(`${err.message}\n\n${USAGE}`);
  process.exit(1);
}

const root = new URL('..', import.meta.url).pathname;
const out = join(root, 'dist');
rmSync(out, { recursive: true, force: true });

const functions = readdirSync(join(root, 'functions')).filter((f) => f.endsWith('.ts'));
await buildFunctions(
  functions.map((f) => join(root, 'functions', f)),
  out,
);

// The pages and styles as they are; assets/src (TypeScript) is bundled by build-browser.mjs instead,
// and assets/tsconfig.json only type-checks it: neither is served.
const assetsDir = join(root, 'assets');
if (existsSync(assetsDir))
  cpSync(assetsDir, join(out, 'assets'), {
    recursive: true,
    filter: (src) => !src.startsWith(join(assetsDir, 'src')) && src !== join(assetsDir, 'tsconfig.json'),
  });
const { buildBrowser } = await import('./build-browser.mjs');
await buildBrowser(out);
console.log(`built ${functions.length} functions into dist/functions and the browser bundles into dist/assets`);
