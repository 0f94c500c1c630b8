// The sandbox's Functions gateway, in-process: the headers it strips agree with
// @twilio/runtime-handler's, it protects exactly the `.protected` functions, and it checks
// X-Twilio-Signature as Twilio signs (form, JSON with bodySHA256, GET; Auth Token or SharedKey).
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import twilio from 'twilio';
import {
  defaultFunctionsKnobs,
  FUNCTION_PATHS,
  PROTECTED_PATHS,
  reachesFunction,
  sandboxPageCsp,
  startFunctionsGateway,
  RESTRICTED_HEADER_PREFIXES,
  RESTRICTED_HEADERS,
  SIGNED_FRAGMENT_HEADER,
  signatureIsValid,
  type FunctionsKnobs,
} from '../../sandbox/functions-gateway';
import { defaultWebhookKnobs, SANDBOX_SHARED_KEY, type WebhookKnobs } from '../../sandbox/webhooks';

const TOKEN = 'unit-test-auth-token-0123456789ab';
const HOST = 'localhost:3000';

/** What twilio-run strips: loaded from the pinned runtime-handler's file (its package exports only `./dev`). */
function runtimeHandlerLists(): { prefixes: string[]; exact: string[] } {
  const load = createRequire(__filename);
  const dev = load.resolve('@twilio/runtime-handler/dev');
  const checks = load(join(dirname(dev), 'checks', 'restricted-headers.js')) as {
    restrictedHeaderPrefixes: string[];
    restrictedHeaderExactMatches: string[];
  };
  return { prefixes: checks.restrictedHeaderPrefixes, exact: checks.restrictedHeaderExactMatches };
}

describe('headers a Function never sees', () => {
  it('are the ones @twilio/runtime-handler strips, plus hop-by-hop ones', () => {
    const { prefixes, exact } = runtimeHandlerLists();
    expect([...RESTRICTED_HEADER_PREFIXES].sort()).toEqual([...prefixes].sort());
    expect([...RESTRICTED_HEADERS].sort()).toEqual([...exact].sort());
    for (const name of [
      'x-forwarded-for',
      'x-forwarded-host',
      'x-real-ip',
      'via',
      'referer',
      'i-twilio-x',
      'keep-alive',
    ])
      expect([name, reachesFunction(name)]).toEqual([name, false]);
    for (const name of ['authorization', 'content-type', 'x-twilio-signature', 'cookie', 'user-agent', 'host'])
      expect([name, reachesFunction(name)]).toEqual([name, true]);
  });
});

it('protects exactly the paths of the .protected functions, without .protected; limits every function', () => {
  const files = readdirSync(join(__dirname, '../../functions'));
  const pathOf = (file: string) => `/${file.replace(/(\.protected)?\.ts$/, '')}`;
  expect([...PROTECTED_PATHS].sort()).toEqual(
    files
      .filter((f) => f.endsWith('.protected.ts'))
      .map(pathOf)
      .sort(),
  );
  expect([...FUNCTION_PATHS].sort()).toEqual(files.map(pathOf).sort());
});

describe('the signature check', () => {
  const knobs = (functions: Partial<FunctionsKnobs> = {}, webhooks: Partial<WebhookKnobs> = {}) => ({
    authToken: TOKEN,
    functions: { ...defaultFunctionsKnobs(), ...functions },
    webhooks: { ...defaultWebhookKnobs(), ...webhooks },
  });
  const form = { CallSid: 'CA1', Body: 'a b', Repeated: ['1', '2'] };
  const formBody = () => {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(form)) for (const value of [v].flat()) body.append(k, value);
    return Buffer.from(body.toString());
  };
  const request = (url: string, headers: Record<string, string>) => ({
    url,
    headers: { host: HOST, ...Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])) },
  });

  it('takes a form body signed with the Auth Token over the URL the caller used, and nothing else', () => {
    const url = `http://${HOST}/call-status?cme_sdk=child`;
    const signature = twilio.getExpectedTwilioSignature(TOKEN, url, form);
    const headers = { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature };
    expect(signatureIsValid(request('/call-status?cme_sdk=child', headers), formBody(), knobs())).toBe(true);
    expect(signatureIsValid(request('/call-status?cme_sdk=parent', headers), formBody(), knobs())).toBe(false);
    expect(signatureIsValid(request('/call-status?cme_sdk=child', headers), Buffer.from('CallSid=CA2'), knobs())).toBe(
      false,
    );
    const missing = { 'content-type': 'application/x-www-form-urlencoded' };
    expect(signatureIsValid(request('/call-status?cme_sdk=child', missing), formBody(), knobs())).toBe(false);
    const otherToken = twilio.getExpectedTwilioSignature('another-token', url, form);
    const forged = { ...headers, 'x-twilio-signature': otherToken };
    expect(signatureIsValid(request('/call-status?cme_sdk=child', forged), formBody(), knobs())).toBe(false);
  });

  it('takes a JSON body whose bodySHA256 the signed URL carries, and refuses it tampered', () => {
    const body = '{"CallSid":"CA1"}';
    const path = `/message-callback?cme_leg=x&bodySHA256=${twilio.getExpectedBodyHash(body)}`;
    const signature = twilio.getExpectedTwilioSignature(TOKEN, `http://${HOST}${path}`, {});
    const headers = { 'content-type': 'application/json', 'x-twilio-signature': signature };
    expect(signatureIsValid(request(path, headers), Buffer.from(body), knobs())).toBe(true);
    expect(signatureIsValid(request(path, headers), Buffer.from('{"CallSid":"CA2"}'), knobs())).toBe(false);
  });

  it('takes a JSON body without bodySHA256 signed over its top-level keys (as validateIncomingRequest does)', () => {
    const body = { callSid: 'CA1', content: '{"a":1}' };
    const signature = twilio.getExpectedTwilioSignature(TOKEN, `http://${HOST}/send-message`, body);
    const headers = { 'content-type': 'application/json', 'x-twilio-signature': signature };
    expect(signatureIsValid(request('/send-message', headers), Buffer.from(JSON.stringify(body)), knobs())).toBe(true);
    const tampered = Buffer.from(JSON.stringify({ ...body, content: '{"a":2}' }));
    expect(signatureIsValid(request('/send-message', headers), tampered, knobs())).toBe(false);
    expect(signatureIsValid(request('/send-message', headers), Buffer.from('not json'), knobs())).toBe(false);
  });

  it('takes a GET signed over its URL and query', () => {
    const path = '/call-messages?callSid=CA1&pageSize=5';
    const signature = twilio.getExpectedTwilioSignature(TOKEN, `http://${HOST}${path}`, {});
    expect(signatureIsValid(request(path, { 'x-twilio-signature': signature }), Buffer.alloc(0), knobs())).toBe(true);
  });

  it('checks a SharedKey signature with its secret when accepted; refuses every one when not', () => {
    const url = `http://${HOST}/send-message`;
    const signature = twilio.getExpectedTwilioSignature(SANDBOX_SHARED_KEY.secret, url, form, twilio.HMAC_SHA256);
    const headers = {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': signature,
      [twilio.SIGNATURE_SETTINGS_HEADER]: `key=${SANDBOX_SHARED_KEY.id},algorithm=HMAC_SHA256`,
    };
    expect(signatureIsValid(request('/send-message', headers), formBody(), knobs())).toBe(true);
    expect(
      signatureIsValid(request('/send-message', headers), formBody(), knobs({ sharedKeySignatures: 'refused' })),
    ).toBe(false);
    const otherKey = {
      ...headers,
      [twilio.SIGNATURE_SETTINGS_HEADER]: 'key=webhooks_sharedkey_other,algorithm=HMAC_SHA256',
    };
    expect(signatureIsValid(request('/send-message', otherKey), formBody(), knobs())).toBe(false);
    // The Auth Token's signature under a SharedKey header is not the SharedKey's.
    const tokenSigned = { ...headers, 'x-twilio-signature': twilio.getExpectedTwilioSignature(TOKEN, url, form) };
    expect(signatureIsValid(request('/send-message', tokenSigned), formBody(), knobs())).toBe(false);
  });

  it('takes a signed fragment only when the sandbox signs fragments (webhooks.signFragment)', () => {
    const fragment = '#rc=3&rp=5xx';
    const signature = twilio.getExpectedTwilioSignature(TOKEN, `http://${HOST}/call-status${fragment}`, form);
    const headers = {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': signature,
      [SIGNED_FRAGMENT_HEADER]: fragment,
    };
    expect(signatureIsValid(request('/call-status', headers), formBody(), knobs({}, { signFragment: true }))).toBe(
      true,
    );
    expect(signatureIsValid(request('/call-status', headers), formBody(), knobs())).toBe(false);
  });
});

describe("a page's CSP in the sandbox", () => {
  const page = readFileSync(join(__dirname, '../../assets/index.html'), 'utf8');
  const cspOf = (html: string) => /http-equiv="Content-Security-Policy"\s+content="([^"]*)"/.exec(html)?.[1] ?? '';

  it('gets the signaling gateway added to connect-src, and nothing else changes', () => {
    const served = sandboxPageCsp(page, ['wss://localhost:3002', 'https://localhost:3002']);
    expect(cspOf(served)).toContain(
      "connect-src 'self' wss://localhost:3002 https://localhost:3002 https://*.twilio.com",
    );
    expect(served.replace(' wss://localhost:3002 https://localhost:3002', '')).toBe(page);
  });

  it('is left alone with no sources, or with no CSP to change', () => {
    expect(sandboxPageCsp(page, [])).toBe(page);
    expect(sandboxPageCsp("<p>connect-src 'self'</p>", ['wss://localhost:1'])).toBe("<p>connect-src 'self'</p>");
  });
});

describe('where the gateway listens', () => {
  it('on loopback only: the functions behind it answer to the sandbox’s published credentials', async () => {
    const { connect } = await import('node:net');
    const { networkInterfaces } = await import('node:os');
    const gateway = await startFunctionsGateway({
      port: 0,
      upstream: 'http://127.0.0.1:9',
      knobs: { functions: defaultFunctionsKnobs(), webhooks: defaultWebhookKnobs() },
      authToken: TOKEN,
    });
    const reaches = (host: string) =>
      new Promise<boolean>((resolve) => {
        const socket = connect({ host, port: gateway.port });
        socket.once('connect', () => {
          socket.destroy();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      });
    try {
      expect(await reaches('127.0.0.1')).toBe(true);
      const external = Object.values(networkInterfaces())
        .flat()
        .filter((i) => i && !i.internal && i.family === 'IPv4')
        .map((i) => i!.address);
      for (const address of external) expect([address, await reaches(address)]).toEqual([address, false]);
    } finally {
      await gateway.close();
    }
  });
});
