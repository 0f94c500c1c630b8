import twilio from 'twilio';
import { HttpError } from '../../lib/errors';
import { json, twilioFunction, twimlResult, type RouteContext } from '../../lib/function-handler';
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
    await invoke(
      handler,
      makeContext('/x', { SYNC_SERVICE_SID: 'IS' + '1'.repeat(32), SYNC_TTL_SECONDS: '60' }),
      event,
    );
    expect(seen?.event).toBe(event);
    expect(seen?.headers).toEqual({ authorization: 'Bearer x' });
    expect(seen?.base).toBe('http://localhost:3000');
    expect(seen?.config).toMatchObject({
      syncServiceSid: 'IS' + '1'.repeat(32),
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
        throw new HttpError(409, 'call-ambiguous', 'Two calls.', { callSids: ['CA1'] });
      }),
      makeContext('/x'),
      eventFor(`${LOCAL_BASE}/x`),
    );
    expectError(res, 409, 'call-ambiguous');
    expect(res.body).toEqual({ code: 'call-ambiguous', message: 'Two calls.', callSids: ['CA1'] });
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
    const sandbox = await invoke(
      fn(route),
      makeContext('/x', { ...deployed, TWILIO_SANDBOX_URL: 'http://127.0.0.1:3001' }),
      eventFor('https://cme-1234-dev.twil.io/x'),
    );
    expect(expectError(sandbox, 500, 'configuration-invalid').message).toContain('TWILIO_SANDBOX_URL');
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
      makeContext('/x', { TWILIO_SANDBOX_URL: 'http://127.0.0.1:3001', PUBLIC_BASE_URL: 'https://abc.ngrok.app' }),
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
