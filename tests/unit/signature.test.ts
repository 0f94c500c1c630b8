import { createHash } from 'node:crypto';
import twilio from 'twilio';
import { HttpError } from '../../lib/shared/error-catalogue';
import { callStatusUrl, messageCallbackUrl, RETRY_FRAGMENT, type RequestSite } from '../../lib/calls/callback-urls';
import { checkTwilioSignature, isValidTwilioSignature, jsonBodyMatchesHash } from '../../lib/http/signature';
import { withoutFragment } from '../support/narrow';
import { callSid, messageSid } from '../../testing/sids';

const TOKEN = 'the-auth-token';
const KEYS = { authToken: TOKEN };
const PARENT = callSid(0xa);
const CHILD = callSid(0xb);
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

/** What reaches the server: Twilio never sends a URL's fragment. */

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
    expect(isValidTwilioSignature(KEYS, hdr(signature), SITE, eventFor(URL_SIGNED, BODY))).toBe(true);
  });

  it('rejects a signature made with another auth token', () => {
    const other = twilio.getExpectedTwilioSignature('not-the-token', URL_SIGNED, BODY);
    expect(isValidTwilioSignature(KEYS, hdr(other), SITE, eventFor(URL_SIGNED, BODY))).toBe(false);
  });

  it('rejects the signature on another path', () => {
    expect(isValidTwilioSignature(KEYS, hdr(signature), { ...SITE, path: '/voice' }, eventFor(URL_SIGNED, BODY))).toBe(
      false,
    );
  });

  it('rejects the signature on another host', () => {
    expect(
      isValidTwilioSignature(KEYS, hdr(signature), { ...SITE, domainName: 'evil.twil.io' }, eventFor(URL_SIGNED, BODY)),
    ).toBe(false);
  });

  it('rejects a changed, added or removed body parameter', () => {
    expect(
      isValidTwilioSignature(KEYS, hdr(signature), SITE, eventFor(URL_SIGNED, { ...BODY, CallStatus: 'completed' })),
    ).toBe(false);
    expect(isValidTwilioSignature(KEYS, hdr(signature), SITE, eventFor(URL_SIGNED, { ...BODY, Extra: '1' }))).toBe(
      false,
    );
    const { SequenceNumber: _dropped, ...fewer } = BODY;
    expect(isValidTwilioSignature(KEYS, hdr(signature), SITE, eventFor(URL_SIGNED, fewer))).toBe(false);
  });

  it('rejects a changed query key (the SDK legs are covered by the signature)', () => {
    const tampered = { ...eventFor(URL_SIGNED, BODY), cme_child: 'mallory' };
    expect(isValidTwilioSignature(KEYS, hdr(signature), SITE, tampered)).toBe(false);
  });

  it.each([undefined, '', null, 42, [signature]])('rejects a missing or non-string header %p', (header) => {
    expect(isValidTwilioSignature(KEYS, hdr(header), SITE, eventFor(URL_SIGNED, BODY))).toBe(false);
  });

  it('ignores event.request (headers are not signed parameters)', () => {
    const event = {
      ...eventFor(URL_SIGNED, BODY),
      request: { headers: { 'x-twilio-signature': signature, 'user-agent': 'TwilioProxy/1.1' }, cookies: { a: 'b' } },
    };
    expect(isValidTwilioSignature(KEYS, hdr(signature), SITE, event)).toBe(true);
  });

  it('checks against PUBLIC_BASE_URL when it is set', () => {
    const publicUrl = callStatusUrl('https://abc.ngrok.app', { parent: 'alice', child: 'bob' });
    const sig = twilio.getExpectedTwilioSignature(TOKEN, publicUrl, BODY);
    const site = { domainName: 'localhost:3000', path: '/call-status', publicBaseUrl: 'https://abc.ngrok.app' };
    expect(isValidTwilioSignature(KEYS, hdr(sig), site, eventFor(publicUrl, BODY))).toBe(true);
    // The deployment's own URL stays valid (a number wired to https://<domain>/voice)…
    const localUrl = callStatusUrl('http://localhost:3000', { parent: 'alice', child: 'bob' });
    const localSig = twilio.getExpectedTwilioSignature(TOKEN, localUrl, BODY);
    expect(isValidTwilioSignature(KEYS, hdr(localSig), site, eventFor(localUrl, BODY))).toBe(true);
    // …but no other host is.
    const otherUrl = callStatusUrl('https://evil.example', { parent: 'alice', child: 'bob' });
    const otherSig = twilio.getExpectedTwilioSignature(TOKEN, otherUrl, BODY);
    expect(isValidTwilioSignature(KEYS, hdr(otherSig), site, eventFor(otherUrl, BODY))).toBe(false);
  });

  it('accepts a local http URL signature for a twilio-run domain', () => {
    const localUrl = callStatusUrl('http://localhost:3000', { child: 'bob' });
    const sig = twilio.getExpectedTwilioSignature(TOKEN, localUrl, BODY);
    expect(
      isValidTwilioSignature(
        KEYS,
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
    Sid: messageSid(0xc),
  };
  const raw = JSON.stringify(json);
  const url = `${withoutFragment(messageCallbackUrl('https://cme-1234.twil.io', TOKEN, LEG))}&bodySHA256=${createHash('sha256').update(raw).digest('hex')}`;
  const site: RequestSite = { domainName: 'cme-1234.twil.io', path: '/message-callback' };

  it('accepts a signature over the URL carrying bodySHA256, with no parameters', () => {
    const sig = twilio.getExpectedTwilioSignature(TOKEN, url, {});
    expect(twilio.validateRequestWithBody(TOKEN, sig, url, raw)).toBe(true); // the scheme as twilio-node defines it
    expect(isValidTwilioSignature(KEYS, hdr(sig, 'application/json'), site, eventFor(url, json))).toBe(true);
  });

  it('honours bodySHA256 only for a JSON body on the route that declares it', () => {
    const sig = twilio.getExpectedTwilioSignature(TOKEN, url, {});
    expect(isValidTwilioSignature(KEYS, hdr(sig), site, eventFor(url, json))).toBe(false); // form content type
    // Elsewhere a bare-URL signature plus bodySHA256 must not stand for arbitrary parameters.
    const bare = 'https://cme-1234.twil.io/send-message';
    const bareSig = twilio.getExpectedTwilioSignature(TOKEN, bare, {});
    const forged = { callSid: CHILD, content: '{"x":1}', bodySHA256: 'x', request: { headers: {}, cookies: {} } };
    expect(
      isValidTwilioSignature(
        KEYS,
        hdr(bareSig, 'application/json'),
        { domainName: 'cme-1234.twil.io', path: '/send-message' },
        forged,
      ),
    ).toBe(false);
  });

  it('rejects a signature over the URL without bodySHA256, or with the body as parameters', () => {
    const withoutHash = withoutFragment(messageCallbackUrl('https://cme-1234.twil.io', TOKEN, LEG));
    expect(
      isValidTwilioSignature(
        KEYS,
        hdr(twilio.getExpectedTwilioSignature(TOKEN, withoutHash, {})),
        site,
        eventFor(url, json),
      ),
    ).toBe(false);
    expect(
      isValidTwilioSignature(KEYS, hdr(twilio.getExpectedTwilioSignature(TOKEN, url, json)), site, eventFor(url, json)),
    ).toBe(false);
  });

  it('rejects a changed bodySHA256 or another auth token', () => {
    const sig = twilio.getExpectedTwilioSignature(TOKEN, url, {});
    expect(
      isValidTwilioSignature(KEYS, hdr(sig, 'application/json'), site, {
        ...eventFor(url, json),
        bodySHA256: 'f'.repeat(64),
      }),
    ).toBe(false);
    expect(
      isValidTwilioSignature(
        KEYS,
        hdr(twilio.getExpectedTwilioSignature('other', url, {}), 'application/json'),
        site,
        eventFor(url, json),
      ),
    ).toBe(false);
  });
});

describe('isValidTwilioSignature (GET: parameters in the query)', () => {
  const CALL = callSid(0xd);

  it('accepts a GET whose Twilio parameters follow our query keys (signed over the full URL, no body)', () => {
    const url = `${withoutFragment(callStatusUrl('https://cme-1234.twil.io', { child: 'bob' }))}&${new URLSearchParams(BODY)}`;
    const sig = twilio.getExpectedTwilioSignature(TOKEN, url, {});
    expect(isValidTwilioSignature(KEYS, hdr(sig), SITE, eventFor(url, {}))).toBe(true);
    // …and with the retry fragment signed after the query.
    const sigWithFragment = twilio.getExpectedTwilioSignature(TOKEN, `${url}#${RETRY_FRAGMENT}`, {});
    expect(isValidTwilioSignature(KEYS, hdr(sigWithFragment), SITE, eventFor(url, {}))).toBe(true);
  });

  it('accepts a GET to a route without query keys of its own', () => {
    const url = `https://cme-1234.twil.io/call-messages?callSid=${CALL}&pageSize=2`;
    const sig = twilio.getExpectedTwilioSignature(TOKEN, url, {});
    expect(
      isValidTwilioSignature(
        KEYS,
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
    expect(isValidTwilioSignature(KEYS, hdr(sig), site, { ...eventFor(url, {}), pageSize: '3' })).toBe(false);
    expect(isValidTwilioSignature(KEYS, hdr(sig), site, { ...eventFor(url, {}), extra: '1' })).toBe(false);
  });

  it('does not accept a bare-URL signature for a request with parameters', () => {
    const url = 'https://cme-1234.twil.io/call-messages';
    const sig = twilio.getExpectedTwilioSignature(TOKEN, url, {});
    expect(
      isValidTwilioSignature(
        KEYS,
        hdr(sig),
        { domainName: 'cme-1234.twil.io', path: '/call-messages' },
        eventFor(url, { callSid: CALL }),
      ),
    ).toBe(false);
  });
});

describe('SharedKey signatures (X-Twilio-Webhooks-Signature-Settings)', () => {
  const SHARED = 'the-shared-key-secret';
  const BOTH = { authToken: TOKEN, sharedKeySecret: SHARED };
  const SETTINGS = 'key=webhooks_sharedkey_0123456789,algorithm=HMAC_SHA256';
  const withSettings = (signature: string, settings = SETTINGS, contentType?: string) => ({
    ...hdr(signature, contentType),
    'x-twilio-webhooks-signature-settings': settings,
  });
  const sha256 = (secret: string, url: string, params: Record<string, string>) =>
    twilio.getExpectedTwilioSignature(secret, url, params, twilio.HMAC_SHA256);

  it('verifies with the SharedKey secret and HMAC-SHA256 when the header says so', () => {
    const sig = sha256(SHARED, URL_SIGNED, BODY);
    expect(isValidTwilioSignature(BOTH, withSettings(sig), SITE, eventFor(URL_SIGNED, BODY))).toBe(true);
    // The header's algorithm name is case-insensitive, and its key id is not ours to check.
    expect(
      isValidTwilioSignature(BOTH, withSettings(sig, 'algorithm=hmac_sha256,key=x'), SITE, eventFor(URL_SIGNED, BODY)),
    ).toBe(true);
  });

  it('without the header, verifies with the Auth Token and HMAC-SHA1 only', () => {
    const classic = twilio.getExpectedTwilioSignature(TOKEN, URL_SIGNED, BODY);
    expect(isValidTwilioSignature(BOTH, hdr(classic), SITE, eventFor(URL_SIGNED, BODY))).toBe(true);
    expect(isValidTwilioSignature(BOTH, hdr(sha256(SHARED, URL_SIGNED, BODY)), SITE, eventFor(URL_SIGNED, BODY))).toBe(
      false,
    );
    expect(isValidTwilioSignature(BOTH, hdr(sha256(TOKEN, URL_SIGNED, BODY)), SITE, eventFor(URL_SIGNED, BODY))).toBe(
      false,
    );
  });

  it('with the header, refuses an Auth Token signature, another secret, or another algorithm', () => {
    const event = eventFor(URL_SIGNED, BODY);
    expect(isValidTwilioSignature(BOTH, withSettings(sha256(TOKEN, URL_SIGNED, BODY)), SITE, event)).toBe(false);
    expect(
      isValidTwilioSignature(
        BOTH,
        withSettings(twilio.getExpectedTwilioSignature(TOKEN, URL_SIGNED, BODY)),
        SITE,
        event,
      ),
    ).toBe(false);
    expect(isValidTwilioSignature(BOTH, withSettings(sha256('other', URL_SIGNED, BODY)), SITE, event)).toBe(false);
    const sha1WithShared = twilio.getExpectedTwilioSignature(SHARED, URL_SIGNED, BODY);
    expect(isValidTwilioSignature(BOTH, withSettings(sha1WithShared), SITE, event)).toBe(false);
    // HMAC_SHA1 named in the header: the SharedKey with SHA-1.
    expect(isValidTwilioSignature(BOTH, withSettings(sha1WithShared, 'key=k,algorithm=HMAC_SHA1'), SITE, event)).toBe(
      true,
    );
  });

  it.each(['key=k,algorithm=HMAC_SHA512', 'key=k,algorithm=MD5'])('refuses an unsupported algorithm (%s)', (h) => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    const sig = sha256(SHARED, URL_SIGNED, BODY);
    expect(isValidTwilioSignature(BOTH, withSettings(sig, h), SITE, eventFor(URL_SIGNED, BODY))).toBe(false);
    expect(warn).not.toHaveBeenCalled();
    warn.mockRestore();
  });

  it('answers 500 configuration-missing, naming WEBHOOK_SHARED_KEY_SECRET, when no secret is configured', () => {
    const sig = sha256(SHARED, URL_SIGNED, BODY);
    let thrown: unknown;
    try {
      isValidTwilioSignature(KEYS, withSettings(sig), SITE, eventFor(URL_SIGNED, BODY));
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(HttpError);
    expect(thrown).toMatchObject({ status: 500, code: 'configuration-missing' });
    expect((thrown as HttpError).message).toContain('WEBHOOK_SHARED_KEY_SECRET');
    expect((thrown as HttpError).message).not.toContain(SHARED);
  });

  it('covers JSON bodies (bodySHA256) and GETs the same way', () => {
    const json = { Sid: messageSid(0xc), Content: '{"k":"v"}' };
    const base = withoutFragment(messageCallbackUrl('https://cme-1234.twil.io', TOKEN, PARENT));
    const url = `${base}&bodySHA256=${twilio.getExpectedBodyHash(JSON.stringify(json))}`;
    const site = { domainName: 'cme-1234.twil.io', path: '/message-callback' };
    const jsonHeaders = withSettings(sha256(SHARED, url, {}), SETTINGS, 'application/json');
    expect(checkTwilioSignature(BOTH, jsonHeaders, site, eventFor(url, json))).toEqual({
      valid: true,
      bodyVerified: true,
    });
    const get = `${withoutFragment(URL_SIGNED)}&${new URLSearchParams(BODY)}`;
    expect(isValidTwilioSignature(BOTH, withSettings(sha256(SHARED, get, {})), SITE, eventFor(get, {}))).toBe(true);
  });

  it('refuses a settings header that is not a single string', () => {
    const sig = sha256(SHARED, URL_SIGNED, BODY);
    const headers = { ...hdr(sig), 'x-twilio-webhooks-signature-settings': [SETTINGS, SETTINGS] };
    expect(isValidTwilioSignature(BOTH, headers, SITE, eventFor(URL_SIGNED, BODY))).toBe(false);
  });
});

describe('the retry fragment (#rc=…): signed or not, both verify', () => {
  const SIGNED_WITH = `${withoutFragment(URL_SIGNED)}#${RETRY_FRAGMENT}`;

  it('accepts a signature over the URL with the fragment, and over the URL without it', () => {
    const event = eventFor(URL_SIGNED, BODY);
    for (const url of [SIGNED_WITH, withoutFragment(URL_SIGNED)]) {
      expect(isValidTwilioSignature(KEYS, hdr(twilio.getExpectedTwilioSignature(TOKEN, url, BODY)), SITE, event)).toBe(
        true,
      );
    }
  });

  it('accepts only our own fragment, and only on the routes whose URLs carry it', () => {
    const event = eventFor(URL_SIGNED, BODY);
    const other = `${withoutFragment(URL_SIGNED)}#rc=5&rp=all`;
    expect(isValidTwilioSignature(KEYS, hdr(twilio.getExpectedTwilioSignature(TOKEN, other, BODY)), SITE, event)).toBe(
      false,
    );
    const voice = 'https://cme-1234.twil.io/voice';
    const voiceSig = twilio.getExpectedTwilioSignature(TOKEN, `${voice}#${RETRY_FRAGMENT}`, BODY);
    expect(isValidTwilioSignature(KEYS, hdr(voiceSig), { ...SITE, path: '/voice' }, eventFor(voice, BODY))).toBe(false);
  });

  it('works for JSON message callbacks: the fragment after bodySHA256', () => {
    const json = { Sid: messageSid(0xc), Content: '{"k":"v"}' };
    const base = withoutFragment(messageCallbackUrl('https://cme-1234.twil.io', TOKEN, PARENT));
    const url = `${base}&bodySHA256=${twilio.getExpectedBodyHash(JSON.stringify(json))}`;
    const site = { domainName: 'cme-1234.twil.io', path: '/message-callback' };
    for (const signed of [url, `${url}#${RETRY_FRAGMENT}`]) {
      const sig = twilio.getExpectedTwilioSignature(TOKEN, signed, {});
      expect(isValidTwilioSignature(KEYS, hdr(sig, 'application/json'), site, eventFor(url, json))).toBe(true);
    }
  });
});

describe('checkTwilioSignature: is the JSON body verified too?', () => {
  const site: RequestSite = { domainName: 'cme-1234.twil.io', path: '/message-callback' };
  const base = withoutFragment(messageCallbackUrl('https://cme-1234.twil.io', TOKEN, PARENT));
  /** A JSON callback whose bodySHA256 is the hash of `raw`, signed as Twilio signs it. */
  const jsonCallback = (json: Record<string, unknown>, raw = JSON.stringify(json)) => {
    const url = `${base}&bodySHA256=${twilio.getExpectedBodyHash(raw)}`;
    const event = eventFor(url, json as Record<string, string>);
    return { headers: hdr(twilio.getExpectedTwilioSignature(TOKEN, url, {}), 'application/json'), event };
  };

  it('is verified when the compact body, keys in their order, hashes to bodySHA256', () => {
    const { headers, event } = jsonCallback({ ContentType: 'application/json', Content: '{"a":"é 😀"}', Sid: 'KX1' });
    expect(checkTwilioSignature(KEYS, headers, site, event)).toEqual({ valid: true, bodyVerified: true });
  });

  it('is verified for parsed content of any depth, odd keys and lone surrogates', () => {
    const deep = JSON.parse('['.repeat(4_500) + ']'.repeat(4_500)) as unknown;
    const json = JSON.parse('{"__proto__":{"x":1},"constructor":"c","Content":"\\ud800"}') as Record<string, unknown>;
    json.Deep = deep;
    const raw =
      '{"__proto__":{"x":1},"constructor":"c","Content":"\\ud800","Deep":' +
      '['.repeat(4_500) +
      ']'.repeat(4_500) +
      '}';
    const { headers, event } = jsonCallback(json, raw);
    expect(checkTwilioSignature(KEYS, headers, site, event)).toEqual({ valid: true, bodyVerified: true });
  });

  it('is valid but not verified when the raw body was written another way', () => {
    const json = { ContentType: 'application/json', Content: '{"a":"é"}', Sid: 'KX1' };
    for (const raw of [JSON.stringify(json, null, 2), JSON.stringify(json).replace(/é/g, '\\u00e9')]) {
      const { headers, event } = jsonCallback(json, raw);
      expect(checkTwilioSignature(KEYS, headers, site, event)).toEqual({ valid: true, bodyVerified: false });
    }
  });

  it('is not verified for a replayed URL carrying another body', () => {
    const { headers, event } = jsonCallback({ Content: '{"original":1}' });
    const replay = { ...event, Content: '{"forged":1}' };
    expect(checkTwilioSignature(KEYS, headers, site, replay)).toEqual({ valid: true, bodyVerified: false });
  });

  it('form bodies are always verified (their parameters are signed)', () => {
    const form = checkTwilioSignature(
      KEYS,
      hdr(twilio.getExpectedTwilioSignature(TOKEN, URL_SIGNED, BODY)),
      SITE,
      eventFor(URL_SIGNED, BODY),
    );
    expect(form).toEqual({ valid: true, bodyVerified: true });
  });

  it.each(['', 'xyz', 'f'.repeat(63), 'g'.repeat(64)])('never matches a malformed bodySHA256 %p', (hash) => {
    expect(jsonBodyMatchesHash(site, { bodySHA256: hash, Content: '{}' })).toBe(false);
  });
});

describe('hostile parameters', () => {
  it('refuses non-string parameters (a JSON body on a form route) without stringifying them', () => {
    const deep = JSON.parse('['.repeat(5_000) + ']'.repeat(5_000)) as unknown;
    const url = 'https://cme-1234.twil.io/send-message';
    const event = { ...eventFor(url, {}), callSid: PARENT, content: deep };
    const sig = twilio.getExpectedTwilioSignature(TOKEN, url, { callSid: PARENT, content: '' });
    const site = { domainName: 'cme-1234.twil.io', path: '/send-message' };
    expect(isValidTwilioSignature(KEYS, hdr(sig, 'application/json'), site, event)).toBe(false);
    expect(isValidTwilioSignature(KEYS, hdr(sig), site, { ...eventFor(url, {}), content: { a: 1 } })).toBe(false);
  });

  it('accepts a repeated form key (an array of strings), as twilio-node signs it', () => {
    const body = { ...BODY, Tag: ['b', 'a'] as unknown as string };
    const sig = twilio.getExpectedTwilioSignature(TOKEN, URL_SIGNED, body);
    expect(isValidTwilioSignature(KEYS, hdr(sig), SITE, eventFor(URL_SIGNED, body))).toBe(true);
  });

  it('refuses megabytes of parameters before hashing them', () => {
    const body = { ...BODY, Big: 'x'.repeat(300_000) };
    const sig = twilio.getExpectedTwilioSignature(TOKEN, URL_SIGNED, body);
    expect(isValidTwilioSignature(KEYS, hdr(sig), SITE, eventFor(URL_SIGNED, body))).toBe(false);
  });
});
