// The import rules of eslint.layers.mjs, run by ESLint itself on deliberately wrong (and right)
// imports: proof that `npm run lint` bites when a layer reaches where it must not.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');

interface Verdict {
  filePath: string;
  code: string;
  messages: string[];
}

/** Lints each (file, import) pair with the project's layer rules only, in a child ESM process. */
function lint(cases: { file: string; from: string }[]): Verdict[] {
  const script = `
    import { ESLint } from 'eslint';
    import tseslint from 'typescript-eslint';
    import { layerRules } from './eslint.layers.mjs';
    const cases = JSON.parse(process.argv[1]);
    const eslint = new ESLint({
      cwd: process.cwd(),
      overrideConfigFile: true,
      overrideConfig: [{ files: ['**/*.ts'], languageOptions: { parser: tseslint.parser } }, ...layerRules],
    });
    const out = [];
    for (const c of cases) {
      const code = "import { x } from '" + c.from + "';\\nexport const y = x;\\n";
      const [result] = await eslint.lintText(code, { filePath: c.file });
      out.push({ filePath: c.file, code: c.from, messages: result.messages.map((m) => m.ruleId + ': ' + m.message) });
    }
    console.log(JSON.stringify(out));
  `;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script, JSON.stringify(cases)], {
    cwd: root,
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`eslint run failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as Verdict[];
}

const refused = [
  { file: 'lib/store/call-store.ts', from: '../../sandbox/app' },
  { file: 'lib/routes/voice.ts', from: '../../functions/voice.protected' },
  { file: 'lib/calls/legs.ts', from: '../../scripts/wire' },
  { file: 'lib/messages/content.ts', from: '../../tests/support/stack' },
  { file: 'lib/auth/agents.ts', from: '../../bench/stack' },
  { file: 'lib/store/leg-map.ts', from: '../http/function-handler' },
  { file: 'lib/forwarding/webhook.ts', from: '../routes/send-message' },
  { file: 'lib/http/function-handler.ts', from: '../routes/voice' },
  { file: 'lib/platform/config.ts', from: '../calls/callback-urls' },
  { file: 'lib/shared/api-types.ts', from: '../calls/legs' },
  { file: 'lib/shared/json-text.ts', from: 'node:crypto' },
  { file: 'functions/voice.protected.ts', from: '../lib/store/call-store' },
  { file: 'functions/voice.protected.ts', from: '../sandbox/app' },
  { file: 'assets/src/console/api.ts', from: '../../../lib/http/function-handler' },
  { file: 'assets/src/softphone.ts', from: '../../sandbox/defaults' },
  { file: 'sandbox/app.ts', from: '../lib/store/call-store' },
  { file: 'client/src/index.ts', from: '../../lib/shared/api-types' },
  { file: 'client/src/index.ts', from: 'twilio' },
];

const allowed = [
  { file: 'lib/store/call-store.ts', from: '../calls/legs' },
  { file: 'lib/routes/voice.ts', from: '../http/function-handler' },
  { file: 'lib/http/function-handler.ts', from: '../store/call-store' },
  { file: 'lib/platform/config.ts', from: '../shared/limits' },
  { file: 'lib/shared/api-types.ts', from: './limits' },
  { file: 'functions/voice.protected.ts', from: '../lib/http/function-handler' },
  { file: 'functions/voice.protected.ts', from: '../lib/routes/voice' },
  { file: 'assets/src/console/api.ts', from: '../../../lib/shared/api-types' },
  { file: 'sandbox/app.ts', from: '../lib/shared/json-text' },
  { file: 'client/src/index.ts', from: 'node:crypto' },
  { file: 'client/src/index.ts', from: './webhooks' },
];

describe('layer rules (eslint.layers.mjs)', () => {
  const verdicts = lint([...refused, ...allowed]);
  const verdictOf = (c: { file: string; from: string }) =>
    verdicts.find((v) => v.filePath.endsWith(c.file) && v.code === c.from);

  it.each(refused)('refuses $from in $file', (c) => {
    const messages = verdictOf(c)?.messages ?? [];
    expect(messages.filter((m) => m.startsWith('no-restricted-imports'))).toHaveLength(1);
  });

  it.each(allowed)('allows $from in $file', (c) => {
    expect(verdictOf(c)?.messages).toEqual([]);
  });
});
