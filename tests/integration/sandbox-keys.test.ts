// The sandbox's API keys (2010-04-01 Keys) through the real `twilio` client: a key made with the
// account's credentials authenticates REST and signs access tokens the sandbox accepts; a Standard
// key may not manage keys (Twilio's rule; its answer's status is a knob: not documented).
import twilio from 'twilio';
import { startSandbox, type Sandbox } from '../../sandbox/app';
import { readAccessToken } from '../../sandbox/gateway-token';
import { applyKnobs } from '../../sandbox/knobs';
import { SandboxRequestClient } from '../../sandbox/request-client';

let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0 });
});

afterAll(async () => {
  await sandbox.close();
});

afterEach(() => sandbox.reset());

const asAccount = () =>
  twilio(sandbox.accountSid, sandbox.authToken, { httpClient: new SandboxRequestClient(sandbox.url) });
const asKey = (sid: string, secret: string) =>
  twilio(sid, secret, { accountSid: sandbox.accountSid, httpClient: new SandboxRequestClient(sandbox.url) });

function voiceToken(keySid: string, secret: string) {
  const token = new twilio.jwt.AccessToken(sandbox.accountSid, keySid, secret, { identity: 'alice' });
  token.addGrant(new twilio.jwt.AccessToken.VoiceGrant({ outgoingApplicationSid: sandbox.applicationSid }));
  return token.toJwt();
}

async function failure(p: Promise<unknown>): Promise<{ status?: number; code?: number }> {
  try {
    await p;
  } catch (err) {
    return err as { status?: number; code?: number };
  }
  throw new Error('expected a failure');
}

describe('the Keys API', () => {
  it('makes a key whose secret is shown once; it authenticates REST and signs tokens until deleted', async () => {
    const made = await asAccount().newKeys.create({ friendlyName: 'setup' });
    expect(made.sid).toMatch(/^SK[0-9a-f]{32}$/);
    expect(made.secret.length).toBeGreaterThanOrEqual(32);
    const listed = await asAccount().keys.list();
    expect(listed.map((k) => k.sid)).toEqual([sandbox.apiKeySid, made.sid]);
    expect(JSON.stringify(listed.map((k) => k.toJSON()))).not.toContain(made.secret);
    expect((await asAccount().keys(made.sid).fetch()).friendlyName).toBe('setup');

    // The new key reaches the API and signs Voice tokens the signaling checks.
    expect((await asKey(made.sid, made.secret).incomingPhoneNumbers.list()).length).toBeGreaterThan(0);
    const keys = { accountSid: sandbox.accountSid, keys: sandbox.keys };
    expect(readAccessToken(voiceToken(made.sid, made.secret), keys).identity).toBe('alice');
    expect(() => readAccessToken(voiceToken(made.sid, 'not-its-secret'), keys)).toThrow(/signature/);

    await asAccount().keys(made.sid).remove();
    expect(await failure(asKey(made.sid, made.secret).incomingPhoneNumbers.list())).toMatchObject({
      status: 401,
      code: 20003,
    });
    expect(() => readAccessToken(voiceToken(made.sid, made.secret), keys)).toThrow(/signature/);
  });

  it('refuses a Standard key on /Keys, 401 or 403 as the knob says, and lets it do the rest', async () => {
    const standard = asKey(sandbox.apiKeySid, sandbox.apiKeySecret);
    expect(await failure(standard.newKeys.create({ friendlyName: 'x' }))).toMatchObject({ status: 401, code: 20003 });
    expect(await failure(standard.keys.list())).toMatchObject({ status: 401 });
    applyKnobs(sandbox.knobs, { keys: { standardRefusal: 403 } });
    expect(await failure(standard.newKeys.create({ friendlyName: 'x' }))).toMatchObject({ status: 403, code: 20003 });
    expect((await standard.applications.list()).length).toBeGreaterThan(0);
    expect(await asAccount().keys.list()).toHaveLength(1);
  });

  it('answers a bad FriendlyName and an unknown key as Twilio-shaped 4xx', async () => {
    expect(await failure(asAccount().newKeys.create({ friendlyName: 'x'.repeat(65) }))).toMatchObject({
      status: 400,
    });
    expect(
      await failure(
        asAccount()
          .keys(`SK${'0'.repeat(32)}`)
          .fetch(),
      ),
    ).toMatchObject({
      status: 404,
      code: 20404,
    });
  });

  it('forgets made keys on reset, keeping the published one', async () => {
    await asAccount().newKeys.create({ friendlyName: 'gone after reset' });
    sandbox.reset();
    expect((await asAccount().keys.list()).map((k) => k.sid)).toEqual([sandbox.apiKeySid]);
  });
});
