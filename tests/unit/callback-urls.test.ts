import fc from 'fast-check';
import {
  baseUrl,
  callStatusUrl,
  legToken,
  legTokenMatches,
  messageCallbackUrl,
  rebuildSignedRequest,
  type SdkLegs,
} from '../../lib/callback-urls';

const TOKEN = 'auth-token-one';
const LEG = 'CA' + '1'.repeat(32);
const OTHER_LEG = 'CA' + '2'.repeat(32);

/** What twilio-run hands a Function for a request to `url` with form `body`. */
const eventFor = (url: string, body: Record<string, string>) => ({
  ...Object.fromEntries(new URL(url).searchParams),
  ...body,
  request: { headers: { 'x-twilio-signature': 'sig', host: 'ignored' }, cookies: {} },
});

describe('baseUrl', () => {
  it.each([
    ['localhost:3000', 'http://localhost:3000'],
    ['localhost', 'http://localhost'],
    ['127.0.0.1:3993', 'http://127.0.0.1:3993'],
    ['[::1]:3000', 'http://[::1]:3000'],
    ['cme-1234-dev.twil.io', 'https://cme-1234-dev.twil.io'],
    ['localhost.example.com', 'https://localhost.example.com'],
    ['my-localhost:3000', 'https://my-localhost:3000'],
  ])('%s → %s', (domainName, expected) => {
    expect(baseUrl({ domainName })).toBe(expected);
  });

  it('prefers PUBLIC_BASE_URL and drops its trailing slashes', () => {
    expect(baseUrl({ domainName: 'localhost:3000', publicBaseUrl: 'https://abc.ngrok.app/' })).toBe(
      'https://abc.ngrok.app',
    );
    expect(baseUrl({ domainName: 'x.twil.io', publicBaseUrl: 'https://calls.example.com//' })).toBe(
      'https://calls.example.com',
    );
    expect(baseUrl({ domainName: 'x.twil.io', publicBaseUrl: '' })).toBe('https://x.twil.io');
  });
});

describe('callStatusUrl', () => {
  it.each<[SdkLegs, string]>([
    [{ parent: 'alice' }, 'https://h.example/call-status?cme_sdk=parent&cme_parent=alice'],
    [{ child: 'bob' }, 'https://h.example/call-status?cme_sdk=child&cme_child=bob'],
    [{ parent: 'alice', child: 'bob' }, 'https://h.example/call-status?cme_sdk=both&cme_parent=alice&cme_child=bob'],
  ])('%p → %s', (legs, expected) => {
    expect(callStatusUrl('https://h.example', legs)).toBe(expected);
  });
});

describe('legToken / legTokenMatches', () => {
  it('is a deterministic 32-character base64url token per auth token and leg', () => {
    const token = legToken(TOKEN, LEG);
    expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(legToken(TOKEN, LEG)).toBe(token);
    expect(legToken(TOKEN, OTHER_LEG)).not.toBe(token);
    expect(legToken('another-auth-token', LEG)).not.toBe(token);
  });

  it('matches only the token issued for that leg under that auth token', () => {
    const token = legToken(TOKEN, LEG);
    expect(legTokenMatches(TOKEN, LEG, token)).toBe(true);
    expect(legTokenMatches(TOKEN, OTHER_LEG, token)).toBe(false);
    expect(legTokenMatches('another-auth-token', LEG, token)).toBe(false);
    expect(legTokenMatches(TOKEN, LEG, legToken(TOKEN, OTHER_LEG))).toBe(false);
    expect(legTokenMatches(TOKEN, LEG, token.slice(0, 31))).toBe(false);
    expect(legTokenMatches(TOKEN, LEG, token + 'A')).toBe(false);
    expect(legTokenMatches(TOKEN, LEG, token.slice(0, 31) + (token[31] === 'A' ? 'B' : 'A'))).toBe(false);
    expect(legTokenMatches(TOKEN, LEG, '')).toBe(false);
  });

  it.each([undefined, null, 42, [legToken(TOKEN, LEG)], { token: legToken(TOKEN, LEG) }])(
    'refuses a non-string token %p',
    (token) => {
      expect(legTokenMatches(TOKEN, LEG, token)).toBe(false);
    },
  );

  it('does not throw on a multibyte token of the same character length', () => {
    expect(legTokenMatches(TOKEN, LEG, '€'.repeat(32))).toBe(false);
  });
});

describe('messageCallbackUrl', () => {
  it('carries the leg and its token', () => {
    const url = new URL(messageCallbackUrl('https://h.example', TOKEN, LEG));
    expect(url.origin + url.pathname).toBe('https://h.example/message-callback');
    expect([...url.searchParams.keys()]).toEqual(['cme_leg', 'cme_token']);
    expect(url.searchParams.get('cme_leg')).toBe(LEG);
    expect(legTokenMatches(TOKEN, LEG, url.searchParams.get('cme_token'))).toBe(true);
  });
});

describe('rebuildSignedRequest', () => {
  const statusBody = {
    CallSid: OTHER_LEG,
    ParentCallSid: LEG,
    CallStatus: 'in-progress',
    From: 'client:alice',
    To: '+442071234567',
    Timestamp: 'Fri, 2 Dec 2022 22:02:49 +0000',
    SequenceNumber: '2',
  };

  it.each<[string, SdkLegs]>([
    ['parent', { parent: 'alice' }],
    ['child', { child: 'bob' }],
    ['both', { parent: 'alice', child: 'bob' }],
  ])('rebuilds a /call-status URL (%s) exactly and returns only the body as params', (_what, legs) => {
    const url = callStatusUrl('http://localhost:3000', legs);
    const rebuilt = rebuildSignedRequest(
      { domainName: 'localhost:3000', path: '/call-status' },
      eventFor(url, statusBody),
    );
    expect(rebuilt.url).toBe(url);
    expect(rebuilt.params).toEqual(statusBody);
  });

  it('rebuilds a /message-callback URL exactly and returns only the body as params', () => {
    const url = messageCallbackUrl('https://cme-1234.twil.io', TOKEN, LEG);
    const body = {
      ContentType: 'application/json',
      Content: '{"key":"a & b = c?"}',
      SequenceNumber: '0',
      CallSid: LEG,
      Timestamp: 'Fri, 2 Dec 2022 22:02:49 +0000',
      AccountSid: 'AC' + '0'.repeat(32),
      Sid: 'KX' + '3'.repeat(32),
    };
    const rebuilt = rebuildSignedRequest(
      { domainName: 'cme-1234.twil.io', path: '/message-callback' },
      eventFor(url, body),
    );
    expect(rebuilt.url).toBe(url);
    expect(rebuilt.params).toEqual(body);
    expect(rebuilt.params).not.toHaveProperty('request');
    expect(rebuilt.params).not.toHaveProperty('cme_leg');
    expect(rebuilt.params).not.toHaveProperty('cme_token');
  });

  it('keeps bodySHA256 in the rebuilt URL, after the leg and token', () => {
    const url = `${messageCallbackUrl('https://h.example', TOKEN, LEG)}&bodySHA256=abc123`;
    const rebuilt = rebuildSignedRequest(
      { domainName: 'x.twil.io', path: '/message-callback', publicBaseUrl: 'https://h.example' },
      eventFor(url, { Sid: 'KX1' }),
    );
    expect(rebuilt.url).toBe(url);
    expect(rebuilt.params).toEqual({ Sid: 'KX1' });
  });

  it('uses PUBLIC_BASE_URL as the origin Twilio requested', () => {
    const url = callStatusUrl('https://abc.ngrok.app', { child: 'bob' });
    const rebuilt = rebuildSignedRequest(
      { domainName: 'localhost:3000', path: '/call-status', publicBaseUrl: 'https://abc.ngrok.app/' },
      eventFor(url, statusBody),
    );
    expect(rebuilt.url).toBe(url);
  });

  it('treats every key of a route without query keys as a body parameter', () => {
    const rebuilt = rebuildSignedRequest(
      { domainName: 'localhost:3000', path: '/voice' },
      eventFor('http://localhost:3000/voice', { From: 'client:alice', cme_sdk: 'x' }),
    );
    expect(rebuilt).toEqual({ url: 'http://localhost:3000/voice', params: { From: 'client:alice', cme_sdk: 'x' } });
  });

  it('round-trips any valid identities (property)', () => {
    const identity = fc.stringMatching(/^[A-Za-z0-9_.-]{1,121}$/);
    fc.assert(
      fc.property(fc.option(identity, { nil: undefined }), fc.option(identity, { nil: undefined }), (parent, child) => {
        fc.pre(parent !== undefined || child !== undefined);
        const url = callStatusUrl('https://h.example', { parent, child });
        const rebuilt = rebuildSignedRequest(
          { domainName: 'h.example', path: '/call-status' },
          eventFor(url, statusBody),
        );
        expect(rebuilt.url).toBe(url);
        expect(rebuilt.params).toEqual(statusBody);
      }),
      { numRuns: 200 },
    );
  });
});
