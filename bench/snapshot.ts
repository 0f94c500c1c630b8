// The build the benchmark serves: a copy of dist/ under tmp/ (gitignored) plus an empty function,
// the floor every route is compared with. twilio-run serves it through CME_DIST_DIR, so the routes
// and the floor run in the same twilio-run process, in the same run.
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { FUNCTION_BUNDLE_OPTIONS } from '../scripts/function-bundle.mjs';

export const ROOT = join(__dirname, '..');
export const SNAPSHOT_DIR = join(ROOT, 'tmp', 'dist-bench');

export interface Snapshot {
  dir: string;
  functionsDir: string;
  /** The built route bundles (dist/functions/*.js), by file name. */
  bundles: string[];
  empty: string;
  /** `round-trips.js`: k Twilio round trips through the project's client and nothing else. */
  roundTrips: string;
  /** An empty function that only requires `twilio` (what every bundle pays before its own code). */
  emptyWithTwilio: string;
  twilioParts: { module: string; file: string }[];
}

/** What the routes use from twilio: signatures, TwiML, access tokens, and the REST client (with axios). */
export const TWILIO_PARTS = [
  'twilio/lib/webhooks/webhooks',
  'twilio/lib/twiml/VoiceResponse',
  'twilio/lib/jwt/AccessToken',
  'twilio/lib/base/RequestClient',
  'twilio',
];

export async function makeSnapshot(): Promise<Snapshot> {
  const dist = join(ROOT, 'dist');
  if (!existsSync(join(dist, 'functions')))
    throw new Error('dist/functions is missing: run `npm run build` first (npm run bench does)');
  rmSync(SNAPSHOT_DIR, { recursive: true, force: true });
  cpSync(dist, SNAPSHOT_DIR, { recursive: true });
  const functionsDir = join(SNAPSHOT_DIR, 'functions');
  const bundles = readdirSync(functionsDir)
    .filter((f) => f.endsWith('.js'))
    .sort();
  const empty = join(functionsDir, 'empty.js');
  writeFileSync(
    empty,
    '// The floor: a Function that does nothing.\nexports.handler = (context, event, callback) => callback(null, {});\n',
  );
  // Bundled as scripts/build.mjs bundles the routes (twilio external).
  const roundTrips = join(functionsDir, 'round-trips.js');
  await build({
    entryPoints: [join(ROOT, 'bench', 'fixtures', 'round-trips.ts')],
    outfile: roundTrips,
    ...FUNCTION_BUNDLE_OPTIONS,
  });
  // Outside functions/, so twilio-run does not serve it: only the cold-start table loads it.
  mkdirSync(join(SNAPSHOT_DIR, 'cold'), { recursive: true });
  const emptyWithTwilio = join(SNAPSHOT_DIR, 'cold', 'empty-with-twilio.js');
  writeFileSync(
    emptyWithTwilio,
    "// The floor plus the twilio module.\nrequire('twilio');\nexports.handler = (context, event, callback) => callback(null, {});\n",
  );
  // The parts of twilio a route could load instead of the whole package (Table 3's second part).
  const twilioParts = TWILIO_PARTS.map((module) => {
    const file = join(SNAPSHOT_DIR, 'cold', `${module.replace(/\W+/g, '-')}.js`);
    writeFileSync(file, `require(${JSON.stringify(module)});\n`);
    return { module, file };
  });
  return { dir: SNAPSHOT_DIR, functionsDir, bundles, empty, roundTrips, emptyWithTwilio, twilioParts };
}
