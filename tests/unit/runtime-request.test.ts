// Headers only from the runtime (issue 20, Must 3): what twilio-run builds as `event` (its own
// `request`, then the query, then the body, each replacing the last) and what a runtime whose own
// `request` wins would build; every `request` the runtime could not have built is refused.
import { handler as tokenHandler } from '../../functions/token';
import { requireRequestWithinLimit, runtimeHeaders } from '../../lib/http/runtime-request';
import { MAX_REQUEST_BYTES } from '../../lib/shared/limits';
import { HttpError } from '../../lib/shared/error-catalogue';
import { expectError, installTwilioGlobal, invoke, makeContext } from '../support/function-harness';
import { sid } from '../../testing/sids';

const ENV = {
  TOKEN_SECRET: 'let-me-in-please-server-to-server',
  API_KEY_SID: sid('SK', 5),
  API_KEY_SECRET: 'api-key-secret',
  TWIML_APP_SID: sid('AP', 6),
};
const BEARER = `Bearer ${ENV.TOKEN_SECRET}`;
const runtime = (headers: Record<string, unknown> = {}, cookies: Record<string, unknown> = {}) => ({
  headers,
  cookies,
});
/** twilio-run (dev-runtime/route.js constructEvent): `{ request, ...query, ...body }`. */
const queryWins = (request: unknown, params: Record<string, unknown>) => ({ request, ...params });
/** The other reading: the runtime's `request` written last. */
const runtimeWins = (request: unknown, params: Record<string, unknown>) => ({ ...params, request });

const code = (event: Record<string, unknown>) => {
  try {
    runtimeHeaders(event);
    return 'accepted';
  } catch (err) {
    return err instanceof HttpError ? err.code : 'threw';
  }
};

describe('runtimeHeaders', () => {
  it('returns the headers of the request the runtime built', () => {
    const headers = { authorization: BEARER, 'content-type': 'application/json', 'x-dup': ['a', 'b'] };
    expect(runtimeHeaders(queryWins(runtime(headers), { identity: 'alice' }))).toBe(headers);
    expect(runtimeHeaders(queryWins(runtime({ cookie: 'a=b; c=d' }, { a: 'b', c: 'd' }), {}))).toEqual({
      cookie: 'a=b; c=d',
    });
  });

  it('reads no headers from an event with no request at all', () => {
    expect(runtimeHeaders({ identity: 'alice' })).toEqual({});
  });

  it.each([
    ['?request[headers][authorization]=… (Express nests it)', { headers: { authorization: BEARER } }],
    ['?request=x', 'x'],
    ['a JSON body request: null', null],
    ['a JSON body request: []', []],
    ['headers that are not an object', { headers: 'x', cookies: {} }],
    ['a header that is not text', { headers: { authorization: { nested: BEARER } }, cookies: {} }],
    ['a header array holding an object', { headers: { authorization: [BEARER, {}] }, cookies: {} }],
    ['a header that is null', { headers: { authorization: null }, cookies: {} }],
    ['an upper-case header name', { headers: { Authorization: BEARER }, cookies: {} }],
    ['a header name with a space', { headers: { 'x y': '1' }, cookies: {} }],
    ['cookies that are not an object', { headers: {}, cookies: 'a=b' }],
    ['no cookies', { headers: { authorization: BEARER } }],
  ])('refuses %s with request-key-reserved', (_what, request) => {
    expect(code(queryWins(request, { identity: 'alice' }))).toBe('request-key-reserved');
  });

  it.each(['request[headers][authorization]', 'request.headers.authorization', 'request[cookies]'])(
    'refuses a flat key %p (a form body; a parser nesting brackets would write request with it)',
    (key) => {
      expect(code(queryWins(runtime(), { [key]: BEARER }))).toBe('request-key-reserved');
      expect(code(runtimeWins(runtime(), { [key]: BEARER }))).toBe('request-key-reserved');
    },
  );

  it('leaves keys that only begin like it alone', () => {
    expect(code(queryWins(runtime(), { requests: '1', request_id: '2', Request: '3' }))).toBe('accepted');
  });
});

describe('/token under both readings of the merge', () => {
  beforeAll(installTwilioGlobal);
  beforeEach(() => jest.spyOn(console, 'log').mockImplementation(() => {}));
  afterEach(() => jest.restoreAllMocks());
  const token = (event: Record<string, unknown>) => invoke(tokenHandler, makeContext('/token', ENV), event);
  const forged = { headers: { authorization: BEARER } };

  it('the query wins (twilio-run): a forged request is refused with 400, no token', async () => {
    const res = await token(queryWins(forged, { identity: 'alice' }));
    expectError(res, 400, 'request-key-reserved');
    expect(JSON.stringify(res.body)).not.toContain(ENV.TOKEN_SECRET);
  });

  it("the runtime's request wins: the forged one never arrives, the real headers carry no bearer (403)", async () => {
    // What reaches the Function is the runtime's request: the query's `request` was dropped.
    expectError(await token(runtimeWins(runtime({ accept: '*/*' }), { identity: 'alice' })), 403, 'token-auth-invalid');
  });

  it('the honest request, under either reading, gets its token', async () => {
    for (const merge of [queryWins, runtimeWins]) {
      const res = await token(merge(runtime({ authorization: BEARER }), { identity: 'alice' }));
      expect(res.statusCode).toBe(200);
      expect(res.body).toMatchObject({ identity: 'alice' });
    }
  });
});

describe('requireRequestWithinLimit', () => {
  const codeOf = (headers: Record<string, unknown>, event: Record<string, unknown>) => {
    try {
      requireRequestWithinLimit(headers, event);
      return 'accepted';
    } catch (err) {
      return err instanceof HttpError ? `${err.status} ${err.code}` : 'threw';
    }
  };

  it('takes a request of up to 1 MB', () => {
    expect(codeOf({ 'content-length': String(MAX_REQUEST_BYTES) }, { a: 'x' })).toBe('accepted');
    expect(codeOf({}, { a: 'x'.repeat(MAX_REQUEST_BYTES - 20) })).toBe('accepted');
  });

  it('refuses a Content-Length over 1 MB with 413', () => {
    expect(codeOf({ 'content-length': String(MAX_REQUEST_BYTES + 1) }, {})).toBe('413 request-too-large');
  });

  it('refuses parsed parameters over 1 MB with 413, whatever Content-Length says (none, for a chunked body)', () => {
    const big = { a: 'x'.repeat(MAX_REQUEST_BYTES) };
    expect(codeOf({}, big)).toBe('413 request-too-large');
    expect(codeOf({ 'content-length': '10' }, big)).toBe('413 request-too-large');
  });

  it("does not count the runtime's own request", () => {
    const event = { request: { headers: { a: 'x'.repeat(MAX_REQUEST_BYTES) }, cookies: {} } };
    expect(codeOf({}, event)).toBe('accepted');
  });
});
