// Issue 22, Must 5: a backend in another language. examples/python/backend.py (Python's standard
// library only) is the app's backend of a real stack: it verifies the Standard Webhooks events the
// functions forward and answers a ping with a reply the SDK phone receives; it refuses a tampered,
// stale or foreign-signed event; it sends a message and reads the history with a backend key; and
// every content of the trust suite's hostile corpus, among them a message nested 4,500 levels deep
// (past Python's JSON parser), is acknowledged (2xx), never a 5xx.
import { spawn, execFile, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { webhookHeaders } from '../../lib/forwarding/webhook';
import { SANDBOX_DEFAULTS } from '../../sandbox/defaults';
import { waitFor } from '../../testing/stack';
import { answeredLeg, useTestStack } from '../support/stack';
import { HOSTILE_CONTENTS } from '../trust/hostile-contents';

const run = promisify(execFile);
const SCRIPT = join(__dirname, '..', '..', 'examples', 'python', 'backend.py');
const KEY = Buffer.alloc(32, 0x50);
const SECRET = `whsec_${KEY.toString('base64')}`;
/** Longest message an SDK sends (Twilio's limit on Content): the wrapped variants past it are left out. */
const MAX_CONTENT_CHARS = 10_000;

let python: ChildProcessWithoutNullStreams;
let eventsUrl = '';
let output = '';

beforeAll(async () => {
  python = spawn('python3', [SCRIPT, 'serve'], { env: { ...process.env, APP_WEBHOOK_SECRET: SECRET, PORT: '0' } });
  python.stdout.on('data', (d: Buffer) => (output += d.toString()));
  python.stderr.on('data', (d: Buffer) => (output += d.toString()));
  eventsUrl = await waitFor(async () => /listening on (\S+)/.exec(output)?.[1], 'the Python backend to listen', 10_000);
});
afterAll(() => {
  python?.kill();
});

const stack = useTestStack(() => ({ env: { APP_WEBHOOK_URL: eventsUrl, APP_WEBHOOK_SECRET: SECRET } }));
const stats = async () =>
  (await (await fetch(eventsUrl.replace('/cme-events', '/stats'))).json()) as { received: string[]; refused: number };
const python3 = (...args: string[]) =>
  run('python3', [SCRIPT, ...args], {
    env: { ...process.env, CME_FUNCTIONS_URL: stack.functionsUrl, CME_BACKEND_KEY: SANDBOX_DEFAULTS.backendKey },
  }).then(({ stdout }) => JSON.parse(stdout) as { status: number; answer: Record<string, unknown> });

let leg: string;
beforeAll(async () => {
  const ctl = stack.control;
  leg = await answeredLeg(ctl, 'alice', '+15551239051');
}, 60_000);

const received = async () => (await stack.control.phone('alice')).calls.find((c) => c.callSid === leg)?.received ?? [];

it('verifies forwarded events and answers a ping: the reply reaches the SDK phone', async () => {
  const sent = await stack.control.sendFromPhone('alice', leg, { ping: 'from the sdk' });
  await waitFor(
    async () => (await received()).find((m) => (m.content as { pong?: string }).pong === 'from the sdk'),
    "the Python backend's reply on the phone",
  );
  expect((await stats()).received).toContain(sent.voiceEventSid);
  // /call-status forwards call.started once it has recorded the subscription, which may end after
  // the subscription exists at Twilio (and the message above went through it).
  await waitFor(async () => (await stats()).received.includes(`${leg}:call.started`), 'call.started in Python');
  expect((await stats()).refused).toBe(0);
});

it('refuses an event tampered with, stale, or signed with another secret (400), and accepts it intact', async () => {
  const body = JSON.stringify({ type: 'call.message', callSid: leg, sid: 'KXpython', content: { a: 1 } });
  const now = Math.floor(Date.now() / 1000);
  const post = (b: string, headers: Record<string, string>) =>
    fetch(eventsUrl, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: b });
  const before = (await stats()).refused;
  expect((await post(body.replace('"a":1', '"a":2'), webhookHeaders([KEY], 'KXpython', body, now))).status).toBe(400);
  expect((await post(body, webhookHeaders([KEY], 'KXpython', body, now - 600))).status).toBe(400);
  expect((await post(body, webhookHeaders([Buffer.alloc(32, 1)], 'KXpython', body, now))).status).toBe(400);
  const moved = { ...webhookHeaders([KEY], 'KXpython', body, now), 'webhook-id': 'KXother' };
  expect((await post(body, moved)).status).toBe(400);
  expect((await stats()).refused - before).toBe(4);
  expect((await post(body, webhookHeaders([Buffer.alloc(32, 1), KEY], 'KXpython', body, now))).status).toBe(200);
});

it("answers a stranger's odd headers with a 4xx, never a dropped connection", async () => {
  const body = '{}';
  const now = Math.floor(Date.now() / 1000);
  const { port } = new URL(eventsUrl);
  /** One raw request (any header bytes, any Content-Length): the status line of the answer. */
  const raw = (headers: Record<string, string>, length = String(body.length)) =>
    new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1');
      let answer = '';
      socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
      socket.on('end', () => resolve(answer.split('\r\n')[0] ?? ''));
      socket.on('error', reject);
      const lines = Object.entries({ ...headers, 'content-length': length }).map(([k, v]) => `${k}: ${v}`);
      socket.end(Buffer.from(`POST /cme-events HTTP/1.0\r\n${lines.join('\r\n')}\r\n\r\n${body}`, 'latin1'));
    });
  const good = webhookHeaders([KEY], 'KXodd', body, now);
  // compare_digest refuses non-ASCII text; isdigit() takes "²", which int() refuses.
  expect(await raw({ ...good, 'webhook-signature': 'v1,\u00e9t\u00e9' })).toMatch(/ 400 /);
  expect(await raw({ ...good, 'webhook-timestamp': '\u00b2' })).toMatch(/ 400 /);
  expect(await raw(good, 'many')).toMatch(/ 400 /);
  expect(await raw(good, '-1')).toMatch(/ 400 /);
  expect(await raw(good)).toMatch(/ 200 /);
});

it('sends a message and reads the history with a backend key (urllib)', async () => {
  const sent = await python3('send', '--call', leg, '{"hello":"from python"}');
  expect(sent).toMatchObject({ status: 201, answer: { callSid: leg, outcome: 'sent' } });
  await waitFor(
    async () => (await received()).find((m) => (m.content as { hello?: string }).hello === 'from python'),
    'the message on the phone',
  );
  const history = await python3('history', leg);
  expect(history.status).toBe(200);
  expect((history.answer.messages as { data?: unknown }[]).map((m) => m.data)).toContainEqual({ hello: 'from python' });
  const refused = await run('python3', [SCRIPT, 'send', '--call', leg, '{}'], {
    env: { ...process.env, CME_FUNCTIONS_URL: stack.functionsUrl, CME_BACKEND_KEY: `sandbox.${'x'.repeat(40)}` },
  }).catch((err: { stdout: string }) => JSON.parse(err.stdout) as unknown);
  expect(refused).toMatchObject({ status: 401, answer: { code: 'backend-key-invalid' } });
});

it("acknowledges every content of the trust suite's hostile corpus (2xx), as it is and in a ping", async () => {
  const texts = HOSTILE_CONTENTS.flatMap(({ name, text }) => [
    { name, text },
    { name: `{"ping": ${name}}`, text: `{"ping":${text}}` },
  ]).filter(({ text }) => text.length <= MAX_CONTENT_CHARS);
  const refusedBefore = (await stats()).refused;
  const failed: unknown[] = [];
  const sids: string[] = [];
  for (const { name, text } of texts) {
    const sent = await stack.control.sendFromPhone('alice', leg, text);
    sids.push(sent.voiceEventSid);
    if (sent.dropped || sent.deliveries.some((d) => d.status !== 200)) failed.push({ name, sent });
  }
  expect(failed).toEqual([]);
  const after = await stats();
  expect(sids.filter((sid) => !after.received.includes(sid))).toEqual([]);
  expect(after.refused).toBe(refusedBefore);
  expect(python.exitCode).toBeNull();
  expect(output).not.toMatch(/Traceback/);
});

it("acknowledges a message nested 4,500 levels deep (past Python's JSON parser) instead of failing it", async () => {
  const deep = `{"ping":${'['.repeat(4500)}${']'.repeat(4500)}}`;
  const refusedBefore = (await stats()).refused;
  const sent = await stack.control.sendFromPhone('alice', leg, deep);
  await waitFor(async () => (await stats()).received.includes(sent.voiceEventSid), 'the deep message delivered');
  expect(python.exitCode).toBeNull();
  expect((await stats()).refused).toBe(refusedBefore);
});
