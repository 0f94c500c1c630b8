// Headers only from the runtime (issue 20, Must 3), over real twilio-run: it builds `event` as
// `{ request, ...query, ...body }`, so a query or body key `request` replaces the runtime's headers.
// Every way to write it is refused with 400 request-key-reserved, and no token is minted; the
// honest requests still work.
import twilio from 'twilio';
import { SANDBOX_DEFAULTS } from '../../sandbox/defaults';
import { useTestStack } from '../support/stack';
import { randomCallSid } from '../../testing/sids';

const stack = useTestStack();

const bearer = `Bearer ${SANDBOX_DEFAULTS.tokenSecret}`;
const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' };

async function answer(res: Response): Promise<{ status: number; body: Record<string, unknown> }> {
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function expectRefused(result: { status: number; body: Record<string, unknown> }) {
  expect(result.status).toBe(400);
  expect(result.body.code).toBe('request-key-reserved');
  expect(result.body).not.toHaveProperty('token');
  expect(JSON.stringify(result.body)).not.toContain(SANDBOX_DEFAULTS.tokenSecret);
}

describe('/token takes its bearer from the Authorization header only', () => {
  it('answers 200 with a token to the honest request', async () => {
    const honest = await answer(
      await fetch(`${stack.functionsUrl}/token`, {
        method: 'POST',
        headers: { ...FORM, Authorization: bearer },
        body: new URLSearchParams({ identity: 'alice' }).toString(),
      }),
    );
    expect(honest.status).toBe(200);
    expect(typeof honest.body.token).toBe('string');
  });

  it('refuses ?request[headers][authorization]=… with 400 and no token', async () => {
    const query = new URLSearchParams({ identity: 'alice', 'request[headers][authorization]': bearer });
    expectRefused(await answer(await fetch(`${stack.functionsUrl}/token?${query}`, { method: 'POST' })));
    expectRefused(await answer(await fetch(`${stack.functionsUrl}/token?${query}`)));
  });

  it('refuses ?request=… (a string in its place) with 400', async () => {
    expectRefused(await answer(await fetch(`${stack.functionsUrl}/token?identity=alice&request=x`)));
  });

  it('refuses the same through a JSON body', async () => {
    const body = JSON.stringify({ identity: 'alice', request: { headers: { authorization: bearer } } });
    expectRefused(
      await answer(
        await fetch(`${stack.functionsUrl}/token`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body,
        }),
      ),
    );
  });

  it('refuses the same through a form body', async () => {
    const body = new URLSearchParams({ identity: 'alice', 'request[headers][authorization]': bearer }).toString();
    expectRefused(await answer(await fetch(`${stack.functionsUrl}/token`, { method: 'POST', headers: FORM, body })));
    const whole = new URLSearchParams({ identity: 'alice', request: bearer }).toString();
    expectRefused(
      await answer(await fetch(`${stack.functionsUrl}/token`, { method: 'POST', headers: FORM, body: whole })),
    );
  });

  it('refuses headers nested deeper than the runtime writes them', async () => {
    const query = new URLSearchParams({ identity: 'alice', 'request[headers][authorization][x]': bearer });
    expectRefused(await answer(await fetch(`${stack.functionsUrl}/token?${query}`, { method: 'POST' })));
  });
});

describe('the secret-in-URL check reads the real Content-Length', () => {
  it('refuses a Content-Length written into the URL', async () => {
    const query = new URLSearchParams({
      secret: SANDBOX_DEFAULTS.operatorSecret,
      'request[headers][content-length]': '9999',
      'request[headers][content-type]': 'application/x-www-form-urlencoded',
    });
    const refused = await answer(await fetch(`${stack.functionsUrl}/operator-session?${query}`, { method: 'POST' }));
    expect(refused.status).toBe(400);
    expect(refused.body.code).toBe('request-key-reserved');
    expect(refused.body).not.toHaveProperty('session');
  });
});

describe('the signature is read from its header only', () => {
  const params = () => ({ From: '+15550001111', To: 'nowhere', CallSid: randomCallSid() });
  const signature = (url: string, body: Record<string, string>) =>
    twilio.getExpectedTwilioSignature(stack.sandbox.authToken, url, body);

  it('answers TwiML when the valid signature is in X-Twilio-Signature', async () => {
    const url = `${stack.functionsUrl}/voice`;
    const body = params();
    const res = await fetch(url, {
      method: 'POST',
      headers: { ...FORM, 'X-Twilio-Signature': signature(url, body) },
      body: new URLSearchParams(body).toString(),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/xml/);
  });

  it('refuses the same valid signature given in the query', async () => {
    const url = `${stack.functionsUrl}/voice`;
    const body = params();
    const query = new URLSearchParams({ 'request[headers][x-twilio-signature]': signature(url, body) });
    const post = (base: string) =>
      fetch(`${base}/voice?${query}`, { method: 'POST', headers: FORM, body: new URLSearchParams(body).toString() });
    // Through the platform: the Functions gateway finds no X-Twilio-Signature header on a protected path.
    const viaGateway = await answer(await post(stack.functionsUrl));
    expect(viaGateway.status).toBe(400);
    // The function itself (a runtime that let it through): refused for the key the query wrote.
    const direct = await answer(await post(stack.twilioRunUrl));
    expect(direct.status).toBe(400);
    expect(direct.body.code).toBe('request-key-reserved');
  });
});
