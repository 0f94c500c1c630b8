// The trust suite (npm run test:trust): authentication, a hostile-input corpus, duplicated and
// reordered webhooks, injected faults and Sync's rate limit — over the sandbox and real twilio-run.
// Each section records figures; the table is printed at the end and every rule is asserted.
import fc from 'fast-check';
import twilio from 'twilio';
import { callMessages, sendMessage, signedPost } from '../../client/src';
import { messageCallbackQuery } from '../../lib/calls/callback-urls';
import { legMapName } from '../../lib/store/call-store';
import { roomOf } from '../../lib/calls/conference';
import { SANDBOX_DEFAULTS } from '../../sandbox/defaults';
import { IDEMPOTENCY_VARIANTS } from '../../sandbox/knobs';
import { waitFor } from '../../testing/stack';
import { useTestStack } from '../support/stack';
import { gatewayLog } from '../support/functions-gateway';
import { hostileCorpus } from './corpus';
import { Figures } from './figures';
import { isErrorBody, rawRequests } from './raw-requests';
import { callSid } from '../../testing/sids';

const SEED = Number(process.env.TRUST_SEED ?? 20261127);
const CASES_PER_ROUTE = Number(process.env.TRUST_CASES ?? 200);
/** Calls per IdempotencyKey variant in the duplicated-status-callback run. */
const CALLS_PER_VARIANT = Number(process.env.TRUST_CALLS_PER_VARIANT ?? 120);
/** How often the faults run's backend tries one send before it gives up. */
const SEND_ATTEMPTS = 8;
const figures = new Figures();
const stack = useTestStack({ captureOutput: true });

afterAll(() => {
  figures.report(`seed ${SEED}, ${CASES_PER_ROUTE} cases per route`);
  if (process.env.TRUST_DUMP_OUTPUT) process.stdout.write(stack.output.join('').slice(-20_000));
});

const ctl = () => stack.control;
const corpus = hostileCorpus(SEED);
const { fakeSid } = corpus;
const rawRequest = rawRequests(() => stack.functionsUrl);
const gateway = gatewayLog(ctl);

/** Sync writes that may have changed something: one Sync refused (e.g. 404 for a missing Map) did not; one whose answer never came (0) is counted. */
const syncWrites = () =>
  stack.sandbox.requests.filter((r) => r.product === 'sync' && r.method !== 'GET' && r.status < 300).length;

/** Why legs are still unsubscribed: each one's status callbacks (copies, attempts, answers) and its function log lines. */
async function stuckLegsReport(legs: readonly string[]): Promise<string> {
  const lines: string[] = [];
  for (const leg of legs) {
    const call = await ctl()
      .call(leg)
      .catch(() => undefined);
    lines.push(`leg ${leg}: status ${call?.status ?? '?'}, ${call?.subscriptions.length ?? '?'} subscriptions`);
    // A parent leg's callbacks are its <Dial> child's.
    const children = call?.dialedLeg ? [call.dialedLeg] : [];
    for (const w of stack.sandbox.webhooks.log)
      if (w.kind === 'status' && w.callSid !== undefined && [leg, ...children].includes(w.callSid))
        lines.push(
          `  ${w.at} ${w.callStatus ?? ''} → ${w.status ?? 'no answer'} in ${w.ms} ms (attempt ${w.attempt}) ${w.answer ?? ''}`,
        );
    for (const out of stack.output.join('').split('\n'))
      if (out.includes(leg)) lines.push(`  log: ${out.slice(0, 400)}`);
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
describe('1. authentication', () => {
  let leg: string;
  let otherLeg: string;

  beforeAll(async () => {
    await ctl().registerPhone('alice', { autoAnswer: true });
    await ctl().registerPhone('zed', { autoAnswer: true });
    await ctl().callIn('+15550001000');
    await ctl().registerPhone('yan');
    leg = (
      await waitFor(async () => (await ctl().phone('alice')).calls.find((c) => c.state === 'open'), 'alice answering')
    ).callSid;
    otherLeg = (await ctl().placeCall('yan', '+15550002000')).callSid;
    await waitFor(
      async () =>
        (await ctl().call(otherLeg)).subscriptions.length > 0 && (await ctl().call(leg)).subscriptions.length > 0,
      'subscriptions',
    );
  });

  it('refuses every forged request', async () => {
    const token = stack.sandbox.authToken;
    const routes: { path: string; query?: Record<string, string>; body: Record<string, string> }[] = [
      {
        path: '/voice',
        body: {
          From: '+15550001111',
          To: SANDBOX_DEFAULTS.phoneNumber,
          CallSid: fakeSid('CA'),
          AccountSid: stack.sandbox.accountSid,
        },
      },
      {
        path: '/call-status',
        query: { cme_sdk: 'child', cme_child: 'alice' },
        body: { CallSid: leg, ParentCallSid: fakeSid('CA'), CallStatus: 'completed' },
      },
      {
        path: '/message-callback',
        query: messageCallbackQuery(token, leg),
        body: {
          CallSid: leg,
          Sid: fakeSid('KX'),
          SequenceNumber: '99',
          Content: '{"forged":true}',
          AccountSid: stack.sandbox.accountSid,
        },
      },
      { path: '/send-message', body: { callSid: leg, content: '{"forged":true}' } },
      { path: '/call-messages', body: { callSid: leg } },
    ];
    let tried = 0;
    let accepted = 0;
    // Callbacks of the calls above may still be on their way (Twilio's are late and unordered).
    await ctl().idle();
    const before = syncWrites();
    for (const route of routes) {
      const url = `${stack.functionsUrl}${route.path}${route.query ? `?${new URLSearchParams(route.query)}` : ''}`;
      const attempts = [
        { sign: false as const },
        { sign: { token: 'a-different-auth-token-0000000000' } },
        { sign: { token, url: url.replace(route.path, route.path === '/voice' ? '/call-messages' : '/voice') } },
        { sign: { token, params: { ...route.body, extra: 'x' } } },
        {
          sign: {
            token,
            params: Object.fromEntries(Object.entries(route.body).map(([k, v], i) => [k, i === 0 ? `${v}0` : v])),
          },
        },
      ];
      for (const attempt of attempts) {
        tried++;
        const mark = await gateway.mark();
        const res = await rawRequest({ path: route.path, query: route.query, body: route.body, sign: attempt.sign });
        // A bad signature on a protected path is Twilio's Functions gateway's to refuse (400, before
        // the function runs), as the sandbox's gateway does; the functions' own 403 is their second line.
        const stopped = (await gateway.since(mark, route.path)).some((r) => r.refused === 'signature-invalid');
        if (!(res.status === 400 && stopped) && !(res.status === 403 && isErrorBody(res.body))) accepted++;
      }
    }
    // A message callback whose URL token belongs to another call, correctly signed.
    const crossQuery = {
      ...messageCallbackQuery(token, leg),
      cme_token: messageCallbackQuery(token, otherLeg).cme_token,
    };
    const crossBody = {
      CallSid: leg,
      Sid: fakeSid('KX'),
      SequenceNumber: '5',
      Content: '{"x":1}',
      AccountSid: stack.sandbox.accountSid,
      ContentType: 'application/json',
    };
    const crossUrl = `${stack.functionsUrl}/message-callback?${new URLSearchParams(crossQuery)}`;
    tried++;
    const cross = await rawRequest({
      path: '/message-callback',
      query: crossQuery,
      body: crossBody,
      sign: { token, url: crossUrl },
    });
    if (cross.status !== 403) accepted++;
    // The other leg's valid token with this leg's CallSid in the body.
    const swapQuery = messageCallbackQuery(token, otherLeg);
    tried++;
    const swap = await rawRequest({
      path: '/message-callback',
      query: swapQuery,
      body: crossBody,
      sign: { token, url: `${stack.functionsUrl}/message-callback?${new URLSearchParams(swapQuery)}` },
    });
    if (swap.status !== 403) accepted++;
    // /token without or with a wrong secret.
    for (const header of [
      undefined,
      'Bearer wrong',
      `Bearer ${SANDBOX_DEFAULTS.tokenSecret}x`,
      SANDBOX_DEFAULTS.tokenSecret,
    ]) {
      tried++;
      const res = await rawRequest({
        path: '/token',
        body: { identity: 'alice' },
        headers: header ? { Authorization: header } : {},
      });
      if (res.status !== 403) accepted++;
    }
    figures.add('auth', 'forged requests tried', tried, '-', true);
    figures.add('auth', 'forged requests accepted', accepted, '= 0', accepted === 0);
    figures.add('auth', 'Sync writes by forged requests', syncWrites() - before, '= 0', syncWrites() === before);
    expect(accepted).toBe(0);
    expect(syncWrites()).toBe(before);
  });

  it('never puts secrets, tokens or message content into error bodies or logs', async () => {
    const marker = 'SECRET-CONTENT-MARKER-7731';
    await ctl().sendFromPhone('alice', leg, { marker });
    await sendMessage(stack.fn, { callSid: leg, content: { marker } });
    // Refusals that had a secret or the content in hand must not echo it.
    const refusals = [
      await sendMessage(stack.fn, { callSid: leg, content: `{"marker":"${marker}"` }),
      await sendMessage(stack.fn, { callSid: leg, content: JSON.stringify({ marker: marker.repeat(2000) }) }),
      await sendMessage(stack.fn, { callSid: callSid(0xf), content: { marker } }),
      await signedPost(
        { baseUrl: stack.functionsUrl, authToken: stack.sandbox.authToken },
        `/message-callback?${new URLSearchParams(messageCallbackQuery(stack.sandbox.authToken, leg))}`,
        {
          CallSid: leg,
          Sid: fakeSid('KX'),
          SequenceNumber: 'x',
          Content: marker,
          AccountSid: stack.sandbox.accountSid,
        },
      ),
      await rawRequest({
        path: '/token',
        body: { identity: 'alice' },
        headers: { Authorization: `Bearer ${SANDBOX_DEFAULTS.tokenSecret}x` },
      }),
      await rawRequest({ path: '/operator-session', body: { secret: `${SANDBOX_DEFAULTS.operatorSecret}x` } }),
    ];
    const bodies = refusals.map((r) => JSON.stringify(r.body));
    expect(refusals.every((r) => r.status >= 400 && r.status < 500)).toBe(true);
    const tokenRes = await rawRequest({
      path: '/token',
      body: { identity: 'alice' },
      headers: { Authorization: `Bearer ${SANDBOX_DEFAULTS.tokenSecret}` },
    });
    expect(tokenRes.status).toBe(200);
    const jwt = (tokenRes.body as { token: string }).token;
    const logs = stack.output.join('');
    const subscription = (await ctl().call(leg)).subscriptions[0];
    if (!subscription) throw new Error('expected the leg to be subscribed');
    const secrets = [
      stack.sandbox.authToken,
      SANDBOX_DEFAULTS.tokenSecret,
      stack.sandbox.apiKeySecret,
      marker,
      jwt,
      // The token in the leg's real subscription URL.
      new URL(subscription.callback).searchParams.get('cme_token') ?? 'no-token',
    ];
    const leaks = secrets.filter((s) => logs.includes(s));
    const bodyLeaks = secrets.filter((s) => bodies.some((b) => b.includes(s)));
    figures.add('auth', 'secrets/content found in function logs', leaks.length, '= 0', leaks.length === 0);
    figures.add('auth', 'secrets/content echoed by refusals', bodyLeaks.length, '= 0', bodyLeaks.length === 0);
    expect(bodyLeaks).toEqual([]);
    expect(logs).toContain('"route":"/message-callback"');
    expect(leaks).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
describe('2. hostile input corpus', () => {
  const { junk, contentArb, maybe, mutated, defined } = corpus;

  let activeLeg: string;
  const results: Record<
    string,
    { cases: number; fiveXX: number; badShape: number; refusedWithWrites: number; accepted: number }
  > = {};

  beforeAll(async () => {
    await ctl().registerPhone('hana', { autoAnswer: true });
    activeLeg = (await ctl().placeCall('hana', '+15550003000')).callSid;
    await waitFor(async () => (await ctl().call(activeLeg)).subscriptions.length > 0, 'hana subscribed');
    // Late, held or duplicated callbacks of that call land before the corpus counts Sync writes.
    await ctl().idle();
  });

  /** Sends the corpus to `route`: no 5xx, every refusal a {code, message} that wrote nothing to Sync. */
  async function expectCorpusSafe(
    route: string,
    arb: fc.Arbitrary<{
      query?: Record<string, string>;
      body: Record<string, string>;
      method?: 'GET' | 'POST' | 'PUT';
      json?: boolean;
      headers?: Record<string, string>;
      signed?: boolean;
    }>,
    success: (status: number) => boolean,
  ) {
    const samples = fc.sample(arb, { seed: SEED + route.length, numRuns: CASES_PER_ROUTE });
    const r = (results[route] = { cases: 0, fiveXX: 0, badShape: 0, refusedWithWrites: 0, accepted: 0 });
    const failures: unknown[] = [];
    for (const sample of samples) {
      r.cases++;
      const before = syncWrites();
      const res = await rawRequest({
        path: route,
        query: sample.query,
        body: sample.body,
        method: sample.method,
        json: sample.json,
        headers: sample.headers,
        sign: sample.signed === false ? false : { token: stack.sandbox.authToken },
      });
      if (res.status >= 500) {
        r.fiveXX++;
        failures.push({ sample, res: res.status, body: res.body });
      } else if (success(res.status)) {
        r.accepted++;
      } else {
        if (!isErrorBody(res.body)) {
          r.badShape++;
          failures.push({ sample, res: res.status, body: res.text.slice(0, 200) });
        }
        if (syncWrites() !== before) {
          r.refusedWithWrites++;
          failures.push({ sample, res: res.status, writes: syncWrites() - before });
        }
      }
    }
    const alive = await fetch(`${stack.functionsUrl}/token`, { method: 'POST' });
    expect(alive.status).toBe(403);
    expect(failures.slice(0, 3)).toEqual([]);
  }

  it('/send-message', async () => {
    const random = fc.record({
      callSid: maybe(fc.oneof(junk, fc.constant(callSid(0xb)), fc.constant('ACTIVE'))),
      identity: maybe(fc.oneof(junk, fc.constantFrom('hana', 'nobody', 'ünïcødé', 'a'.repeat(122)))),
      content: maybe(contentArb),
      idempotencyKey: maybe(fc.oneof(junk, fc.string({ minLength: 129, maxLength: 200 }))),
      extra: maybe(junk),
    });
    const valid = fc.record({
      callSid: fc.constant<string | undefined>('ACTIVE'),
      identity: fc.constant<string | undefined>(undefined),
      content: fc
        .dictionary(fc.string({ maxLength: 8 }), fc.jsonValue(), { maxKeys: 3 })
        .map((v): string | undefined => JSON.stringify(v)),
      idempotencyKey: fc.uuid().map((u): string | undefined => u),
      extra: fc.constant<string | undefined>(undefined),
    });
    const arb = mutated(valid, random);
    await expectCorpusSafe(
      '/send-message',
      arb.map((s) => ({ body: defined({ ...s, callSid: s.callSid === 'ACTIVE' ? activeLeg : s.callSid }) })),
      (status) => status === 201,
    );
  });

  it('/call-messages', async () => {
    const arb = fc.record({
      callSid: maybe(fc.oneof(junk, fc.constant('ACTIVE'))),
      pageSize: maybe(junk),
      pageToken: maybe(junk),
      method: fc.constantFrom<'GET' | 'POST'>('GET', 'POST'),
    });
    await expectCorpusSafe(
      '/call-messages',
      arb.map(({ method, ...s }) => {
        const body = defined({ ...s, callSid: s.callSid === 'ACTIVE' ? activeLeg : s.callSid });
        return method === 'GET' ? { method, query: body, body: {} } : { body };
      }),
      (status) => status === 200,
    );
  });

  it('/message-callback', async () => {
    const token = stack.sandbox.authToken;
    const random = fc.record({
      legKind: fc.constantFrom('active', 'random', 'junk'),
      goodToken: fc.boolean(),
      CallSid: maybe(fc.oneof(junk, fc.constant('LEG'))),
      Sid: maybe(fc.oneof(junk, fc.constant('KXNEW'))),
      SequenceNumber: maybe(fc.oneof(junk, fc.nat().map(String))),
      Content: maybe(contentArb),
      ContentType: maybe(fc.oneof(junk, fc.constant('application/json'))),
      AccountSid: maybe(fc.oneof(junk, fc.constant('OURS'))),
      Timestamp: maybe(junk),
      json: fc.boolean(),
    });
    const valid = fc.record({
      legKind: fc.constant('active'),
      goodToken: fc.constant(true),
      CallSid: fc.constant<string | undefined>('LEG'),
      Sid: fc.constant<string | undefined>('KXNEW'),
      SequenceNumber: fc.nat({ max: 1_000_000 }).map((n): string | undefined => String(n)),
      Content: fc
        .dictionary(fc.string({ maxLength: 8 }), fc.jsonValue(), { maxKeys: 3 })
        .map((v): string | undefined => JSON.stringify(v)),
      ContentType: fc.constant<string | undefined>('application/json'),
      AccountSid: fc.constant<string | undefined>('OURS'),
      Timestamp: fc.date({ noInvalidDate: true }).map((d): string | undefined => d.toUTCString()),
      json: fc.boolean(),
    });
    const arb = mutated(valid, random);
    await expectCorpusSafe(
      '/message-callback',
      arb.map(({ legKind, goodToken, json, ...s }) => {
        legKind = legKind ?? 'junk';
        json = json === true;
        const leg = legKind === 'active' ? activeLeg : legKind === 'random' ? fakeSid('CA') : 'CA-junk';
        const query = { ...messageCallbackQuery(token, leg), ...(goodToken ? {} : { cme_token: 'x'.repeat(32) }) };
        const body = defined({
          ...s,
          CallSid: s.CallSid === 'LEG' ? leg : s.CallSid,
          Sid: s.Sid === 'KXNEW' ? fakeSid('KX') : s.Sid,
          AccountSid: s.AccountSid === 'OURS' ? stack.sandbox.accountSid : s.AccountSid,
        });
        // JSON bodies are signed the bodySHA256 way: over the URL, with no parameters.
        if (json) {
          const bodySHA256 = twilio.getExpectedBodyHash(JSON.stringify(body));
          return { query: { ...query, bodySHA256 }, body, json: true };
        }
        return { query, body };
      }),
      (status) => status === 200,
    );
  });

  it('/call-status', async () => {
    const arb = fc.record({
      cme_sdk: maybe(fc.oneof(junk, fc.constantFrom('parent', 'child', 'both', 'call'))),
      cme_parent: maybe(fc.oneof(junk, fc.constant('hana'))),
      cme_child: maybe(fc.oneof(junk, fc.constant('hana'))),
      cme_conf: maybe(fc.oneof(junk, fc.constant('ROOM'))),
      CallSid: maybe(fc.oneof(junk, fc.constant('RANDOM'))),
      ParentCallSid: maybe(fc.oneof(junk, fc.constant('RANDOM'))),
      CallStatus: maybe(
        fc.oneof(
          junk,
          fc.constantFrom(
            'initiated',
            'ringing',
            'in-progress',
            'completed',
            'busy',
            'no-answer',
            'failed',
            'canceled',
            'queued',
          ),
        ),
      ),
      CallDuration: maybe(junk),
    });
    await expectCorpusSafe(
      '/call-status',
      arb.map(({ cme_sdk, cme_parent, cme_child, cme_conf, ...s }) => ({
        query: defined({
          cme_sdk,
          cme_parent,
          cme_child,
          cme_conf: cme_conf === 'ROOM' ? roomOf(fakeSid('CA')) : cme_conf,
        }),
        body: defined({
          ...s,
          CallSid: s.CallSid === 'RANDOM' ? fakeSid('CA') : s.CallSid,
          ParentCallSid: s.ParentCallSid === 'RANDOM' ? fakeSid('CA') : s.ParentCallSid,
        }),
      })),
      (status) => status === 200,
    );
  });

  it('/conference-status', async () => {
    const room = roomOf(fakeSid('CA'));
    const arb = fc.record({
      cme_conf: maybe(fc.oneof(junk, fc.constant('ROOM'))),
      FriendlyName: maybe(fc.oneof(junk, fc.constant('ROOM'))),
      StatusCallbackEvent: maybe(
        fc.oneof(
          junk,
          fc.constantFrom(
            'conference-start',
            'conference-end',
            'participant-join',
            'participant-leave',
            'participant-hold',
            'participant-unhold',
            'participant-mute',
            'participant-modify',
            'participant-speech-start',
          ),
        ),
      ),
      SequenceNumber: maybe(fc.oneof(junk, fc.nat({ max: 50 }).map(String))),
      Timestamp: maybe(junk),
      CallSid: maybe(fc.oneof(junk, fc.constant('RANDOM'))),
      ParticipantLabel: maybe(fc.oneof(junk, fc.constantFrom('sdk.hana', 'ext.caller', 'sdk.ünïcødé'))),
      ParticipantCallStatus: maybe(fc.oneof(junk, fc.constantFrom('completed', 'in-progress'))),
      ConferenceSid: maybe(junk),
    });
    await expectCorpusSafe(
      '/conference-status',
      arb.map(({ cme_conf, ...s }) => ({
        query: defined({ cme_conf: cme_conf === 'ROOM' ? room : cme_conf }),
        body: defined({
          ...s,
          FriendlyName: s.FriendlyName === 'ROOM' ? room : s.FriendlyName,
          CallSid: s.CallSid === 'RANDOM' ? fakeSid('CA') : s.CallSid,
        }),
      })),
      (status) => status === 200,
    );
  });

  // A room no call opened: each input is checked, then the room is not found (nothing written).
  it.each(['/conference-send', '/conference-participant', '/conference-messages'])('%s', async (route) => {
    const arb = fc.record({
      conference: maybe(fc.oneof(junk, fc.constant('ROOM'))),
      action: maybe(fc.oneof(junk, fc.constantFrom('add', 'hold', 'unhold', 'mute', 'unmute', 'remove'))),
      callSid: maybe(fc.oneof(junk, fc.constant('RANDOM'))),
      identity: maybe(fc.oneof(junk, fc.constantFrom('hana', 'ünïcødé'))),
      to: maybe(fc.oneof(junk, fc.constant('hana'))),
      content: maybe(contentArb),
      idempotencyKey: maybe(fc.oneof(junk, fc.string({ minLength: 81, maxLength: 200 }))),
      pageSize: maybe(junk),
      after: maybe(junk),
      as: maybe(fc.oneof(junk, fc.constant('hana'))),
    });
    await expectCorpusSafe(
      route,
      arb.map((s) => ({
        body: defined({
          ...s,
          conference: s.conference === 'ROOM' ? roomOf(fakeSid('CA')) : s.conference,
          callSid: s.callSid === 'RANDOM' ? fakeSid('CA') : s.callSid,
        }),
      })),
      (status) => status < 300,
    );
  });

  it('/voice', async () => {
    const arb = fc.record({
      From: maybe(fc.oneof(junk, fc.constantFrom('client:hana', 'client:', 'client:ü', '+15551234567'))),
      To: maybe(fc.oneof(junk, fc.constantFrom('+15557654321', 'client:zed', 'zed'))),
      CallSid: maybe(junk),
      Direction: maybe(junk),
    });
    await expectCorpusSafe(
      '/voice',
      arb.map((s) => ({ body: defined(s) })),
      (status) => status === 200,
    );
  });

  it('/token', async () => {
    const arb = fc.record({
      identity: maybe(fc.oneof(junk, fc.constantFrom('alice', 'ünïcødé', 'a b', 'a'.repeat(121), 'a'.repeat(122)))),
      secret: fc.constantFrom('good', 'bad', 'none'),
    });
    await expectCorpusSafe(
      '/token',
      arb.map(({ identity, secret }) => {
        const headers: Record<string, string> =
          secret === 'none'
            ? {}
            : { Authorization: `Bearer ${secret === 'good' ? SANDBOX_DEFAULTS.tokenSecret : 'nope'}` };
        return { body: defined({ identity }), signed: false, headers };
      }),
      (status) => status === 200,
    );
  });

  it('wrong methods, content types and huge bodies', async () => {
    const r = (results['(methods/types/size)'] = {
      cases: 0,
      fiveXX: 0,
      badShape: 0,
      refusedWithWrites: 0,
      accepted: 0,
    });
    for (const path of ['/voice', '/call-status', '/message-callback', '/send-message', '/call-messages', '/token']) {
      const variants: { method: 'PUT' | 'DELETE' | 'POST'; body: Record<string, string>; json?: boolean }[] = [
        { method: 'PUT' as const, body: { a: '1' } },
        { method: 'DELETE' as const, body: {} },
        { method: 'POST' as const, body: { content: '{"a":1}', callSid: activeLeg }, json: true },
        { method: 'POST' as const, body: { big: 'x'.repeat(7 * 1024 * 1024) } },
      ];
      for (const variant of variants) {
        r.cases++;
        const writesBefore = syncWrites();
        const res = await rawRequest({
          path,
          body: variant.body,
          method: variant.method,
          json: variant.json,
          sign: { token: stack.sandbox.authToken },
        });
        if (res.status >= 500) r.fiveXX++;
        else if (res.status < 300) r.accepted++;
        else if (syncWrites() !== writesBefore) r.refusedWithWrites++;
      }
    }
    expect(r.refusedWithWrites).toBe(0);
    expect(r.fiveXX).toBe(0);
  });

  afterAll(() => {
    for (const [route, r] of Object.entries(results)) {
      figures.add(
        'hostile',
        `${route}: cases / accepted (2xx)`,
        `${r.cases} / ${r.accepted}`,
        route.startsWith('(') ? '-' : `≥ ${CASES_PER_ROUTE} cases`,
        route.startsWith('(') || r.cases >= CASES_PER_ROUTE,
      );
      figures.add('hostile', `${route}: 5xx`, r.fiveXX, '= 0', r.fiveXX === 0);
      figures.add('hostile', `${route}: refusals without {code,message}`, r.badShape, '= 0', r.badShape === 0);
      figures.add(
        'hostile',
        `${route}: refusals that wrote to Sync`,
        r.refusedWithWrites,
        '= 0',
        r.refusedWithWrites === 0,
      );
    }
  });
});

// ---------------------------------------------------------------------------------------------
describe('3. duplicates and order', () => {
  it('a final status that overtakes in-progress wins: no new subscription, no resurrection', async () => {
    const token = stack.sandbox.authToken;
    await ctl().registerPhone('late');
    let resurrected = 0;
    let extraSubscriptions = 0;
    for (let i = 0; i < 40; i++) {
      // Half the legs are real calls that ran and ended; half were never seen before the end arrived.
      const real = i % 2 === 0;
      let leg: string;
      let parent: string;
      if (real) {
        leg = (await ctl().placeCall('late', `+1555600${String(i).padStart(4, '0')}`)).callSid;
        await waitFor(async () => (await ctl().call(leg)).subscriptions.length > 0, 'subscribed');
        await ctl().hangup('late', leg);
        await ctl().idle();
        parent = leg;
      } else {
        leg = fakeSid('CA');
        parent = fakeSid('CA');
      }
      const query = real ? 'cme_sdk=parent&cme_parent=late' : 'cme_sdk=child&cme_child=late';
      const body = real ? { CallSid: fakeSid('CA'), ParentCallSid: parent } : { CallSid: leg, ParentCallSid: parent };
      const post = (status: string) =>
        signedPost({ baseUrl: stack.functionsUrl, authToken: token }, `/call-status?${query}`, {
          ...body,
          CallStatus: status,
          From: '+15550000000',
          To: 'client:late',
        });
      // Ordering adversary: the end first, then in-progress twice concurrently with a second end.
      expect((await post('completed')).status).toBe(200);
      const results = await Promise.all([post('in-progress'), post('in-progress'), post('completed'), post('ringing')]);
      for (const r of results) expect(r.status).toBe(200);
      const state = (
        await stack.twilio.sync.v1.services('default').syncMaps(legMapName(leg)).syncMapItems('state').fetch()
      ).data as { status: string };
      if (state.status !== 'completed') resurrected++;
      const created = real ? (await ctl().call(leg)).subscriptionsCreated : 0;
      if (real && created !== 1) extraSubscriptions++;
    }
    figures.add('duplicates', 'completed-first legs resurrected (of 40)', resurrected, '= 0', resurrected === 0);
    figures.add(
      'duplicates',
      'ended legs given another subscription',
      extraSubscriptions,
      '= 0',
      extraSubscriptions === 0,
    );
    expect(resurrected).toBe(0);
    expect(extraSubscriptions).toBe(0);
  });

  it('message callbacks delivered twice and out of order are stored once, read back in SequenceNumber order', async () => {
    await ctl().registerPhone('ordy', { autoAnswer: true });
    const leg = (await ctl().placeCall('ordy', '+15550004000')).callSid;
    await waitFor(async () => (await ctl().call(leg)).subscriptions.length > 0, 'subscribed');
    const n = 30;
    const duplicates = { duplicateRate: 1, maxCopies: 2, maxDelayMs: 120, duplicateKinds: ['message' as const] };
    await stack.withKnobs({ webhooks: duplicates }, async () => {
      await Promise.all(Array.from({ length: n }, (_, i) => ctl().sendFromPhone('ordy', leg, { i })));
      await ctl().idle();
    });
    // The first SequenceNumber is the sandbox's (1, or 0: Twilio's docs say both); then one per message.
    const first = (await ctl().getKnobs()).messages.firstSequenceNumber;
    const inOrder = (s: number | undefined, i: number) => s === first + i;
    const delivered = stack.sandbox.webhooks.log.filter((w) => w.kind === 'message' && w.callSid === leg).length;
    const history = await callMessages(stack.fn, leg, { pageSize: 100 });
    const sequences = history.body.messages.map((m) => (m as { sequence?: number }).sequence);
    const duplicatesStored = history.body.messages.length - new Set(history.body.messages.map((m) => m.sid)).size;
    figures.add('duplicates', 'message callbacks delivered / messages', `${delivered} / ${n}`, '-', true);
    figures.add(
      'duplicates',
      'messages stored (each once)',
      history.body.messages.length,
      `= ${n}`,
      history.body.messages.length === n && duplicatesStored === 0,
    );
    figures.add(
      'duplicates',
      'read back in SequenceNumber order',
      String(sequences.every(inOrder)),
      'true',
      sequences.every(inOrder),
    );
    expect(delivered).toBeGreaterThan(n);
    expect(sequences).toEqual(Array.from({ length: n }, (_, i) => first + i));
  });
});

// ---------------------------------------------------------------------------------------------
describe('4. faults', () => {
  it('two callbacks racing on one call resolve without lost updates', async () => {
    const token = stack.sandbox.authToken;
    let lostUpdates = 0;
    for (let i = 0; i < 30; i++) {
      const child = fakeSid('CA');
      const post = (status: string) =>
        signedPost({ baseUrl: stack.functionsUrl, authToken: token }, `/call-status?cme_sdk=child&cme_child=racer`, {
          CallSid: child,
          ParentCallSid: fakeSid('CA'),
          CallStatus: status,
        });
      await Promise.all([post('in-progress'), post('completed')]);
      const query = messageCallbackQuery(token, child);
      const base = {
        CallSid: child,
        AccountSid: stack.sandbox.accountSid,
        ContentType: 'application/json',
        Timestamp: new Date().toUTCString(),
      };
      const url = `${stack.functionsUrl}/message-callback?${new URLSearchParams(query)}`;
      await Promise.all(
        [0, 1, 2].map((seq) => {
          const body = { ...base, Sid: fakeSid('KX'), SequenceNumber: String(seq), Content: JSON.stringify({ seq }) };
          return rawRequest({ path: '/message-callback', query, body, sign: { token, url } });
        }),
      );
      const h = await callMessages(stack.fn, child);
      if ((h.body.state as { status: string }).status !== 'completed' || h.body.messages.length !== 3) lostUpdates++;
    }
    figures.add('faults', 'racing callbacks with a lost update', lostUpdates, '= 0', lostUpdates === 0);
    expect(lostUpdates).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------
// Twilio does not document what a reused IdempotencyKey does; what must hold, must hold under each answer.
describe.each(IDEMPOTENCY_VARIANTS)('3–4 under IdempotencyKey variant %s', (variant) => {
  const duplicatesOf = `duplicates (${variant})`;
  const faultsOf = `faults (${variant})`;
  beforeAll(() => ctl().knobs({ idempotency: { variant } }));

  it(`${CALLS_PER_VARIANT} calls whose status callbacks arrive up to 5 times, shuffled: one subscription per SDK leg, nothing resurrected`, async () => {
    await ctl().registerPhone('alice', { autoAnswer: true }); // CLIENT_IDENTITY: answers calls to our number
    await ctl().registerPhone('dup-callee', { autoAnswer: true });
    await ctl().registerPhone('dup-caller');
    const sdkLegs: string[] = [];
    const calls = CALLS_PER_VARIANT;
    // What is asserted is counts, not speed: 25 calls at once, each status callback up to 5 times,
    // go as fast as the machine runs twilio-run, so each wait has the test's time, not its own.
    const waitsStart = Date.now();
    const waitsEnd = waitsStart + 200_000;
    const timeLeft = () => Math.max(1000, waitsEnd - Date.now());
    await stack.withKnobs({ webhooks: { duplicateRate: 1, maxCopies: 5, maxDelayMs: 150 } }, async () => {
      const kinds = ['pstn-in', 'to-pstn', 'client-client'] as const;
      for (let batch = 0; batch < calls; batch += 25) {
        await Promise.all(
          Array.from({ length: Math.min(25, calls - batch) }, async (_, i) => {
            const kind = kinds[(batch + i) % 3];
            let parent: string;
            if (kind === 'pstn-in')
              parent = (await ctl().callIn(`+1555900${String(batch + i).padStart(4, '0')}`)).callSid;
            else
              parent = (
                await ctl().placeCall(
                  'dup-caller',
                  kind === 'to-pstn' ? `+1555800${String(batch + i).padStart(4, '0')}` : 'client:dup-callee',
                )
              ).callSid;
            const legs = await waitFor(
              // One call at a time, never the whole list: 25 waiters polling every call the suite
              // has made starved the sandbox until Twilio's requests timed out (a CI failure).
              async () => {
                const { dialedLeg } = await ctl().call(parent);
                if (!dialedLeg) return undefined;
                const child = await ctl().call(dialedLeg);
                if (child.status !== 'in-progress') return undefined;
                return kind === 'pstn-in' ? [child.sid] : kind === 'to-pstn' ? [parent] : [parent, child.sid];
              },
              'the call to connect',
              timeLeft(),
            );
            sdkLegs.push(...legs);
            // Let every copy of the in-progress callback land before the call ends.
            await waitFor(
              async () => {
                for (const l of legs) if ((await ctl().call(l)).subscriptions.length === 0) return false;
                return true;
              },
              'subscriptions',
              timeLeft(),
            ).catch(async (err: unknown) => {
              throw new Error(`${String(err)}\n${await stuckLegsReport(legs)}`);
            });
            await new Promise((r) => setTimeout(r, 200));
            await ctl().hangupCall(parent);
          }),
        );
      }
      await ctl().idle();
    });
    // How much of the shared budget the calls took: the margin a slower machine has.
    const tookSeconds = Math.round((Date.now() - waitsStart) / 1000);
    figures.add(
      duplicatesOf,
      'seconds for all calls to connect, subscribe and end',
      tookSeconds,
      '≤ 200',
      tookSeconds <= 200,
    );
    const counts = await Promise.all(sdkLegs.map(async (l) => (await ctl().call(l)).subscriptionsCreated));
    const notOne = counts.filter((c) => c !== 1).length;
    const states = await Promise.all(
      sdkLegs.map(
        async (l) =>
          (await stack.twilio.sync.v1.services('default').syncMaps(legMapName(l)).syncMapItems('state').fetch())
            .data as { status: string },
      ),
    );
    const resurrected = states.filter((s) => s.status !== 'completed').length;
    const statusDeliveries = stack.sandbox.webhooks.log.filter((w) => w.kind === 'status').length;
    figures.add(duplicatesOf, 'calls / SDK legs', `${calls} / ${sdkLegs.length}`, '-', true);
    figures.add(duplicatesOf, 'status callbacks delivered (with copies)', statusDeliveries, '-', true);
    figures.add(duplicatesOf, 'SDK legs without exactly 1 subscription', notOne, '= 0', notOne === 0);
    figures.add(
      duplicatesOf,
      'subscriptions per SDK leg (min-max)',
      `${Math.min(...counts)}-${Math.max(...counts)}`,
      '= 1',
      notOne === 0,
    );
    figures.add(duplicatesOf, 'finished legs not left completed', resurrected, '= 0', resurrected === 0);
    expect(notOne).toBe(0);
    expect(resurrected).toBe(0);
  }, 240_000);

  it('concurrent /send-message calls with one idempotency key send one message', async () => {
    const phone = `idem-${variant}`;
    await ctl().registerPhone(phone, { autoAnswer: true });
    const leg = (await ctl().placeCall(phone, '+15550005000')).callSid;
    await waitFor(async () => (await ctl().call(leg)).subscriptions.length > 0, 'subscribed');
    const send = () => sendMessage(stack.fn, { callSid: leg, content: { once: true }, idempotencyKey: 'same-key-1' });
    const results = await Promise.all(Array.from({ length: 10 }, send));
    // One invocation sends (201); each twin finds it recorded (200 already-sent) or still under way (409).
    const statuses = results.map((r) => r.status);
    const sent = statuses.filter((s) => s === 201).length;
    const othersOk = statuses.every((s) => s === 201 || s === 200 || s === 409);
    // A twin told 409 retries as the answer asks, and then gets the recorded send.
    const retried = await Promise.all(
      results
        .filter((r) => r.status === 409)
        .map(() =>
          waitFor(async () => {
            const again = await send();
            return again.status === 409 ? undefined : again;
          }, 'the in-flight send to be recorded'),
        ),
    );
    const answers = [...results.filter((r) => r.status !== 409), ...retried];
    const sids = new Set(answers.map((r) => (r.body as { sid: string }).sid));
    const received = (await ctl().phone(phone)).calls.find((c) => c.callSid === leg)!.received.length;
    const recorded = (await callMessages(stack.fn, leg)).body.messages.length;
    figures.add(
      duplicatesOf,
      'same-key concurrent sends: 201 sent / 200 already-sent / 409 in progress',
      ['201', '200', '409'].map((s) => statuses.filter((t) => String(t) === s).length).join(' / '),
      'one 201, no other status',
      sent === 1 && othersOk,
    );
    figures.add(
      duplicatesOf,
      'same-key concurrent sends: messages delivered / recorded / distinct sids',
      `${received} / ${recorded} / ${sids.size}`,
      '= 1 / 1 / 1',
      received === 1 && recorded === 1 && sids.size === 1,
    );
    expect(sent).toBe(1);
    expect(othersOk).toBe(true);
    expect(answers.every((r) => r.status === 201 || r.status === 200)).toBe(true);
    expect(sids.size).toBe(1);
    expect(received).toBe(1);
    expect(recorded).toBe(1);
  });

  it('with 10% of REST and Sync requests failing or slow, no accepted message is lost or sent twice', async () => {
    const calls = 12;
    const perCall = 10;
    const phone = `faulty-${variant}`;
    const requestsBefore = stack.sandbox.requests.length;
    const webhooksBefore = stack.sandbox.webhooks.log.length;
    await ctl().registerPhone(phone, { autoAnswer: true });
    // Slow answers beyond the functions' 3 s request timeout; no webhook retries beyond what the URL asks.
    await ctl().knobs({
      faults: { rate: 0.1, products: ['api', 'sync'], kinds: [429, 500, 503, 'slow'], slowMs: 3500 },
      webhooks: { messageRetries: 0 },
    });
    const legs: string[] = [];
    let smsSent = 0;
    let sdkAccepted2xx = 0;
    let sdkAll5xx = 0;
    let serverSent = 0;
    let serverGaveUp = 0;
    try {
      await Promise.all(
        Array.from({ length: calls }, async (_, c) => {
          const leg = (await ctl().placeCall(phone, `+1555700${String(c).padStart(4, '0')}`)).callSid;
          legs.push(leg);
          await waitFor(
            async () => (await ctl().call(leg)).subscriptions.length > 0,
            'subscribed under faults',
            30_000,
          );
          for (let i = 0; i < perCall; i++) {
            smsSent++;
            const sent = await ctl().sendFromPhone(phone, leg, { c, i });
            const last = sent.deliveries.at(-1)?.status ?? null;
            if (last !== null && last < 300) sdkAccepted2xx++;
            else sdkAll5xx++;
            // A backend retries a 5xx and a 409 send-in-progress with the same key, as the answers ask;
            // 201 (sent) and 200 (already sent) both mean done.
            let done = false;
            for (let attempt = 0; attempt < SEND_ATTEMPTS && !done; attempt++) {
              const res = await sendMessage(stack.fn, {
                callSid: leg,
                content: { c, i, dir: 'out' },
                idempotencyKey: `fault-${leg}-${i}`,
              });
              if (res.status === 201 || res.status === 200) done = true;
              else if (res.status === 409 && (res.body as { code?: string }).code === 'send-in-progress')
                await new Promise((r) => setTimeout(r, 1000));
              else if (res.status < 500) throw new Error(`unexpected ${res.status} ${JSON.stringify(res.body)}`);
            }
            if (done) serverSent++;
            else serverGaveUp++;
          }
        }),
      );
      await ctl().idle();
    } finally {
      await ctl().knobs({ faults: { rate: 0 }, webhooks: { messageRetries: 0 } });
    }
    let stored = 0;
    let storedOut = 0;
    let deliveredTwice = 0;
    let neverDelivered = 0;
    const received = (await ctl().phone(phone)).calls;
    for (const leg of legs) {
      const h = await callMessages(stack.fn, leg, { pageSize: 100 });
      stored += h.body.messages.filter((m) => m.direction === 'from-sdk').length;
      storedOut += h.body.messages.filter((m) => m.direction === 'to-sdk').length;
      const onPhone = received.find((call) => call.callSid === leg)?.received ?? [];
      for (let i = 0; i < perCall; i++) {
        const copies = onPhone.filter((m) => (m.content as { i?: number }).i === i).length;
        if (copies > 1) deliveredTwice++;
        if (copies === 0) neverDelivered++;
      }
    }
    const requests = stack.sandbox.requests.slice(requestsBefore);
    const injected = requests.filter((r) => r.injected).length;
    // A send whose answer timed out may have been delivered: only a key Twilio honours makes its retry safe.
    const timedOutSends = requests.filter(
      (r) => r.abandoned === true && r.route.endsWith('/UserDefinedMessages.json'),
    ).length;
    const webhookMax = Math.max(
      ...stack.sandbox.webhooks.log
        .slice(webhooksBefore)
        .filter((w) => w.kind !== 'voice')
        .map((w) => w.ms),
    );
    const lost = sdkAccepted2xx - stored;
    const twiceAllowed = variant === 'ignored' ? timedOutSends : 0;
    figures.add(faultsOf, 'REST/Sync faults injected', injected, '> 0', injected > 0);
    figures.add(
      faultsOf,
      'SDK messages sent / answered 2xx / all attempts 5xx',
      `${smsSent} / ${sdkAccepted2xx} / ${sdkAll5xx}`,
      '-',
      true,
    );
    figures.add(faultsOf, 'SDK messages stored', stored, `≥ ${sdkAccepted2xx}`, stored >= sdkAccepted2xx);
    figures.add(faultsOf, 'messages lost (2xx but not stored)', Math.max(lost, 0), '= 0', lost <= 0);
    figures.add(
      faultsOf,
      'server messages sent / recorded / given up',
      `${serverSent} / ${storedOut} / ${serverGaveUp}`,
      'sent = recorded, 0 given up',
      serverSent === storedOut && serverGaveUp === 0,
    );
    figures.add(faultsOf, 'server messages never delivered', neverDelivered, '= 0', neverDelivered === 0);
    figures.add(
      faultsOf,
      'server messages delivered twice / sends timed out',
      `${deliveredTwice} / ${timedOutSends}`,
      variant === 'ignored' ? '≤ timed out (key ignored)' : '0 / any',
      deliveredTwice <= twiceAllowed,
    );
    figures.add(faultsOf, 'slowest webhook answer (ms)', webhookMax, '< 10000 (Function limit)', webhookMax < 10_000);
    expect(injected).toBeGreaterThan(0);
    expect(lost).toBeLessThanOrEqual(0);
    expect(serverGaveUp).toBe(0);
    expect(storedOut).toBe(serverSent);
    expect(neverDelivered).toBe(0);
    expect(deliveredTwice).toBeLessThanOrEqual(twiceAllowed);
    expect(webhookMax).toBeLessThan(10_000);
  }, 300_000);
});

// ---------------------------------------------------------------------------------------------
describe('5. limits', () => {
  it("a burst of 50 messages on one call is all stored within Sync's 20 writes/s per object", async () => {
    // A 1 s window (stricter than Twilio's 10 s burst window) makes the burst meet 429s and retry.
    await ctl().knobs({ faults: { syncWriteRateLimit: 20, syncWriteWindowSeconds: 1 } });
    await ctl().registerPhone('bursty', { autoAnswer: true });
    const leg = (await ctl().placeCall('bursty', '+15550006000')).callSid;
    await waitFor(async () => (await ctl().call(leg)).subscriptions.length > 0, 'subscribed');
    const burstStart = Date.now();
    try {
      await Promise.all(Array.from({ length: 50 }, (_, i) => ctl().sendFromPhone('bursty', leg, { burst: i })));
      await ctl().idle();
    } finally {
      await ctl().knobs({ faults: { syncWriteRateLimit: null, syncWriteWindowSeconds: null } });
    }
    const stored = (await callMessages(stack.fn, leg, { pageSize: 100 })).body.messages.length;
    const writes = stack.sandbox.syncStats().writesByObject[legMapName(leg)] ?? [];
    let busiest = 0;
    for (const t of writes) busiest = Math.max(busiest, writes.filter((u) => u >= t && u < t + 1000).length);
    const rejected = stack.sandbox.requests.filter((r) => r.at >= burstStart && r.status === 429 && !r.injected).length;
    figures.add('limits', 'burst of 50 on one call: stored', stored, '= 50', stored === 50);
    figures.add('limits', 'Sync write limit in force (per object)', '20 in any 1 s', '-', true);
    figures.add('limits', 'busiest per-call object: writes in one second', busiest, '≤ 20', busiest <= 20);
    figures.add('limits', '429s Sync answered during the burst (retried)', rejected, '> 0', rejected > 0);
    expect(stored).toBe(50);
    expect(busiest).toBeLessThanOrEqual(20);
    expect(rejected).toBeGreaterThan(0);
  }, 60_000);

  it('no object is written account-wide on every event: per-call, per-room and per-identity objects, and the console index at most twice a leg', async () => {
    const writes = stack.sandbox.requests.filter((r) => r.product === 'sync' && r.method !== 'GET');
    // The operator console's index of live legs (cme.calls.<n>, issue #23) is the one account-wide
    // object, in shards: written as an SDK leg is claimed and at its end, never for a message or a send.
    const consoleIndex = /\/Maps\/cme\.calls\.\d+\/Items(\/\{Sid\})?$/;
    // Writes that took (a remove of an item already gone, from a copy of a final callback, is a 404).
    const indexWrites = writes.filter((r) => consoleIndex.test(r.route) && r.status < 300).length;
    const legs = new Set(writes.flatMap((r) => /\/Maps\/cme\.call\.(ca[0-9a-f]{32})/.exec(r.route)?.[1] ?? [])).size;
    figures.add(
      'limits',
      'console index (cme.calls.<n>) writes per SDK leg',
      (indexWrites / Math.max(legs, 1)).toFixed(2),
      '≤ 2',
      indexWrites <= 2 * legs,
    );
    expect(indexWrites).toBeLessThanOrEqual(2 * legs);
    // Besides per-call maps, each identity's own Map of its legs (an item per leg: lib/store/keys.ts),
    // and sign-in state: the agent directory (written by operator actions, never by a call event)
    // and sign-in counters (one Document per identity or source; lib/auth/throttle.ts).
    const signIn = /\/(Maps\/cme\.agents\/Items(\/\w+)?|Documents(\/cme\.throttle\.(identity|source)\.[0-9a-f]{40})?)$/;
    const perIdentity = /\/Maps(\/cme\.identity\.[\w.-]+(\/Items(\/ca[0-9a-f]{32}|\/\{Sid\})?)?)?$/i;
    // A conference room's Map is per call too: named after the call that opened the room (issue 24).
    const perRoom = /\/Maps(\/cme\.conf\.cme-ca[0-9a-f]{32}(\/Items(\/.*)?)?)?$/;
    const shared = writes.filter(
      (r) =>
        !consoleIndex.test(r.route) &&
        !perRoom.test(r.route) &&
        !/\/Maps(\/cme\.call\.ca[0-9a-f]{32}(\/Items(\/.*)?)?)?$/.test(r.route) &&
        !signIn.test(r.route) &&
        !perIdentity.test(r.route),
    );
    figures.add('limits', 'Sync writes to shared objects', shared.length, '= 0', shared.length === 0);
    expect(shared.map((r) => r.route)).toEqual([]);
  });
});

describe('6. the table', () => {
  it('every figure meets its rule', () => {
    expect(figures.rows.length).toBeGreaterThan(40);
    expect(figures.rows.filter((r) => !r.ok)).toEqual([]);
  });
});
