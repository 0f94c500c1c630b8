// What `twilio-run deploy` would upload: the build output, listed exactly as twilio-run lists
// what it deploys (@twilio-labs/serverless-api getListOfFunctionsAndAssets with the folders from
// .twilioserverlessrc). The build runs in a scratch copy of the project root so that it never
// deletes the dist/ another test (or `npm start`) is serving from.
import { execFile } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import { defined } from '../support/narrow';

interface Resource {
  name: string;
  path: string;
  access: 'public' | 'protected' | 'private';
  content: string | Buffer;
  filePath: string;
}
interface ServerlessApi {
  fsHelpers: {
    getListOfFunctionsAndAssets(
      cwd: string,
      config?: { functionsFolderNames?: string[]; assetsFolderNames?: string[] },
    ): Promise<{ functions: Resource[]; assets: Resource[] }>;
  };
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { fsHelpers } = require('@twilio-labs/serverless-api') as ServerlessApi;

const ROOT = resolve(__dirname, '../..');
const rc = JSON.parse(readFileSync(join(ROOT, '.twilioserverlessrc'), 'utf8')) as {
  functionsFolder: string;
  assetsFolder: string;
};

const INTENDED = [
  // Agents sign in here (throttled); the session it gives is what /token asks for.
  { path: '/agent-session', access: 'public' },
  // Your backend's key routes check `Authorization: Bearer <key>` themselves (BACKEND_API_KEYS).
  { path: '/backend-conference', access: 'public' },
  { path: '/backend-messages', access: 'public' },
  { path: '/backend-send', access: 'public' },
  { path: '/call-messages', access: 'protected' },
  { path: '/call-status', access: 'protected' },
  // The browser's routes are public: /client-config says nothing secret; /operator-* check a session.
  { path: '/client-config', access: 'public' },
  // Conference mode: Twilio's conference events, and your backend's broadcast and room history (signed).
  { path: '/conference-messages', access: 'protected' },
  { path: '/conference-participant', access: 'protected' },
  { path: '/conference-send', access: 'protected' },
  { path: '/conference-status', access: 'protected' },
  { path: '/message-callback', access: 'protected' },
  { path: '/operator-agents', access: 'public' },
  { path: '/operator-agents-add', access: 'public' },
  { path: '/operator-agents-update', access: 'public' },
  { path: '/operator-calls', access: 'public' },
  { path: '/operator-conference', access: 'public' },
  { path: '/operator-messages', access: 'public' },
  { path: '/operator-send', access: 'public' },
  { path: '/operator-session', access: 'public' },
  // The status page's report: checks the operator's session like the other /operator-* routes.
  { path: '/operator-status', access: 'public' },
  // The console's Sync token: checks the operator's session like the other /operator-* routes.
  { path: '/operator-sync-token', access: 'public' },
  { path: '/send-message', access: 'protected' },
  { path: '/token', access: 'public' },
  { path: '/voice', access: 'protected' },
];

let work: string;
let functions: Resource[];
let assets: Resource[];

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    return statSync(full).isDirectory() ? filesUnder(full) : [full];
  });
}

const inside = (file: string, dir: string) =>
  !relative(dir, file).startsWith('..') && !relative(dir, file).startsWith(sep);

beforeAll(async () => {
  // A scratch root: its own scripts/ and dist/, the project's sources and node_modules linked in.
  work = realpathSync(mkdtempSync(join(tmpdir(), 'deploy-set-')));
  mkdirSync(join(work, 'scripts'));
  for (const f of readdirSync(join(ROOT, 'scripts')).filter((f) => f.endsWith('.mjs')))
    copyFileSync(join(ROOT, 'scripts', f), join(work, 'scripts', f));
  for (const d of ['functions', 'lib', 'node_modules'])
    if (existsSync(join(ROOT, d))) symlinkSync(join(ROOT, d), join(work, d), 'dir');
  if (existsSync(join(ROOT, 'assets'))) cpSync(join(ROOT, 'assets'), join(work, 'assets'), { recursive: true });
  for (const f of ['package.json', '.twilioserverlessrc']) copyFileSync(join(ROOT, f), join(work, f));

  await new Promise<void>((done, fail) =>
    execFile(
      process.execPath,
      [join(work, 'scripts/build.mjs')],
      { cwd: work, timeout: 60_000 },
      (err, _out, stderr) => (err ? fail(new Error(`build failed: ${stderr}`)) : done()),
    ),
  );
  // Exactly what twilio-run deploy does with .twilioserverlessrc's functionsFolder/assetsFolder.
  ({ functions, assets } = await fsHelpers.getListOfFunctionsAndAssets(work, {
    functionsFolderNames: [rc.functionsFolder],
    assetsFolderNames: [rc.assetsFolder],
  }));
}, 90_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('deploy set', () => {
  it('.twilioserverlessrc deploys the build output, not the sources', () => {
    expect(rc.functionsFolder).toBe('dist/functions');
    expect(rc.assetsFolder).toBe('dist/assets');
  });

  it('uploads exactly the intended functions with the intended access', () => {
    const table = functions
      .map((f) => ({ path: f.path, access: f.access }))
      .sort((a, b) => a.path.localeCompare(b.path));
    expect(table).toEqual(INTENDED);
  });

  it('every function is a self-contained bundle from dist/functions', () => {
    for (const f of functions) {
      expect(inside(f.filePath, join(work, rc.functionsFolder))).toBe(true);
      expect(f.filePath).toMatch(/\.js$/);
      // A require( that opens a string literal is code a library writes, not a call (ajv's standalone
      // codegen holds `require("ajv/dist/runtime/…")` texts; the bundle runs without them).
      const requires = [...String(f.content).matchAll(/(?<![`'"])require\(["']([^"']+)["']\)/g)].map((m) =>
        defined(m[1]),
      );
      // Relative requires do not survive deployment; only twilio (installed by the runtime) and Node built-ins may remain.
      expect(requires.filter((r) => !(r === 'twilio' || r.startsWith('twilio/') || r.startsWith('node:')))).toEqual([]);
    }
  });

  it('uploads the landing page where / finds it, and the pages as public assets', () => {
    // twilio-run (runtime/server.js) answers / with the asset at /assets/index.html, as Twilio does.
    const byPath = new Map(assets.map((a) => [a.path, a.access]));
    for (const page of ['/assets/index.html', '/index.html', '/console.html', '/status.html'])
      expect([page, byPath.get(page)]).toEqual([page, 'public']);
  });

  it('uploads exactly the files of dist/assets, and no sources, maps, tests, sandbox or lib files', () => {
    const assetsDir = join(work, rc.assetsFolder);
    const expected = filesUnder(assetsDir)
      .filter((f) => !f.endsWith('.DS_Store'))
      .sort();
    expect(assets.map((a) => a.filePath).sort()).toEqual(expected);
    for (const a of [...assets, ...functions]) {
      expect(inside(a.filePath, join(work, 'dist'))).toBe(true);
      expect(a.path).not.toMatch(/\.(ts|tsx|mts|cts|map)$/);
      expect(a.path).not.toMatch(/(^|[/._-])(test|tests|spec|__tests__)([/._-]|$)/);
      expect(a.path).not.toMatch(/(^|\/)(sandbox|lib|node_modules|scripts)(\/|$)/);
      expect(a.path).not.toMatch(/(^|\/)\.env/);
    }
  });
});
