import fc from 'fast-check';
import twilio from 'twilio';
import {
  baseUrl,
  callStatusUrl,
  legToken,
  legNamesOf,
  legTokenMatches,
  messageCallbackQuery,
  messageCallbackUrl,
  rebuildSignedRequest,
  RETRY_FRAGMENT,
  type SdkLegs,
} from '../../lib/calls/callback-urls';
import { defined, withoutFragment } from '../support/narrow';
import { accountSid, callSid, messageSid } from '../../testing/sids';

const TOKEN = 'auth-token-one';
const LEG = callSid(1);
const OTHER_LEG = callSid(2);
const ISSUED = '1764254249';

/** What twilio-run hands a Function for a request to `url` with form `body`. */
const eventFor = (url: string, body: Record<string, string>) => ({
  ...Object.fromEntries(new URL(url).searchParams),
  ...body,
  request: { headers: { 'x-twilio-signature': 'sig', host: 'ignored' }, cookies: {} },
});

/** What reaches the server: Twilio never sends a URL's fragment. */

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
  ])('%p → %s, with the retry fragment', (legs, expected) => {
    expect(callStatusUrl('https://h.example', legs)).toBe(`${expected}#${RETRY_FRAGMENT}`);
  });
});

describe('RETRY_FRAGMENT (Twilio connection overrides)', () => {
  const settings = Object.fromEntries(new URLSearchParams(RETRY_FRAGMENT));

  it('asks for retries after a 5xx, a connect timeout and a read timeout', () => {
    expect(defined(settings.rp).split(',').sort()).toEqual(['5xx', 'ct', 'rt']);
    expect(Number(settings.rc)).toBeGreaterThanOrEqual(1);
  });

  it('stays inside the documented ranges: rc 0-5, rt 100-15000 ms, tt 100-15000 ms', () => {
    expect(Number(settings.rc)).toBeLessThanOrEqual(5);
    expect(Number(settings.rt)).toBeGreaterThanOrEqual(100);
    expect(Number(settings.rt)).toBeLessThanOrEqual(15_000);
    expect(Number(settings.tt)).toBeGreaterThanOrEqual(100);
    expect(Number(settings.tt)).toBeLessThanOrEqual(15_000);
    expect(Object.keys(settings).sort()).toEqual(['rc', 'rp', 'rt', 'tt']);
  });

  it('waits for a Function as long as it can run (10 s) before a retry', () => {
    expect(Number(settings.rt)).toBeGreaterThanOrEqual(10_000);
  });
});

describe('legToken / legTokenMatches', () => {
  it('is a deterministic 32-character base64url token per auth token, leg and issue time', () => {
    const token = legToken(TOKEN, LEG, ISSUED);
    expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(legToken(TOKEN, LEG, ISSUED)).toBe(token);
    expect(legToken(TOKEN, OTHER_LEG, ISSUED)).not.toBe(token);
    expect(legToken('another-auth-token', LEG, ISSUED)).not.toBe(token);
    expect(legToken(TOKEN, LEG, '1764254250')).not.toBe(token);
  });

  it('binds the issue time: the same token with another cme_issued does not match', () => {
    const token = legToken(TOKEN, LEG, ISSUED);
    expect(legTokenMatches(TOKEN, LEG, ISSUED, token)).toBe(true);
    expect(legTokenMatches(TOKEN, LEG, '1764254250', token)).toBe(false);
    expect(legTokenMatches(TOKEN, LEG, undefined, token)).toBe(false);
    expect(legTokenMatches(TOKEN, LEG, ` ${ISSUED}`, legToken(TOKEN, LEG, ` ${ISSUED}`))).toBe(false);
    expect(legTokenMatches(TOKEN, LEG, '-1', legToken(TOKEN, LEG, '-1'))).toBe(false);
  });

  it('matches only the token issued for that leg under that auth token', () => {
    const token = legToken(TOKEN, LEG, ISSUED);
    expect(legTokenMatches(TOKEN, LEG, ISSUED, token)).toBe(true);
    expect(legTokenMatches(TOKEN, OTHER_LEG, ISSUED, token)).toBe(false);
    expect(legTokenMatches('another-auth-token', LEG, ISSUED, token)).toBe(false);
    expect(legTokenMatches(TOKEN, LEG, ISSUED, legToken(TOKEN, OTHER_LEG, ISSUED))).toBe(false);
    expect(legTokenMatches(TOKEN, LEG, ISSUED, token.slice(0, 31))).toBe(false);
    expect(legTokenMatches(TOKEN, LEG, ISSUED, token + 'A')).toBe(false);
    expect(legTokenMatches(TOKEN, LEG, ISSUED, token.slice(0, 31) + (token[31] === 'A' ? 'B' : 'A'))).toBe(false);
    expect(legTokenMatches(TOKEN, LEG, ISSUED, '')).toBe(false);
  });

  it.each([undefined, null, 42, [legToken(TOKEN, LEG, ISSUED)], { token: legToken(TOKEN, LEG, ISSUED) }])(
    'refuses a non-string token %p',
    (token) => {
      expect(legTokenMatches(TOKEN, LEG, ISSUED, token)).toBe(false);
    },
  );

  it('does not throw on a multibyte token of the same character length', () => {
    expect(legTokenMatches(TOKEN, LEG, ISSUED, '€'.repeat(32))).toBe(false);
  });
});

describe('messageCallbackUrl', () => {
  it('carries the leg, its issue time (Unix seconds) and its token, then the retry fragment', () => {
    const issuedAt = new Date('2026-11-27T14:17:29.900Z');
    const url = new URL(messageCallbackUrl('https://h.example', TOKEN, LEG, issuedAt));
    expect(url.origin + url.pathname).toBe('https://h.example/message-callback');
    expect([...url.searchParams.keys()]).toEqual(['cme_leg', 'cme_issued', 'cme_token']);
    expect(url.searchParams.get('cme_leg')).toBe(LEG);
    expect(url.searchParams.get('cme_issued')).toBe('1795789049');
    expect(legTokenMatches(TOKEN, LEG, '1795789049', url.searchParams.get('cme_token'))).toBe(true);
    expect(url.hash).toBe(`#${RETRY_FRAGMENT}`);
    expect(Object.fromEntries(url.searchParams)).toEqual(messageCallbackQuery(TOKEN, LEG, issuedAt));
  });

  it('is issued now by default', () => {
    const issued = Number(new URL(messageCallbackUrl('https://h.example', TOKEN, LEG)).searchParams.get('cme_issued'));
    expect(Math.abs(issued - Date.now() / 1000)).toBeLessThan(5);
  });

  it("names the leg's parent and identity after the token, so forwarding needs no read of the leg", () => {
    const names = { parentCallSid: OTHER_LEG, identity: 'alice_1' };
    const url = new URL(messageCallbackUrl('https://h.example', TOKEN, LEG, new Date(), names));
    expect([...url.searchParams.keys()]).toEqual(['cme_leg', 'cme_issued', 'cme_token', 'cme_parent', 'cme_identity']);
    expect(legNamesOf(Object.fromEntries(url.searchParams))).toEqual(names);
    // Rebuilt exactly as it was signed, from event = query ∪ body.
    const event = { ...Object.fromEntries(url.searchParams), CallSid: LEG };
    const site = { domainName: 'h.example', path: '/message-callback' };
    expect(rebuildSignedRequest(site, event)).toEqual({
      url: withoutFragment(url.toString()),
      params: { CallSid: LEG },
    });
  });

  it('takes names only when both are there and well formed', () => {
    expect(legNamesOf({ cme_parent: OTHER_LEG })).toBeUndefined();
    expect(legNamesOf({ cme_identity: 'alice' })).toBeUndefined();
    expect(legNamesOf({ cme_parent: 'CAnope', cme_identity: 'alice' })).toBeUndefined();
    expect(legNamesOf({ cme_parent: OTHER_LEG, cme_identity: 'a b' })).toBeUndefined();
    expect(legNamesOf({ cme_parent: OTHER_LEG, cme_identity: ['alice'] })).toBeUndefined();
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
    expect(rebuilt.url).toBe(withoutFragment(url));
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
      AccountSid: accountSid(0),
      Sid: messageSid(3),
    };
    const rebuilt = rebuildSignedRequest(
      { domainName: 'cme-1234.twil.io', path: '/message-callback' },
      eventFor(url, body),
    );
    expect(rebuilt.url).toBe(withoutFragment(url));
    expect(rebuilt.params).toEqual(body);
    expect(rebuilt.params).not.toHaveProperty('request');
    expect(rebuilt.params).not.toHaveProperty('cme_leg');
    expect(rebuilt.params).not.toHaveProperty('cme_token');
    expect(rebuilt.params).not.toHaveProperty('cme_issued');
  });

  it('keeps a `__proto__` key as a parameter (own property), never as the prototype', () => {
    const event = JSON.parse('{"__proto__":{"polluted":true},"constructor":"c","Sid":"KX1"}') as Record<
      string,
      unknown
    >;
    const rebuilt = rebuildSignedRequest({ domainName: 'h.example', path: '/message-callback' }, event);
    expect(Object.keys(rebuilt.params)).toEqual(['__proto__', 'constructor', 'Sid']);
    expect(Object.getPrototypeOf(rebuilt.params)).toBe(Object.prototype);
    expect((rebuilt.params as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('keeps bodySHA256 in the rebuilt URL, after the leg and token', () => {
    const url = `${withoutFragment(messageCallbackUrl('https://h.example', TOKEN, LEG))}&bodySHA256=abc123`;
    const rebuilt = rebuildSignedRequest(
      { domainName: 'x.twil.io', path: '/message-callback', publicBaseUrl: 'https://h.example' },
      eventFor(url, { Sid: 'KX1' }),
    );
    expect(rebuilt.url).toBe(withoutFragment(url));
    expect(rebuilt.params).toEqual({ Sid: 'KX1' });
  });

  it('uses PUBLIC_BASE_URL as the origin Twilio requested', () => {
    const url = callStatusUrl('https://abc.ngrok.app', { child: 'bob' });
    const rebuilt = rebuildSignedRequest(
      { domainName: 'localhost:3000', path: '/call-status', publicBaseUrl: 'https://abc.ngrok.app/' },
      eventFor(url, statusBody),
    );
    expect(rebuilt.url).toBe(withoutFragment(url));
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
        expect(rebuilt.url).toBe(withoutFragment(url));
        expect(rebuilt.params).toEqual(statusBody);
      }),
      { numRuns: 200 },
    );
  });

  it("validates a message callback naming any valid identity: Twilio's signature over the URL as issued (property)", () => {
    const identity = fc.stringMatching(/^[A-Za-z0-9_.-]{1,121}$/);
    const body = { CallSid: LEG, Sid: messageSid(1), Content: '{"a":1}' };
    fc.assert(
      fc.property(identity, (name) => {
        const names = { parentCallSid: OTHER_LEG, identity: name };
        const url = messageCallbackUrl('https://h.example', TOKEN, LEG, new Date(), names);
        // Twilio signs the URL it was given (without the fragment it never sends).
        const signature = twilio.getExpectedTwilioSignature(TOKEN, withoutFragment(url), body);
        const event = eventFor(url, body);
        const rebuilt = rebuildSignedRequest({ domainName: 'h.example', path: '/message-callback' }, event);
        expect(twilio.validateRequest(TOKEN, signature, rebuilt.url, rebuilt.params)).toBe(true);
        expect(legNamesOf(event)).toEqual(names);
      }),
      { numRuns: 200 },
    );
  });
});
