import { createHmac } from 'node:crypto';
import { handler } from '../../../functions/token';
import { secretsMatch } from '../../../lib/platform/secrets';
import {
  eventFor,
  expectError,
  installTwilioGlobal,
  invoke,
  LOCAL_BASE,
  makeContext,
} from '../../support/function-harness';
import { TEST_ACCOUNT_SID } from '../../support/sync-sandbox';
import { defined } from '../../support/narrow';
import { sid } from '../../../testing/sids';

const ENV = {
  TOKEN_SECRET: 'let-me-in-please-server-to-server',
  API_KEY_SID: sid('SK', 5),
  API_KEY_SECRET: 'api-key-secret',
  TWIML_APP_SID: sid('AP', 6),
};
const URL_TOKEN = `${LOCAL_BASE}/token`;
const bearer = (secret = ENV.TOKEN_SECRET) => ({ authorization: `Bearer ${secret}` });
const call = (
  body: Record<string, string>,
  headers: Record<string, unknown>,
  env: Record<string, string | undefined> = ENV,
) => invoke(handler, makeContext('/token', env), eventFor(URL_TOKEN, body, headers));

const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));

beforeAll(installTwilioGlobal);
beforeEach(() => jest.spyOn(console, 'log').mockImplementation(() => {}));
afterEach(() => jest.restoreAllMocks());

describe('/token', () => {
  it('refuses a caller without Authorization: Bearer', async () => {
    expectError(await call({ identity: 'alice' }, {}), 403, 'token-auth-invalid');
  });

  it.each([
    ['a wrong secret', `Bearer nope`],
    ['the secret without Bearer', ENV.TOKEN_SECRET],
    ['Basic auth', `Basic ${Buffer.from(`x:${ENV.TOKEN_SECRET}`).toString('base64')}`],
    ['an empty bearer', 'Bearer '],
    ['a prefix of the secret', `Bearer ${ENV.TOKEN_SECRET.slice(0, -1)}`],
  ])('refuses %s', async (_what, authorization) => {
    expectError(await call({ identity: 'alice' }, { authorization }), 403, 'token-auth-invalid');
  });

  it('checks the secret before the identity (strangers learn nothing)', async () => {
    expectError(await call({ identity: 'bad identity' }, {}), 403, 'token-auth-invalid');
  });

  it.each(['', 'alice smith', 'client:alice', 'x'.repeat(122)])('refuses identity %p with 400', async (identity) => {
    expectError(await call({ identity }, bearer()), 400, 'identity-invalid');
  });

  it('refuses a missing identity with 400', async () => {
    expectError(await call({}, bearer()), 400, 'identity-invalid');
  });

  it('issues a Voice access token for the identity', async () => {
    const before = Math.floor(Date.now() / 1000);
    const res = await call({ identity: 'alice' }, bearer());
    expect(res.statusCode).toBe(200);
    expect(res.headers['Content-Type']).toBe('application/json');
    const { identity, token, ttl } = res.body as { identity: string; token: string; ttl: number };
    expect(identity).toBe('alice');
    expect(ttl).toBe(3600);

    const [header, payload, signature] = token.split('.');
    expect(decode(defined(header))).toMatchObject({ alg: 'HS256', typ: 'JWT', cty: 'twilio-fpa;v=1' });
    const claims = decode(defined(payload));
    expect(claims.grants.identity).toBe('alice');
    expect(claims.grants.voice.outgoing.application_sid).toBe(ENV.TWIML_APP_SID);
    expect(claims.grants.voice.incoming).toEqual({ allow: true });
    expect(claims.iss).toBe(ENV.API_KEY_SID);
    expect(claims.sub).toBe(TEST_ACCOUNT_SID);
    expect(claims.exp - claims.iat).toBe(3600);
    expect(claims.iat).toBeGreaterThanOrEqual(before);
    // HS256 over header.payload with the API key secret.
    expect(createHmac('sha256', ENV.API_KEY_SECRET).update(`${header}.${payload}`).digest('base64url')).toBe(signature);
  });

  describe('platform: the push credential of a mobile app', () => {
    const PUSH = { PUSH_CREDENTIAL_SID_IOS: sid('CR', 7), PUSH_CREDENTIAL_SID_ANDROID: sid('CR', 8) };
    const voiceGrant = (res: { body: unknown }) =>
      decode(defined((res.body as { token: string }).token.split('.')[1])).grants.voice;

    it.each([
      ['ios', PUSH.PUSH_CREDENTIAL_SID_IOS],
      ['android', PUSH.PUSH_CREDENTIAL_SID_ANDROID],
    ])('puts the %s credential in the VoiceGrant', async (platform, credential) => {
      const res = await call({ identity: 'alice', platform }, bearer(), { ...ENV, ...PUSH });
      expect(res.statusCode).toBe(200);
      expect(voiceGrant(res)).toMatchObject({ push_credential_sid: credential, incoming: { allow: true } });
    });

    it.each([[{}], [{ platform: '' }], [{ platform: 'web' }]])('gives a browser (%p) none', async (extra) => {
      const res = await call({ identity: 'alice', ...extra }, bearer(), { ...ENV, ...PUSH });
      expect(res.statusCode).toBe(200);
      expect(voiceGrant(res)).not.toHaveProperty('push_credential_sid');
    });

    it.each(['IOS', 'windows', 'ios '])('refuses platform %p with 400', async (platform) => {
      expectError(await call({ identity: 'alice', platform }, bearer(), { ...ENV, ...PUSH }), 400, 'platform-invalid');
    });

    it('checks who is asking before the platform', async () => {
      expectError(await call({ identity: 'alice', platform: 'nope' }, {}), 403, 'token-auth-invalid');
    });

    it('names the variable a mobile platform needs, unset or malformed', async () => {
      const missing = await call({ identity: 'alice', platform: 'android' }, bearer(), {
        ...ENV,
        PUSH_CREDENTIAL_SID_IOS: PUSH.PUSH_CREDENTIAL_SID_IOS,
      });
      expect(expectError(missing, 500, 'configuration-missing').message).toContain('PUSH_CREDENTIAL_SID_ANDROID');
      const malformed = await call({ identity: 'alice', platform: 'ios' }, bearer(), {
        ...ENV,
        PUSH_CREDENTIAL_SID_IOS: 'AP' + '0'.repeat(32),
      });
      expect(expectError(malformed, 500, 'configuration-invalid').message).toContain('PUSH_CREDENTIAL_SID_IOS');
    });
  });

  it.each([['API_KEY_SID'], ['API_KEY_SECRET'], ['TWIML_APP_SID']])(
    'names a missing %s with a 500 {code, message}',
    async (name) => {
      const res = await call({ identity: 'alice' }, bearer(), { ...ENV, [name]: undefined });
      expect(expectError(res, 500, 'configuration-missing').message).toContain(name);
    },
  );

  // TOKEN_SECRET is only for server-to-server minting now (agents sign in: agent-routes.test.ts).
  it('without TOKEN_SECRET the server-to-server path is off and issues nothing', async () => {
    for (const secret of ['', ENV.TOKEN_SECRET]) {
      const res = await call({ identity: 'alice' }, bearer(secret), { ...ENV, TOKEN_SECRET: undefined });
      expectError(res, 403, 'token-auth-invalid');
      expect(JSON.stringify(res.body)).not.toContain('token"');
    }
  });

  it('refuses a TOKEN_SECRET shorter than 32 characters, naming it', async () => {
    const short = 'let-me-in-please';
    const res = await call({ identity: 'alice' }, bearer(short), { ...ENV, TOKEN_SECRET: short });
    expect(expectError(res, 500, 'configuration-invalid').message).toContain('TOKEN_SECRET');
  });
});

describe('secretsMatch', () => {
  it('matches only the same string', () => {
    expect(secretsMatch('abc', 'abc')).toBe(true);
    expect(secretsMatch('abd', 'abc')).toBe(false);
    expect(secretsMatch('abcd', 'abc')).toBe(false);
    expect(secretsMatch('', 'abc')).toBe(false);
    expect(secretsMatch(undefined, 'abc')).toBe(false);
    expect(secretsMatch(['abc'], 'abc')).toBe(false);
  });
});
