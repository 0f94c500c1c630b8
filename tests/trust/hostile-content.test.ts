// Trust suite, hostile content (issue #12): nesting bombs, very wide objects, lone surrogates,
// `__proto__`/`constructor` keys and 10,000-character multi-byte content, through every route that
// accepts content (SDK → server callbacks in every encoding, /send-message, /operator-send,
// /backend-send) and back out through every route that returns it (/call-messages,
// /operator-messages, /backend-messages). Rules: no crash,
// no 5xx, content read back exactly as it arrived. Also measured: how often a JSON callback's body
// is verified by re-serialising it, for each way the sandbox can write JSON.
import fc from 'fast-check';
import twilio from 'twilio';
import { sendMessage } from '../../client/src';
import { jsonDepth } from '../../lib/shared/json-text';
import { MAX_PARSED_DEPTH } from '../../lib/shared/limits';
import { SANDBOX_DEFAULTS } from '../../sandbox/defaults';
import { JSON_STYLES, SANDBOX_SHARED_KEY } from '../../sandbox/webhooks';
import { waitFor } from '../../testing/stack';
import { useTestStack } from '../support/stack';
import { Figures } from './figures';
import { HOSTILE_CONTENTS as CONTENTS } from './hostile-contents';
import { isErrorBody } from './raw-requests';
import { withoutFragment } from '../support/narrow';
import { messageSid } from '../../testing/sids';

jest.setTimeout(180_000);
const SEED = Number(process.env.TRUST_SEED ?? 20261127);
const figures = new Figures();
const stack = useTestStack({ captureOutput: true });

afterAll(() => {
  figures.report(`seed ${SEED}, hostile content`, 'trust-figures-hostile-content.md');
});

const ctl = () => stack.control;
/** The sandbox's backend key (BACKEND_API_KEYS, send+read): /backend-send and /backend-messages. */
const backendKey = () => ({ baseUrl: stack.functionsUrl, apiKey: SANDBOX_DEFAULTS.backendKey });
const kx = (n: number) => messageSid(0xc0de0000 + n);

/** Text as it arrives through a form, a query or a UTF-8 body: lone surrogates become U+FFFD. */
const wellFormed = (text: string) =>
  text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');

// ---- requests -------------------------------------------------------------------------------------

interface Outcome {
  status: number;
  body: unknown;
  crashed?: boolean;
}

/** A request that may find the functions dead: a network failure is recorded as a crash. */
async function request(url: string, init: RequestInit): Promise<Outcome> {
  try {
    const res = await fetch(url, init);
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, body };
  } catch {
    return { status: 0, body: undefined, crashed: true };
  }
}

type Signing = 'auth-token' | 'shared-key';

/** Signs a request to `url` (with `params` for a form body) as Twilio would, either way. */
function signatureHeaders(url: string, params: Record<string, string>, signing: Signing): Record<string, string> {
  if (signing === 'auth-token')
    return { 'X-Twilio-Signature': twilio.getExpectedTwilioSignature(stack.sandbox.authToken, url, params) };
  return {
    'X-Twilio-Signature': twilio.getExpectedTwilioSignature(SANDBOX_SHARED_KEY.secret, url, params, twilio.HMAC_SHA256),
    'X-Twilio-Webhooks-Signature-Settings': `key=${SANDBOX_SHARED_KEY.id},algorithm=HMAC_SHA256`,
  };
}

type Encoding = 'form' | 'json-string' | 'json-value' | 'get';

/** A message callback as Twilio sends it, to the leg's real subscription URL, in `encoding`. */
function messageCallback(
  callbackUrl: string,
  leg: string,
  sid: string,
  sequence: number,
  text: string,
  encoding: Encoding,
  signing: Signing,
) {
  const requested = withoutFragment(callbackUrl);
  const params = {
    ContentType: 'application/json',
    Content: text,
    SequenceNumber: String(sequence),
    CallSid: leg,
    Timestamp: new Date().toUTCString(),
    AccountSid: stack.sandbox.accountSid,
    Sid: sid,
  };
  if (encoding === 'form') {
    return request(requested, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...signatureHeaders(requested, params, signing) },
      body: new URLSearchParams(params).toString(),
    });
  }
  if (encoding === 'get') {
    const url = `${requested}&${new URLSearchParams(params)}`;
    return request(url, { method: 'GET', headers: signatureHeaders(url, {}, signing) });
  }
  // JSON: Content as its text (a string), or as the value itself, written into the raw body as is.
  const { Content: _content, ...rest } = params;
  const raw =
    encoding === 'json-string' ? JSON.stringify(params) : `${JSON.stringify(rest).slice(0, -1)},"Content":${text}}`;
  const url = `${requested}&bodySHA256=${twilio.getExpectedBodyHash(raw)}`;
  return request(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...signatureHeaders(url, {}, signing) },
    body: raw,
  });
}

async function operatorSession(): Promise<string> {
  const res = await request(`${stack.functionsUrl}/operator-session`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ secret: SANDBOX_DEFAULTS.operatorSecret }).toString(),
  });
  expect(res.status).toBe(200);
  return (res.body as { session: string }).session;
}

interface HistoryMessage {
  sid: string;
  direction: string;
  content: string;
  data?: unknown;
}

/** Every message of a leg, through /call-messages (signed) or /operator-messages (session), `pageSize` at a time. */
async function readAll(
  route: 'call-messages' | 'operator-messages' | 'backend-messages',
  leg: string,
  pageSize: number,
  session?: string,
): Promise<{ messages: HistoryMessage[]; statuses: number[]; crashed: boolean }> {
  const messages: HistoryMessage[] = [];
  const statuses: number[] = [];
  let token: string | null = null;
  for (let page = 0; page < 500; page++) {
    const params: Record<string, string> = { callSid: leg, pageSize: String(pageSize) };
    if (token) params.pageToken = token;
    const url = `${stack.functionsUrl}/${route}`;
    const headers: Record<string, string> =
      route === 'call-messages'
        ? signatureHeaders(url, params, page % 2 ? 'shared-key' : 'auth-token')
        : { Authorization: `Bearer ${route === 'backend-messages' ? SANDBOX_DEFAULTS.backendKey : session}` };
    const res = await request(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(params).toString(),
    });
    statuses.push(res.status);
    if (res.crashed) return { messages, statuses, crashed: true };
    if (res.status !== 200) break;
    const body = res.body as { messages: HistoryMessage[]; nextPageToken: string | null };
    messages.push(...body.messages);
    token = body.nextPageToken;
    if (!token) break;
  }
  return { messages, statuses, crashed: false };
}

const alive = async () => (await request(`${stack.functionsUrl}/client-config`, {})).status === 200;

// ---------------------------------------------------------------------------------------------

describe('hostile content through every route that takes or returns it', () => {
  let leg: string;
  let callbackUrl: string;
  let session: string;
  const sent = new Map<string, string>(); // Sid → the content text that must be read back
  const tally = { cases: 0, fiveXX: 0, crashes: 0, badShape: 0, accepted: 0 };
  const failures: unknown[] = [];

  function count(what: string, res: Outcome, ok: (status: number) => boolean) {
    tally.cases++;
    if (res.crashed) tally.crashes++;
    else if (res.status >= 500) tally.fiveXX++;
    else if (ok(res.status)) tally.accepted++;
    else if (!isErrorBody(res.body)) tally.badShape++;
    if (res.crashed || res.status >= 500 || (!ok(res.status) && !isErrorBody(res.body)))
      failures.push({ what, status: res.status, body: JSON.stringify(res.body)?.slice(0, 200) });
  }

  beforeAll(async () => {
    await ctl().registerPhone('hostile', { autoAnswer: true });
    leg = (await ctl().placeCall('hostile', '+15550009000')).callSid;
    const sub = await waitFor(async () => (await ctl().call(leg)).subscriptions[0], 'the leg subscribed');
    callbackUrl = sub.callback;
    session = await operatorSession();
  });

  it('takes every hostile content in: SDK callbacks in every encoding, /send-message, /operator-send', async () => {
    let n = 0;
    for (const content of CONTENTS) {
      const encodings: Encoding[] = ['form', 'json-string', 'json-value'];
      if (new URLSearchParams({ c: content.text }).toString().length < 6_000) encodings.push('get');
      for (const encoding of encodings) {
        for (const signing of ['auth-token', 'shared-key'] as const) {
          n++;
          const sid = kx(n);
          const res = await messageCallback(callbackUrl, leg, sid, n, content.text, encoding, signing);
          count(`${content.name} / ${encoding} / ${signing}`, res, (s) => s === 200);
          // Only a JSON string escapes a lone surrogate; a form, a query or raw UTF-8 turn it into U+FFFD.
          if (res.status === 200) sent.set(sid, encoding === 'json-string' ? content.text : wellFormed(content.text));
        }
      }
      // Through the sandbox's own delivery (what Twilio does when the SDK sends it).
      const viaSandbox = await ctl().sendFromPhone('hostile', leg, content.text);
      tally.cases++;
      if (viaSandbox.deliveries.some((d) => d.status === null || d.status >= 500)) {
        tally.fiveXX++;
        failures.push({ what: `${content.name} / sandbox delivery`, deliveries: viaSandbox.deliveries });
      } else tally.accepted++;
      sent.set(viaSandbox.voiceEventSid, wellFormed(content.text));

      // Server → SDK: only JSON objects of ≤ 10,000 characters are content; the rest is refused with 400.
      const viaApi = await sendMessage(stack.fn, { callSid: leg, content: content.text });
      count(`${content.name} / send-message`, { status: viaApi.status, body: viaApi.body }, (s) => s === 201);
      const viaConsole = await request(`${stack.functionsUrl}/operator-send`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: `Bearer ${session}` },
        body: new URLSearchParams({ callSid: leg, content: content.text }).toString(),
      });
      count(`${content.name} / operator-send`, viaConsole, (s) => s === 201);
      const viaKey = await sendMessage(backendKey(), { callSid: leg, content: content.text });
      count(`${content.name} / backend-send`, { status: viaKey.status, body: viaKey.body }, (s) => s === 201);
      const answers = [{ status: viaApi.status, body: viaApi.body as unknown }, viaConsole];
      for (const res of [...answers, { status: viaKey.status, body: viaKey.body as unknown }]) {
        if (content.object && res.status !== 201) failures.push({ what: `${content.name} refused`, res });
        if (!content.object && res.status !== 400) failures.push({ what: `${content.name} not refused`, res });
        if (res.status === 201) sent.set((res.body as { sid: string }).sid, wellFormed(content.text));
      }
    }
    expect(await alive()).toBe(true);
    figures.add('hostile content', 'kinds of hostile content', CONTENTS.length, '-', true);
    figures.add('hostile content', 'requests carrying it / accepted', `${tally.cases} / ${tally.accepted}`, '-', true);
    figures.add('hostile content', 'crashes (functions process gone)', tally.crashes, '= 0', tally.crashes === 0);
    figures.add('hostile content', '5xx answers', tally.fiveXX, '= 0', tally.fiveXX === 0);
    figures.add('hostile content', 'refusals without {code,message}', tally.badShape, '= 0', tally.badShape === 0);
    expect(failures.slice(0, 5)).toEqual([]);
    expect(tally.crashes + tally.fiveXX + tally.badShape).toBe(0);
  });

  it('gives every stored message back, as the text it arrived as, from /call-messages, /operator-messages and /backend-messages', async () => {
    const reads = [
      await readAll('call-messages', leg, 100),
      await readAll('call-messages', leg, 7),
      await readAll('operator-messages', leg, 100, session),
      await readAll('operator-messages', leg, 3, session),
      await readAll('backend-messages', leg, 100),
      await readAll('backend-messages', leg, 5),
    ];
    const crashes = reads.filter((r) => r.crashed).length;
    const fiveXX = reads.flatMap((r) => r.statuses).filter((s) => s >= 500).length;
    const pages = reads.flatMap((r) => r.statuses).length;
    let mismatched = 0;
    let dataBeyondDepth = 0;
    for (const { messages } of reads) {
      const bySid = new Map(messages.map((m) => [m.sid, m]));
      for (const [sid, text] of sent) {
        const m = bySid.get(sid);
        if (m?.content !== text) mismatched++;
        if (m && 'data' in m && jsonDepth(m.content) > MAX_PARSED_DEPTH) dataBeyondDepth++;
      }
    }
    expect(await alive()).toBe(true);
    figures.add('hostile content', 'history pages read (6 ways) / 5xx', `${pages} / ${fiveXX}`, '0 5xx', fiveXX === 0);
    figures.add('hostile content', 'crashes while reading history', crashes, '= 0', crashes === 0);
    figures.add('hostile content', 'messages stored (each read 6 ways)', sent.size, '-', true);
    figures.add('hostile content', 'read back not exactly as they arrived', mismatched, '= 0', mismatched === 0);
    figures.add('hostile content', 'parsed copies deeper than 64', dataBeyondDepth, '= 0', dataBeyondDepth === 0);
    expect({ crashes, fiveXX, mismatched, dataBeyondDepth }).toEqual({
      crashes: 0,
      fiveXX: 0,
      mismatched: 0,
      dataBeyondDepth: 0,
    });
  });
});

describe('JSON callbacks verified in full by re-serialising the body (bodySHA256)', () => {
  it('measures the match rate for each way the sandbox writes JSON', async () => {
    await ctl().registerPhone('styles', { autoAnswer: true });
    const leg = (await ctl().placeCall('styles', '+15550009001')).callSid;
    const sub = await waitFor(async () => (await ctl().call(leg)).subscriptions[0], 'the leg subscribed');
    const contents = fc.sample(
      fc.oneof(
        fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue(), { maxKeys: 4 }),
        fc.record({ text: fc.string({ unit: 'grapheme', maxLength: 30 }) }),
        fc.record({ ascii: fc.string({ unit: 'grapheme-ascii', maxLength: 30 }) }),
      ),
      { seed: SEED, numRuns: 50 },
    );
    const webhooks = stack.sandbox.webhooks;
    const saved = { encoding: webhooks.knobs.messageEncoding, style: webhooks.knobs.jsonStyle };
    let n = 0;
    const stored: Record<string, number> = {};
    const verified: Record<string, number> = {};
    try {
      webhooks.knobs.messageEncoding = 'json';
      for (const style of JSON_STYLES) {
        webhooks.knobs.jsonStyle = style;
        stored[style] = 0;
        verified[style] = 0;
        for (const content of contents) {
          n++;
          const params = {
            ContentType: 'application/json',
            Content: JSON.stringify(content),
            SequenceNumber: String(n),
            CallSid: leg,
            Timestamp: new Date().toUTCString(),
            AccountSid: stack.sandbox.accountSid,
            Sid: kx(100_000 + n),
          };
          const { url, init } = webhooks.signedRequest({ kind: 'message', url: sub.callback, method: 'POST', params });
          const res = await request(url, init);
          if (res.status === 200) stored[style]++;
          if ((res.body as { verification?: string }).verification === 'signature') verified[style]++;
        }
        const pct = Math.round((100 * verified[style]) / contents.length);
        figures.add(
          'JSON verification',
          `body re-derived from bodySHA256, sandbox writes "${style}"`,
          `${verified[style]} / ${contents.length} (${pct}%)`,
          style === 'compact' ? '= all' : 'measured',
          style === 'compact' ? verified[style] === contents.length : true,
        );
      }
    } finally {
      webhooks.knobs.messageEncoding = saved.encoding;
      webhooks.knobs.jsonStyle = saved.style;
    }
    expect(stored).toEqual(Object.fromEntries(JSON_STYLES.map((style) => [style, contents.length])));
    // Compact JSON (what Twilio sends) re-serialises exactly; added whitespace never does; ascii is measured.
    const { compact, pretty, spaced } = verified;
    expect({ compact, pretty, spaced }).toEqual({ compact: contents.length, pretty: 0, spaced: 0 });
  });
});
