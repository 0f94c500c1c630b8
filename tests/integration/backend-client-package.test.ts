// Issue 22, Must 3: the client installs alone. `npm pack` packs client/ (its prepack builds it with
// its own tsconfig), a scratch project under the OS temp folder installs the tarball offline (it has
// no dependencies), and a scratch script that can see nothing of this repository sends a message
// with a backend key, reads it back, and verifies a forwarded event (and refuses it tampered).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startExampleBackend, type ExampleBackend } from '../../scripts/example-backend';
import { SANDBOX_DEFAULTS } from '../../sandbox/defaults';
import { waitFor } from '../../testing/stack';
import { answeredLeg, useTestStack } from '../support/stack';

const run = promisify(execFile);
const CLIENT = join(__dirname, '..', '..', 'client');

let scratch: string;
let backend: ExampleBackend;
const requests: { raw: Buffer; headers: Record<string, string | string[] | undefined> }[] = [];

beforeAll(async () => {
  backend = await startExampleBackend({ onRequest: (raw, headers) => requests.push({ raw, headers }) });
  scratch = mkdtempSync(join(tmpdir(), 'cme-client-package-'));
  const { stdout } = await run('npm', ['pack', '--silent', '--pack-destination', scratch], { cwd: CLIENT });
  const tarball = join(scratch, stdout.trim().split('\n').pop() ?? '');
  writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], { cwd: scratch });
}, 120_000);
afterAll(async () => {
  await backend?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

const stack = useTestStack(() => ({ env: backend.env }));

it('is a package of its own: no dependencies, ES module with types, importing only node: built-ins', () => {
  const installed = join(scratch, 'node_modules', '@cme', 'client');
  const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as Record<string, unknown>;
  expect(manifest).toMatchObject({ name: '@cme/client', type: 'module', types: './dist/index.d.ts' });
  expect(manifest.dependencies).toBeUndefined();
  expect(manifest.exports).toMatchObject({ '.': { types: './dist/index.d.ts', default: './dist/index.js' } });
  const code = readFileSync(join(installed, 'dist', 'index.js'), 'utf8');
  const imports = [
    ...code.matchAll(/\bfrom\s+['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]|require\(\s*['"]([^'"]+)['"]/g),
  ];
  expect(imports.length).toBeGreaterThan(0);
  for (const m of imports) expect(m[1] ?? m[2] ?? m[3]).toMatch(/^node:/);
  expect(readFileSync(join(installed, 'dist', 'index.d.ts'), 'utf8')).toMatch(/export declare function sendMessage/);
});

it('sends and reads with a backend key, and verifies a forwarded event, from a scratch project', async () => {
  const ctl = stack.control;
  const leg = await answeredLeg(ctl, 'alice', '+15551239031');
  const sent = await ctl.sendFromPhone('alice', leg, { from: 'the sdk' });
  const event = await waitFor(
    async () => requests.find((r) => r.headers['webhook-id'] === sent.voiceEventSid),
    'the forwarded event',
  );
  writeFileSync(
    join(scratch, 'input.json'),
    JSON.stringify({
      baseUrl: stack.functionsUrl,
      apiKey: SANDBOX_DEFAULTS.backendKey,
      callSid: leg,
      secret: backend.secret,
      raw: event.raw.toString('base64'),
      headers: event.headers,
    }),
  );
  writeFileSync(
    join(scratch, 'check.mjs'),
    `import { readFileSync } from 'node:fs';
import { callMessages, checkForwardedRequest, sendMessage } from '@cme/client';
const input = JSON.parse(readFileSync('input.json', 'utf8'));
const fn = { baseUrl: input.baseUrl, apiKey: input.apiKey };
const sent = await sendMessage(fn, { callSid: input.callSid, content: { from: 'package' } });
const page = await callMessages(fn, input.callSid, { pageSize: 100 });
const raw = Buffer.from(input.raw, 'base64');
const tampered = Buffer.from(raw.toString('utf8').replace('the sdk', 'the SDK'));
console.log(JSON.stringify({
  sent: { status: sent.status, outcome: sent.body.outcome },
  read: { status: page.status, contents: page.body.messages.map((m) => m.data) },
  event: checkForwardedRequest(raw, input.headers, input.secret),
  tampered: checkForwardedRequest(tampered, input.headers, input.secret),
}));
`,
  );
  const { stdout } = await run(process.execPath, ['check.mjs'], { cwd: scratch });
  const result = JSON.parse(stdout) as Record<string, unknown>;
  expect(result).toEqual({
    sent: { status: 201, outcome: 'sent' },
    read: { status: 200, contents: expect.arrayContaining([{ from: 'package' }, { from: 'the sdk' }]) },
    event: { valid: true, id: sent.voiceEventSid, timestamp: expect.any(Number) },
    tampered: { valid: false, reason: 'signature-mismatch' },
  });
  await waitFor(
    async () =>
      (await ctl.phone('alice')).calls
        .find((c) => c.callSid === leg)
        ?.received.find((m) => (m.content as { from?: string }).from === 'package'),
    'the message on the phone',
  );
});
