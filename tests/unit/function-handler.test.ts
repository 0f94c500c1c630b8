import twilio from 'twilio';
import { apiError } from '../../lib/shared/error-catalogue';
import { json, twilioFunction, twimlResult, type RouteContext } from '../../lib/http/function-handler';
import {
  expectError,
  invoke,
  LOCAL_BASE,
  makeContext,
  newFakeResponse,
  signedEvent,
  eventFor,
} from '../support/function-harness';
import { TEST_AUTH_TOKEN } from '../support/sync-sandbox';
import { syncServiceSid } from '../../testing/sids';

let logs: string[];
beforeEach(() => {
  logs = [];
  jest.spyOn(console, 'log').mockImplementation((line: string) => void logs.push(line));
});
afterEach(() => jest.restoreAllMocks());

const fn = (route: (ctx: RouteContext) => Promise<ReturnType<typeof json>>, signed = false) =>
  twilioFunction({ signed }, route, newFakeResponse);

describe('twilioFunction', () => {
  it('answers a JSON result with its status and Content-Type', async () => {
    const res = await invoke(
      fn(async () => json(201, { ok: true })),
      makeContext('/x'),
      eventFor(`${LOCAL_BASE}/x`),
    );
    expect(res.statusCode).toBe(201);
    expect(res.body).toEqual({ ok: true });
    expect(res.headers['Content-Type']).toBe('application/json');
  });

  it('answers TwiML as text/xml', async () => {
    const res = await invoke(
      fn(async () => twimlResult('<Response/>')),
      makeContext('/x'),
      eventFor(`${LOCAL_BASE}/x`),
    );
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('<Response/>');
    expect(res.headers['Content-Type']).toBe('text/xml');
  });

  it('gives the route the event, the headers, the config and the callback base', async () => {
    let seen: RouteContext | undefined;
    const handler = fn(async (ctx) => {
      seen = ctx;
      return json(200, {});
    });
    const event = eventFor(`${LOCAL_BASE}/x?q=1`, { b: '2' }, { authorization: 'Bearer x' });
    await invoke(handler, makeContext('/x', { SYNC_SERVICE_SID: syncServiceSid(1), SYNC_TTL_SECONDS: '60' }), event);
    expect(seen?.event).toBe(event);
    expect(seen?.headers).toEqual({
      authorization: 'Bearer x',
      'content-type': 'application/x-www-form-urlencoded',
      'content-length': '3',
    });
    expect(seen?.base).toBe('http://localhost:3000');
    expect(seen?.config).toMatchObject({
      syncServiceSid: syncServiceSid(1),
      finishedCallTtl: 60,
      activeCallTtl: 172_800,
    });

    await invoke(handler, makeContext('/x', { PUBLIC_BASE_URL: 'https://abc.ngrok.app/' }), event);
    expect(seen?.base).toBe('https://abc.ngrok.app');
  });

  it('refuses an unsigned request to a signed route with 403, without running it', async () => {
    const route = jest.fn(async () => json(200, {}));
    const res = await invoke(fn(route, true), makeContext('/x'), eventFor(`${LOCAL_BASE}/x`, { a: '1' }));
    expectError(res, 403, 'signature-invalid');
    expect(route).not.toHaveBeenCalled();
  });

  it('runs a signed route for a request signed with the auth token', async () => {
    const route = jest.fn(async () => json(200, { ran: true }));
    const res = await invoke(fn(route, true), makeContext('/x'), signedEvent(`${LOCAL_BASE}/x`, { a: '1' }));
    expect(res.statusCode).toBe(200);
    const forged = signedEvent(`${LOCAL_BASE}/x`, { a: '1' }, 'someone-elses-token');
    expectError(await invoke(fn(route, true), makeContext('/x'), forged), 403, 'signature-invalid');
    expect(route).toHaveBeenCalledTimes(1);
  });

  it('reads the signature from the lowercase header twilio-run passes', async () => {
    const url = `${LOCAL_BASE}/x`;
    const event = eventFor(
      url,
      { a: '1' },
      { 'x-twilio-signature': twilio.getExpectedTwilioSignature(TEST_AUTH_TOKEN, url, { a: '1' }) },
    );
    expect(
      (
        await invoke(
          fn(async () => json(200, {}), true),
          makeContext('/x'),
          event,
        )
      ).statusCode,
    ).toBe(200);
  });

  it('shapes an HttpError as {code, message, ...details}', async () => {
    const res = await invoke(
      fn(async () => {
        throw apiError('call-ambiguous', 'Two calls.', { details: { callSids: ['CA1'] } });
      }),
      makeContext('/x'),
      eventFor(`${LOCAL_BASE}/x`),
    );
    expectError(res, 409, 'call-ambiguous');
    expect(res.body).toEqual({ code: 'call-ambiguous', message: 'Two calls.', callSids: ['CA1'] });
  });

  it('says when to retry a 503: after 2 s when Sync refused for its rate limit, 1 s otherwise', async () => {
    const rest = (status: number, code: number) => Object.assign(new Error('x'), { status, code });
    const answer = (err: unknown) =>
      invoke(
        fn(async () => {
          throw err;
        }),
        makeContext('/x'),
        eventFor(`${LOCAL_BASE}/x`),
      );
    const syncLimited = await answer(rest(429, 54009));
    expectError(syncLimited, 503, 'twilio-unavailable');
    expect(syncLimited.headers['Retry-After']).toBe('2');
    expect((await answer(rest(503, 20503))).headers['Retry-After']).toBe('1');
    // A 503 of the catalogue says it too; one that chose its own keeps it.
    expect((await answer(apiError('record-failed', 'x'))).headers['Retry-After']).toBe('1');
    const chosen = await answer(apiError('record-failed', 'x', { headers: { 'Retry-After': '5' } }));
    expect(chosen.headers['Retry-After']).toBe('5');
    expect((await answer(apiError('call-not-active', 'x'))).headers['Retry-After']).toBeUndefined();
  });

  it('answers 503 for a retryable Twilio error and 502 for a refusal', async () => {
    const rest = (status: number, code: number) => Object.assign(new Error('x'), { status, code });
    const busy = await invoke(
      fn(async () => {
        throw rest(429, 54009);
      }),
      makeContext('/x'),
      eventFor(`${LOCAL_BASE}/x`),
    );
    expectError(busy, 503, 'twilio-unavailable');
    expect(busy.body).toMatchObject({ twilioCode: 54009 });
    const refused = await invoke(
      fn(async () => {
        throw rest(400, 21220);
      }),
      makeContext('/x'),
      eventFor(`${LOCAL_BASE}/x`),
    );
    expectError(refused, 502, 'twilio-error');
    expect((refused.body as { message: string }).message).toContain('21220');
  });

  it('answers 503 for a request that timed out or lost its connection (no HTTP status)', async () => {
    for (const code of ['ECONNABORTED', 'ECONNRESET', 'ETIMEDOUT']) {
      const res = await invoke(
        fn(async () => {
          throw Object.assign(new Error('timeout of 3000ms exceeded'), { code });
        }),
        makeContext('/x'),
        eventFor(`${LOCAL_BASE}/x`),
      );
      expectError(res, 503, 'twilio-unavailable');
    }
  });

  it('answers 500 without leaking the error for anything else', async () => {
    const res = await invoke(
      fn(async () => {
        throw new TypeError('secret internals');
      }),
      makeContext('/x'),
      eventFor(`${LOCAL_BASE}/x`),
    );
    const body = expectError(res, 500, 'internal-error');
    expect(JSON.stringify(body)).not.toContain('secret internals');
    expect(logs.join('\n')).not.toContain('secret internals');
  });

  it.each(['ACCOUNT_SID', 'AUTH_TOKEN'])('names a missing %s', async (name) => {
    const route = jest.fn(async () => json(200, {}));
    const res = await invoke(fn(route), makeContext('/x', { [name]: undefined }), eventFor(`${LOCAL_BASE}/x`));
    expect(expectError(res, 500, 'configuration-missing').message).toContain(name);
    expect(route).not.toHaveBeenCalled();
  });

  it('refuses the sandbox switch and a local PUBLIC_BASE_URL in a deployed Function', async () => {
    const deployed = { DOMAIN_NAME: 'cme-1234-dev.twil.io' };
    const route = jest.fn(async () => json(200, {}));
    // The sandbox's proxy (how the functions reach it locally), left in a deployed environment.
    for (const name of ['HTTP_PROXY', 'HTTPS_PROXY']) {
      const sandbox = await invoke(
        fn(route),
        makeContext('/x', { ...deployed, [name]: 'http://127.0.0.1:40001' }),
        eventFor('https://cme-1234-dev.twil.io/x'),
      );
      const sandboxError = expectError(sandbox, 500, 'configuration-invalid').message;
      expect(sandboxError).toContain(name);
      // The fix it names is one that removes the variable: deploying again with twilio-run alone would not.
      expect(sandboxError).toContain('run npm run deploy, which deletes from the deployed environment');
    }
    for (const url of ['http://abc.ngrok.app', 'https://localhost:3000']) {
      const tunnel = await invoke(
        fn(route),
        makeContext('/x', { ...deployed, PUBLIC_BASE_URL: url }),
        eventFor('https://cme-1234-dev.twil.io/x'),
      );
      expect(expectError(tunnel, 500, 'configuration-invalid').message).toContain('PUBLIC_BASE_URL');
    }
    expect(route).not.toHaveBeenCalled();
    // Locally (twilio-run on localhost) both are what the sandbox and a tunnel need.
    const local = await invoke(
      fn(route),
      makeContext('/x', { HTTP_PROXY: 'http://127.0.0.1:40001', PUBLIC_BASE_URL: 'https://abc.ngrok.app' }),
      eventFor(`${LOCAL_BASE}/x`),
    );
    expect(local.statusCode).toBe(200);
  });

  it('names an invalid TTL setting', async () => {
    const res = await invoke(
      fn(async () => json(200, {})),
      makeContext('/x', { SYNC_TTL_SECONDS: '-5' }),
      eventFor(`${LOCAL_BASE}/x`),
    );
    expect(expectError(res, 500, 'configuration-invalid').message).toContain('SYNC_TTL_SECONDS');
  });
});

describe('twilioFunction: nothing escapes as a crash', () => {
  const deep = () => JSON.parse('['.repeat(20_000) + ']'.repeat(20_000)) as unknown;

  it('sends nosniff, a CSP that allows nothing and frame denial with every answer (JSON, TwiML, errors)', async () => {
    const ok = await invoke(
      fn(async () => json(200, {})),
      makeContext('/x'),
      eventFor(`${LOCAL_BASE}/x`),
    );
    const twiml = await invoke(
      fn(async () => twimlResult('<Response/>')),
      makeContext('/x'),
      eventFor(`${LOCAL_BASE}/x`),
    );
    const refused = await invoke(
      fn(async () => json(200, {}), true),
      makeContext('/x'),
      eventFor(`${LOCAL_BASE}/x`),
    );
    for (const res of [ok, twiml, refused]) {
      expect(res.headers['X-Content-Type-Options']).toBe('nosniff');
      expect(res.headers['Content-Security-Policy']).toBe("default-src 'none'; frame-ancestors 'none'");
      expect(res.headers['X-Frame-Options']).toBe('DENY');
    }
  });

  it('answers 500 JSON for an answer that cannot be serialised, instead of throwing in the runtime', async () => {
    const res = await invoke(
      fn(async () => json(200, { data: deep() })),
      makeContext('/x'),
      eventFor(`${LOCAL_BASE}/x`),
    );
    expectError(res, 500, 'internal-error');
    expect(logs.join('\n')).toContain('unserialisable-answer');
  });

  it('answers once more, plainly, when the runtime throws while sending, and never rejects', async () => {
    const sent: unknown[] = [];
    let calls = 0;
    const callback = (_err: unknown, payload?: unknown) => {
      calls++;
      if (calls === 1) throw new RangeError('Maximum call stack size exceeded'); // res.json on a deep body
      sent.push(payload);
    };
    const handler = fn(async () => json(200, { ok: true }));
    await expect(
      handler(makeContext('/x') as never, eventFor(`${LOCAL_BASE}/x`) as never, callback),
    ).resolves.toBeUndefined();
    expect(calls).toBe(2);
    expect(sent).toHaveLength(1);
    expect((sent[0] as { statusCode: number; body: { code: string } }).statusCode).toBe(500);
    expect((sent[0] as { body: { code: string } }).body.code).toBe('internal-error');
    // Even a runtime that throws every time does not make the handler reject.
    const always = () => {
      throw new Error('broken runtime');
    };
    await expect(
      handler(makeContext('/x') as never, eventFor(`${LOCAL_BASE}/x`) as never, always),
    ).resolves.toBeUndefined();
  });

  // Issue 20: this used to run the route with no headers; a `request` from the query or body is now refused.
  it('refuses a `request` a query or body put in the event with 400, without running the route', async () => {
    let seen: RouteContext | undefined;
    const handler = fn(async (ctx) => {
      seen = ctx;
      return json(200, {});
    });
    for (const request of [null, 5, 'x', { headers: 'x' }, { headers: null }, { headers: {} }]) {
      const res = await invoke(handler, makeContext('/x'), { ...eventFor(`${LOCAL_BASE}/x`), request });
      expectError(res, 400, 'request-key-reserved');
    }
    expect(seen).toBeUndefined();
    const honest = await invoke(handler, makeContext('/x'), eventFor(`${LOCAL_BASE}/x`, {}, { accept: '*/*' }));
    expect(honest.statusCode).toBe(200);
    expect(seen?.headers).toEqual({ accept: '*/*' });
  });
});

describe('twilioFunction: SharedKey signatures', () => {
  const SHARED = 'shared-key-secret-for-tests-0123456789abcdef';
  const url = `${LOCAL_BASE}/x`;
  const sharedEvent = (secret = SHARED) =>
    eventFor(
      url,
      { a: '1' },
      {
        'x-twilio-signature': twilio.getExpectedTwilioSignature(secret, url, { a: '1' }, twilio.HMAC_SHA256),
        'x-twilio-webhooks-signature-settings': 'key=webhooks_sharedkey_1,algorithm=HMAC_SHA256',
      },
    );

  it('runs a route signed with the SharedKey when WEBHOOK_SHARED_KEY_SECRET is set', async () => {
    const route = jest.fn(async () => json(200, { ran: true }));
    const env = { WEBHOOK_SHARED_KEY_SECRET: SHARED };
    expect((await invoke(fn(route, true), makeContext('/x', env), sharedEvent())).statusCode).toBe(200);
    expectError(await invoke(fn(route, true), makeContext('/x', env), sharedEvent('wrong')), 403, 'signature-invalid');
    // The classic Auth Token signature still works beside it.
    expect((await invoke(fn(route, true), makeContext('/x', env), signedEvent(url, { a: '1' }))).statusCode).toBe(200);
    expect(route).toHaveBeenCalledTimes(2);
  });

  it('answers 500 configuration-missing naming WEBHOOK_SHARED_KEY_SECRET when it is not set', async () => {
    const route = jest.fn(async () => json(200, {}));
    const res = await invoke(fn(route, true), makeContext('/x'), sharedEvent());
    expect(expectError(res, 500, 'configuration-missing').message).toContain('WEBHOOK_SHARED_KEY_SECRET');
    expect(route).not.toHaveBeenCalled();
  });

  it('tells the route whether the signature covered the body', async () => {
    let seen: RouteContext | undefined;
    const route = async (ctx: RouteContext) => {
      seen = ctx;
      return json(200, {});
    };
    await invoke(fn(route, true), makeContext('/x'), signedEvent(url, { a: '1' }));
    expect(seen?.bodyVerified).toBe(true);
    await invoke(fn(route, false), makeContext('/x'), eventFor(url, { a: '1' }));
    expect(seen?.bodyVerified).toBe(false);
  });
});

describe('twilioFunction: secrets never from the URL (bodyOnly)', () => {
  const SECRET = 'a-secret-that-belongs-in-a-body-000000';
  const route = jest.fn(async () => json(200, { ran: true }));
  const handler = twilioFunction({ signed: false, bodyOnly: ['secret'] }, route, newFakeResponse);
  beforeEach(() => route.mockClear());

  it('runs with the secret in a form or JSON body', async () => {
    expect((await invoke(handler, makeContext('/x'), eventFor(`${LOCAL_BASE}/x`, { secret: SECRET }))).statusCode).toBe(
      200,
    );
    const json = eventFor(`${LOCAL_BASE}/x`, { secret: SECRET }, { 'content-type': 'application/json' });
    expect((await invoke(handler, makeContext('/x'), json)).statusCode).toBe(200);
    expect(route).toHaveBeenCalledTimes(2);
  });

  it('refuses the secret in the query of a request without a body, without echoing it', async () => {
    const res = await invoke(handler, makeContext('/x'), eventFor(`${LOCAL_BASE}/x?secret=${SECRET}`));
    const body = expectError(res, 400, 'secret-in-url');
    expect(JSON.stringify(body)).not.toContain(SECRET);
    expect(route).not.toHaveBeenCalled();
  });

  it('refuses the secret in the query when the body is too short to have held it', async () => {
    const event = eventFor(`${LOCAL_BASE}/x?secret=${SECRET}`, { a: '1' });
    expectError(await invoke(handler, makeContext('/x'), event), 400, 'secret-in-url');
    expect(route).not.toHaveBeenCalled();
  });

  it('gives a chunked body (no Content-Length) the benefit of the doubt; ignores routes without secrets', async () => {
    const chunked = eventFor(
      `${LOCAL_BASE}/x?secret=${SECRET}`,
      {},
      { 'content-type': 'application/x-www-form-urlencoded' },
    );
    expect((await invoke(handler, makeContext('/x'), chunked)).statusCode).toBe(200);
    const plain = twilioFunction({ signed: false }, route, newFakeResponse);
    expect((await invoke(plain, makeContext('/x'), eventFor(`${LOCAL_BASE}/x?secret=${SECRET}`))).statusCode).toBe(200);
  });
});
