import { createHash } from 'node:crypto';
import twilio from 'twilio';
import { callStatusUrl, messageCallbackUrl, type RequestSite } from '../../lib/callback-urls';
import { isValidTwilioSignature } from '../../lib/signature';

const TOKEN = 'the-auth-token';
const PARENT = 'CA' + 'a'.repeat(32);
const CHILD = 'CA' + 'b'.repeat(32);
const SITE: RequestSite = { domainName: 'cme-1234.twil.io', path: '/call-status' };
const URL_SIGNED = callStatusUrl('https://cme-1234.twil.io', { parent: 'alice', child: 'bob' });
const BODY = {
  CallSid: CHILD,
  ParentCallSid: PARENT,
  CallStatus: 'in-progress',
  From: 'client:alice',
  To: 'client:bob',
  SequenceNumber: '1',
};

/** The headers a request carries: its signature, and a form content type unless told otherwise. */
const hdr = (signature: unknown, contentType = 'application/x-www-form-urlencoded') => ({
  'x-twilio-signature': signature,
  'content-type': contentType,
});

const eventFor = (url: string, body: Record<string, string>) => ({
  ...Object.fromEntries(new URL(url).searchParams),
  ...body,
  request: { headers: {}, cookies: {} },
});

describe('isValidTwilioSignature (form bodies)', () => {
  const signature = twilio.getExpectedTwilioSignature(TOKEN, URL_SIGNED, BODY);

  it('accepts the signature Twilio computes over the requested URL and body', () => {
    expect(isValidTwilioSignature(TOKEN, hdr(signature), SITE, eventFor(URL_SIGNED, BODY))).toBe(true);
  });

  it('rejects a signature made with another auth token', () => {
    const other = twilio.getExpectedTwilioSignature('not-the-token', URL_SIGNED, BODY);
    expect(isValidTwilioSignature(TOKEN, hdr(other), SITE, eventFor(URL_SIGNED, BODY))).toBe(false);
  });

  it('rejects the signature on another path', () => {
    expect(isValidTwilioSignature(TOKEN, hdr(signature), { ...SITE, path: '/voice' }, eventFor(URL_SIGNED, BODY))).toBe(
      false,
    );
  });

  it('rejects the signature on another host', () => {
    expect(
      isValidTwilioSignature(
        TOKEN,
        hdr(signature),
        { ...SITE, domainName: 'evil.twil.io' },
        eventFor(URL_SIGNED, BODY),
      ),
    ).toBe(false);
  });

  it('rejects a changed, added or removed body parameter', () => {
    expect(
      isValidTwilioSignature(TOKEN, hdr(signature), SITE, eventFor(URL_SIGNED, { ...BODY, CallStatus: 'completed' })),
    ).toBe(false);
    expect(isValidTwilioSignature(TOKEN, hdr(signature), SITE, eventFor(URL_SIGNED, { ...BODY, Extra: '1' }))).toBe(
      false,
    );
    const { SequenceNumber: _dropped, ...fewer } = BODY;
    expect(isValidTwilioSignature(TOKEN, hdr(signature), SITE, eventFor(URL_SIGNED, fewer))).toBe(false);
  });

  it('rejects a changed query key (the SDK legs are covered by the signature)', () => {
    const tampered = { ...eventFor(URL_SIGNED, BODY), cme_child: 'mallory' };
    expect(isValidTwilioSignature(TOKEN, hdr(signature), SITE, tampered)).toBe(false);
  });

  it.each([undefined, '', null, 42, [signature]])('rejects a missing or non-string header %p', (header) => {
    expect(isValidTwilioSignature(TOKEN, hdr(header), SITE, eventFor(URL_SIGNED, BODY))).toBe(false);
  });

  it('ignores event.request (headers are not signed parameters)', () => {
    const event = {
      ...eventFor(URL_SIGNED, BODY),
      request: { headers: { 'x-twilio-signature': signature, 'user-agent': 'TwilioProxy/1.1' }, cookies: { a: 'b' } },
    };
    expect(isValidTwilioSignature(TOKEN, hdr(signature), SITE, event)).toBe(true);
  });

  it('checks against PUBLIC_BASE_URL when it is set', () => {
    const publicUrl = callStatusUrl('https://abc.ngrok.app', { parent: 'alice', child: 'bob' });
    const sig = twilio.getExpectedTwilioSignature(TOKEN, publicUrl, BODY);
    const site = { domainName: 'localhost:3000', path: '/call-status', publicBaseUrl: 'https://abc.ngrok.app' };
    expect(isValidTwilioSignature(TOKEN, hdr(sig), site, eventFor(publicUrl, BODY))).toBe(true);
    // The deployment's own URL stays valid (a number wired to https://<domain>/voice)…
    const localUrl = callStatusUrl('http://localhost:3000', { parent: 'alice', child: 'bob' });
    const localSig = twilio.getExpectedTwilioSignature(TOKEN, localUrl, BODY);
    expect(isValidTwilioSignature(TOKEN, hdr(localSig), site, eventFor(localUrl, BODY))).toBe(true);
    // …but no other host is.
    const otherUrl = callStatusUrl('https://evil.example', { parent: 'alice', child: 'bob' });
    const otherSig = twilio.getExpectedTwilioSignature(TOKEN, otherUrl, BODY);
    expect(isValidTwilioSignature(TOKEN, hdr(otherSig), site, eventFor(otherUrl, BODY))).toBe(false);
  });

  it('accepts a local http URL signature for a twilio-run domain', () => {
    const localUrl = callStatusUrl('http://localhost:3000', { child: 'bob' });
    const sig = twilio.getExpectedTwilioSignature(TOKEN, localUrl, BODY);
    expect(
      isValidTwilioSignature(
        TOKEN,
        hdr(sig),
        { domainName: 'localhost:3000', path: '/call-status' },
        eventFor(localUrl, BODY),
      ),
    ).toBe(true);
  });
});

describe('isValidTwilioSignature (JSON bodies, bodySHA256)', () => {
  const LEG = PARENT;
  const json = {
    ContentType: 'application/json',
    Content: '{"k":"v"}',
    SequenceNumber: '0',
    CallSid: LEG,
    Sid: 'KX' + 'c'.repeat(32),
  };
  const raw = JSON.stringify(json);
  const url = `${messageCallbackUrl('https://cme-1234.twil.io', TOKEN, LEG)}&bodySHA256=${createHash('sha256').update(raw).digest('hex')}`;
  const site: RequestSite = { domainName: 'cme-1234.twil.io', path: '/message-callback' };

  it('accepts a signature over the URL carrying bodySHA256, with no parameters', () => {
    const sig = twilio.getExpectedTwilioSignature(TOKEN, url, {});
    expect(twilio.validateRequestWithBody(TOKEN, sig, url, raw)).toBe(true); // the scheme as twilio-node defines it
    expect(isValidTwilioSignature(TOKEN, hdr(sig, 'application/json'), site, eventFor(url, json))).toBe(true);
  });

  it('honours bodySHA256 only for a JSON body on the route that declares it', () => {
    const sig = twilio.getExpectedTwilioSignature(TOKEN, url, {});
    expect(isValidTwilioSignature(TOKEN, hdr(sig), site, eventFor(url, json))).toBe(false); // form content type
    // Elsewhere a bare-URL signature plus bodySHA256 must not stand for arbitrary parameters.
    const bare = 'https://cme-1234.twil.io/send-message';
    const bareSig = twilio.getExpectedTwilioSignature(TOKEN, bare, {});
    const forged = { callSid: CHILD, content: '{"x":1}', bodySHA256: 'x', request: { headers: {}, cookies: {} } };
    expect(
      isValidTwilioSignature(
        TOKEN,
        hdr(bareSig, 'application/json'),
        { domainName: 'cme-1234.twil.io', path: '/send-message' },
        forged,
      ),
    ).toBe(false);
  });

  it('rejects a signature over the URL without bodySHA256, or with the body as parameters', () => {
    const withoutHash = messageCallbackUrl('https://cme-1234.twil.io', TOKEN, LEG);
    expect(
      isValidTwilioSignature(
        TOKEN,
        hdr(twilio.getExpectedTwilioSignature(TOKEN, withoutHash, {})),
        site,
        eventFor(url, json),
      ),
    ).toBe(false);
    expect(
      isValidTwilioSignature(
        TOKEN,
        hdr(twilio.getExpectedTwilioSignature(TOKEN, url, json)),
        site,
        eventFor(url, json),
      ),
    ).toBe(false);
  });

  it('rejects a changed bodySHA256 or another auth token', () => {
    const sig = twilio.getExpectedTwilioSignature(TOKEN, url, {});
    expect(
      isValidTwilioSignature(TOKEN, hdr(sig, 'application/json'), site, {
        ...eventFor(url, json),
        bodySHA256: 'f'.repeat(64),
      }),
    ).toBe(false);
    expect(
      isValidTwilioSignature(
        TOKEN,
        hdr(twilio.getExpectedTwilioSignature('other', url, {}), 'application/json'),
        site,
        eventFor(url, json),
      ),
    ).toBe(false);
  });
});

describe('isValidTwilioSignature (GET: parameters in the query)', () => {
  const CALL = 'CA' + 'd'.repeat(32);

  it('accepts a GET whose Twilio parameters follow our query keys (signed over the full URL, no body)', () => {
    const url = `${callStatusUrl('https://cme-1234.twil.io', { child: 'bob' })}&${new URLSearchParams(BODY)}`;
    const sig = twilio.getExpectedTwilioSignature(TOKEN, url, {});
    expect(isValidTwilioSignature(TOKEN, hdr(sig), SITE, eventFor(url, {}))).toBe(true);
  });

  it('accepts a GET to a route without query keys of its own', () => {
    const url = `https://cme-1234.twil.io/call-messages?callSid=${CALL}&pageSize=2`;
    const sig = twilio.getExpectedTwilioSignature(TOKEN, url, {});
    expect(
      isValidTwilioSignature(
        TOKEN,
        hdr(sig),
        { domainName: 'cme-1234.twil.io', path: '/call-messages' },
        eventFor(url, {}),
      ),
    ).toBe(true);
  });

  it('rejects a GET whose query was changed after signing', () => {
    const url = `https://cme-1234.twil.io/call-messages?callSid=${CALL}&pageSize=2`;
    const sig = twilio.getExpectedTwilioSignature(TOKEN, url, {});
    const site = { domainName: 'cme-1234.twil.io', path: '/call-messages' };
    expect(isValidTwilioSignature(TOKEN, hdr(sig), site, { ...eventFor(url, {}), pageSize: '3' })).toBe(false);
    expect(isValidTwilioSignature(TOKEN, hdr(sig), site, { ...eventFor(url, {}), extra: '1' })).toBe(false);
  });

  it('does not accept a bare-URL signature for a request with parameters', () => {
    const url = 'https://cme-1234.twil.io/call-messages';
    const sig = twilio.getExpectedTwilioSignature(TOKEN, url, {});
    expect(
      isValidTwilioSignature(
        TOKEN,
        hdr(sig),
        { domainName: 'cme-1234.twil.io', path: '/call-messages' },
        eventFor(url, { callSid: CALL }),
      ),
    ).toBe(false);
  });
});
