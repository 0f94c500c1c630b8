import { createHash } from 'node:crypto';
import twilio from 'twilio';
import { callStatusUrl, messageCallbackUrl, type RequestSite } from '../../lib/callback-urls';
import { isValidTwilioSignature } from '../../lib/signature';

const TOKEN = 'the-auth-token';
const PARENT = 'CA' + 'a'.repeat(32);
const CHILD = 'CA' + 'b'.repeat(32);
const SITE: RequestSite = { domainName: 'cme-1234.twil.io', path: '/call-status' };
const URL_SIGNED = callStatusUrl('https://cme-1234.twil.io', { parent: 'alice', child: 'bob' });
const BODY = { CallSid: CHILD, ParentCallSid: PARENT, CallStatus: 'in-progress', From: 'client:alice', To: 'client:bob', SequenceNumber: '1' };

const eventFor = (url: string, body: Record<string, string>) => ({
  ...Object.fromEntries(new URL(url).searchParams),
  ...body,
  request: { headers: {}, cookies: {} },
});

describe('isValidTwilioSignature (form bodies)', () => {
  const signature = twilio.getExpectedTwilioSignature(TOKEN, URL_SIGNED, BODY);

  it('accepts the signature Twilio computes over the requested URL and body', () => {
    expect(isValidTwilioSignature(TOKEN, signature, SITE, eventFor(URL_SIGNED, BODY))).toBe(true);
  });

  it('rejects a signature made with another auth token', () => {
    const other = twilio.getExpectedTwilioSignature('not-the-token', URL_SIGNED, BODY);
    expect(isValidTwilioSignature(TOKEN, other, SITE, eventFor(URL_SIGNED, BODY))).toBe(false);
  });

  it('rejects the signature on another path', () => {
    expect(isValidTwilioSignature(TOKEN, signature, { ...SITE, path: '/voice' }, eventFor(URL_SIGNED, BODY))).toBe(false);
  });

  it('rejects the signature on another host', () => {
    expect(isValidTwilioSignature(TOKEN, signature, { ...SITE, domainName: 'evil.twil.io' }, eventFor(URL_SIGNED, BODY))).toBe(false);
  });

  it('rejects a changed, added or removed body parameter', () => {
    expect(isValidTwilioSignature(TOKEN, signature, SITE, eventFor(URL_SIGNED, { ...BODY, CallStatus: 'completed' }))).toBe(false);
    expect(isValidTwilioSignature(TOKEN, signature, SITE, eventFor(URL_SIGNED, { ...BODY, Extra: '1' }))).toBe(false);
    const { SequenceNumber: _dropped, ...fewer } = BODY;
    expect(isValidTwilioSignature(TOKEN, signature, SITE, eventFor(URL_SIGNED, fewer))).toBe(false);
  });

  it('rejects a changed query key (the SDK legs are covered by the signature)', () => {
    const tampered = { ...eventFor(URL_SIGNED, BODY), cme_child: 'mallory' };
    expect(isValidTwilioSignature(TOKEN, signature, SITE, tampered)).toBe(false);
  });

  it.each([undefined, '', null, 42, [signature]])('rejects a missing or non-string header %p', (header) => {
    expect(isValidTwilioSignature(TOKEN, header, SITE, eventFor(URL_SIGNED, BODY))).toBe(false);
  });

  it('ignores event.request (headers are not signed parameters)', () => {
    const event = { ...eventFor(URL_SIGNED, BODY), request: { headers: { 'x-twilio-signature': signature, 'user-agent': 'TwilioProxy/1.1' }, cookies: { a: 'b' } } };
    expect(isValidTwilioSignature(TOKEN, signature, SITE, event)).toBe(true);
  });

  it('checks against PUBLIC_BASE_URL when it is set', () => {
    const publicUrl = callStatusUrl('https://abc.ngrok.app', { parent: 'alice', child: 'bob' });
    const sig = twilio.getExpectedTwilioSignature(TOKEN, publicUrl, BODY);
    const site = { domainName: 'localhost:3000', path: '/call-status', publicBaseUrl: 'https://abc.ngrok.app' };
    expect(isValidTwilioSignature(TOKEN, sig, site, eventFor(publicUrl, BODY))).toBe(true);
    // …and the same request signed for the local URL is not accepted there.
    const localUrl = callStatusUrl('http://localhost:3000', { parent: 'alice', child: 'bob' });
    const localSig = twilio.getExpectedTwilioSignature(TOKEN, localUrl, BODY);
    expect(isValidTwilioSignature(TOKEN, localSig, site, eventFor(localUrl, BODY))).toBe(false);
  });

  it('accepts a local http URL signature for a twilio-run domain', () => {
    const localUrl = callStatusUrl('http://localhost:3000', { child: 'bob' });
    const sig = twilio.getExpectedTwilioSignature(TOKEN, localUrl, BODY);
    expect(isValidTwilioSignature(TOKEN, sig, { domainName: 'localhost:3000', path: '/call-status' }, eventFor(localUrl, BODY))).toBe(true);
  });
});

describe('isValidTwilioSignature (JSON bodies, bodySHA256)', () => {
  const LEG = PARENT;
  const json = { ContentType: 'application/json', Content: '{"k":"v"}', SequenceNumber: '0', CallSid: LEG, Sid: 'KX' + 'c'.repeat(32) };
  const raw = JSON.stringify(json);
  const url = `${messageCallbackUrl('https://cme-1234.twil.io', TOKEN, LEG)}&bodySHA256=${createHash('sha256').update(raw).digest('hex')}`;
  const site: RequestSite = { domainName: 'cme-1234.twil.io', path: '/message-callback' };

  it('accepts a signature over the URL carrying bodySHA256, with no parameters', () => {
    const sig = twilio.getExpectedTwilioSignature(TOKEN, url, {});
    expect(twilio.validateRequestWithBody(TOKEN, sig, url, raw)).toBe(true); // the scheme as twilio-node defines it
    expect(isValidTwilioSignature(TOKEN, sig, site, eventFor(url, json))).toBe(true);
  });

  it('rejects a signature over the URL without bodySHA256, or with the body as parameters', () => {
    const withoutHash = messageCallbackUrl('https://cme-1234.twil.io', TOKEN, LEG);
    expect(isValidTwilioSignature(TOKEN, twilio.getExpectedTwilioSignature(TOKEN, withoutHash, {}), site, eventFor(url, json))).toBe(false);
    expect(isValidTwilioSignature(TOKEN, twilio.getExpectedTwilioSignature(TOKEN, url, json), site, eventFor(url, json))).toBe(false);
  });

  it('rejects a changed bodySHA256 or another auth token', () => {
    const sig = twilio.getExpectedTwilioSignature(TOKEN, url, {});
    expect(isValidTwilioSignature(TOKEN, sig, site, { ...eventFor(url, json), bodySHA256: 'f'.repeat(64) })).toBe(false);
    expect(isValidTwilioSignature(TOKEN, twilio.getExpectedTwilioSignature('other', url, {}), site, eventFor(url, json))).toBe(false);
  });
});

describe('isValidTwilioSignature (GET: parameters in the query)', () => {
  const CALL = 'CA' + 'd'.repeat(32);

  it('accepts a GET whose Twilio parameters follow our query keys (signed over the full URL, no body)', () => {
    const url = `${callStatusUrl('https://cme-1234.twil.io', { child: 'bob' })}&${new URLSearchParams(BODY)}`;
    const sig = twilio.getExpectedTwilioSignature(TOKEN, url, {});
    expect(isValidTwilioSignature(TOKEN, sig, SITE, eventFor(url, {}))).toBe(true);
  });

  it('accepts a GET to a route without query keys of its own', () => {
    const url = `https://cme-1234.twil.io/call-messages?callSid=${CALL}&pageSize=2`;
    const sig = twilio.getExpectedTwilioSignature(TOKEN, url, {});
    expect(isValidTwilioSignature(TOKEN, sig, { domainName: 'cme-1234.twil.io', path: '/call-messages' }, eventFor(url, {}))).toBe(true);
  });

  it('rejects a GET whose query was changed after signing', () => {
    const url = `https://cme-1234.twil.io/call-messages?callSid=${CALL}&pageSize=2`;
    const sig = twilio.getExpectedTwilioSignature(TOKEN, url, {});
    const site = { domainName: 'cme-1234.twil.io', path: '/call-messages' };
    expect(isValidTwilioSignature(TOKEN, sig, site, { ...eventFor(url, {}), pageSize: '3' })).toBe(false);
    expect(isValidTwilioSignature(TOKEN, sig, site, { ...eventFor(url, {}), extra: '1' })).toBe(false);
  });

  it('does not accept a bare-URL signature for a request with parameters', () => {
    const url = 'https://cme-1234.twil.io/call-messages';
    const sig = twilio.getExpectedTwilioSignature(TOKEN, url, {});
    expect(isValidTwilioSignature(TOKEN, sig, { domainName: 'cme-1234.twil.io', path: '/call-messages' }, eventFor(url, { callSid: CALL }))).toBe(false);
  });
});
