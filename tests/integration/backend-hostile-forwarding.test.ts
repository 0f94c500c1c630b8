// Issue 22, Must 6: hostile content is normal content for backends too. The trust suite's hostile
// corpus (tests/trust/hostile-contents.ts: nesting bombs, very wide objects, lone surrogates,
// __proto__ keys, 10,000 multi-byte characters), each as an SDK message as it is and inside
// {"ping": …} (the message that used to end the example backend's process), goes through
// forwarding to the example backend that `npm start` runs, here in a process of its own. Every
// event is delivered once (one 2xx answer per webhook-id), none refused or answered 5xx, every
// message recorded forwarded, and the process is still there at the end.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { callMessages } from '../../client/src';
import { EXAMPLE_BACKEND_PATH, EXAMPLE_BACKEND_SECRET, type BackendStats } from '../../scripts/example-backend';
import { freePort, waitFor } from '../../testing/stack';
import { answeredLeg, useTestStack } from '../support/stack';
import { HOSTILE_CONTENTS } from '../trust/hostile-contents';

const ROOT = join(__dirname, '..', '..');
/** Longest message an SDK sends (Twilio's limit on Content): the wrapped variants past it are left out. */
const MAX_CONTENT_CHARS = 10_000;

let backend: ChildProcessWithoutNullStreams;
let output = '';
let base = '';

beforeAll(async () => {
  const port = await freePort();
  backend = spawn(join(ROOT, 'node_modules', '.bin', 'tsx'), ['scripts/example-backend.ts'], {
    cwd: ROOT,
    env: { ...process.env, EXAMPLE_BACKEND_PORT: String(port), APP_WEBHOOK_SECRET: EXAMPLE_BACKEND_SECRET },
  });
  backend.stdout.on('data', (d: Buffer) => (output += d.toString()));
  backend.stderr.on('data', (d: Buffer) => (output += d.toString()));
  await waitFor(async () => output.includes('APP_WEBHOOK_URL='), 'the example backend to listen', 20_000);
  base = `http://127.0.0.1:${port}`;
}, 30_000);
afterAll(() => {
  backend?.kill();
});

const stack = useTestStack(() => ({
  env: { APP_WEBHOOK_URL: `${base}${EXAMPLE_BACKEND_PATH}`, APP_WEBHOOK_SECRET: EXAMPLE_BACKEND_SECRET },
}));
const stats = async () => (await (await fetch(`${base}/stats`)).json()) as BackendStats;

it('delivers every hostile message once to the example backend, which answers 2xx to each and lives on', async () => {
  const ctl = stack.control;
  const leg = await answeredLeg(ctl, 'alice', '+15551239061');

  const texts = HOSTILE_CONTENTS.flatMap(({ name, text }) => [
    { name, text },
    { name: `{"ping": ${name}}`, text: `{"ping":${text}}` },
  ]).filter(({ text }) => text.length <= MAX_CONTENT_CHARS);
  // The one that ended the process: a ping holding 4,500 levels, which the answer echoes.
  expect(texts.map((t) => t.name)).toContain('{"ping": array bomb, 9,000 chars, depth 4,500}');
  const sids: string[] = [];
  const failed: unknown[] = [];
  for (const { name, text } of texts) {
    const sent = await ctl.sendFromPhone('alice', leg, text);
    sids.push(sent.voiceEventSid);
    if (sent.dropped || sent.deliveries.some((d) => d.status !== 200)) failed.push({ name, sent });
  }
  expect(failed).toEqual([]);

  const after = await stats();
  expect(after.refused).toBe(0);
  expect(Object.fromEntries(sids.map((sid) => [sid, after.delivered[sid]]))).toEqual(
    Object.fromEntries(sids.map((sid) => [sid, 1])),
  );
  const page = await callMessages(stack.fn, leg, { pageSize: 100 });
  expect(page.status).toBe(200);
  const forwarded = new Map(page.body.messages.map((m) => [m.sid, m.forwarded]));
  expect(sids.map((sid) => forwarded.get(sid))).toEqual(sids.map(() => true));
  expect(backend.exitCode).toBeNull();
  expect(output).not.toMatch(/RangeError|Maximum call stack|Uncaught/);
});
