// Issue 22, Must 6: the documented Express backend (docs/FORWARDING.md, moved there from the
// README's section "Forwarding to your backend" in issue 21), run as it
// is written, never crashes or answers 5xx on any content an SDK can send: every hostile content of
// the trust corpus, as it is and inside {"ping": …}, signed as the functions sign a call.message,
// gets a 2xx; a repeat is answered as the first time; a tampered one is refused with 400.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { messageEventBody, webhookHeaders } from '../../lib/forwarding/webhook';
import { freePort, waitFor } from '../../testing/stack';
import { callSid, messageSid } from '../../testing/sids';
import { HOSTILE_CONTENTS } from '../trust/hostile-contents';

const ROOT = join(__dirname, '..', '..');
const KEY = Buffer.alloc(32, 0x52);
const SECRET = `whsec_${KEY.toString('base64')}`;

let dir: string;
let server: ChildProcessWithoutNullStreams;
let output = '';
let url = '';

/** The documented Express snippet: the first ```ts block of docs/FORWARDING.md that imports express. */
function readmeSnippet(): string {
  const doc = readFileSync(join(ROOT, 'docs', 'FORWARDING.md'), 'utf8');
  const section = doc.slice(doc.indexOf('# Forwarding to your backend'));
  const block = /```ts\n(import express from 'express';[\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error("docs/FORWARDING.md: no Express snippet under 'Forwarding to your backend'");
  return block;
}

beforeAll(async () => {
  mkdirSync(join(ROOT, 'tmp'), { recursive: true });
  dir = mkdtempSync(join(ROOT, 'tmp', 'readme-snippet-'));
  const code = readmeSnippet().replace(/from '@cme\/client'/, `from ${JSON.stringify(join(ROOT, 'client', 'src'))}`);
  const port = await freePort();
  writeFileSync(
    join(dir, 'backend.ts'),
    `${code}\napp.listen(${port}, '127.0.0.1', () => console.log('listening'));\n`,
  );
  server = spawn(join(ROOT, 'node_modules', '.bin', 'tsx'), [join(dir, 'backend.ts')], {
    cwd: ROOT,
    env: { ...process.env, APP_WEBHOOK_SECRET: SECRET },
  });
  server.stdout.on('data', (d: Buffer) => (output += d.toString()));
  server.stderr.on('data', (d: Buffer) => (output += d.toString()));
  await waitFor(async () => output.includes('listening'), 'the README backend to listen', 20_000);
  url = `http://127.0.0.1:${port}/cme-events`;
}, 30_000);
afterAll(() => {
  server?.kill();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const post = (body: string, headers: Record<string, string>) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

it('answers 2xx to every hostile content, a repeat as the first time, and 400 to a tampered one', async () => {
  const texts = HOSTILE_CONTENTS.flatMap(({ name, text }) => [
    { name, text },
    { name: `{"ping": ${name}}`, text: `{"ping":${text}}` },
    { name: `{"ping": "…"} next to ${name}`, text: `{"ping":"p","x":${text}}` },
  ]);
  const answers: { name: string; status: number; again?: number; same?: boolean }[] = [];
  for (const [i, { name, text }] of texts.entries()) {
    const sid = messageSid(0x5e000 + i);
    const message = {
      sid,
      callSid: callSid(1),
      direction: 'from-sdk' as const,
      sequence: i + 1,
      contentType: 'application/json',
      content: text,
      timestamp: new Date().toISOString(),
    };
    const body = messageEventBody(message, { parentCallSid: callSid(2), identity: 'alice' });
    const headers = webhookHeaders([KEY], sid, body, Math.floor(Date.now() / 1000));
    const first = await post(body, headers);
    const firstText = await first.text();
    const again = await post(body, headers);
    answers.push({ name, status: first.status, again: again.status, same: (await again.text()) === firstText });
  }
  expect(answers.filter((a) => a.status !== 200 || a.again !== 200 || !a.same)).toEqual([]);
  const body = messageEventBody(
    {
      sid: messageSid(0x5eff),
      callSid: callSid(1),
      direction: 'from-sdk',
      sequence: 1,
      contentType: 'application/json',
      content: '{"ping":"x"}',
      timestamp: new Date().toISOString(),
    },
    { parentCallSid: callSid(2), identity: 'alice' },
  );
  const headers = webhookHeaders([KEY], messageSid(0x5eff), body, Math.floor(Date.now() / 1000));
  expect((await post(body.replace('"x"', '"y"'), headers)).status).toBe(400);
  const ok = await post(body, headers);
  expect(await ok.json()).toEqual({ reply: { pong: 'x' } });
  expect(server.exitCode).toBeNull();
});
