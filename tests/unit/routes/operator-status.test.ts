// /operator-status: the status page's report behind the operator's session. Every check ends as a
// line of a 200 (a half-configured deployment, Twilio refusing or not answering), never a 500;
// numbers count as pointing here directly or through a TwiML App that does.
import { readConfig } from '../../../lib/platform/config';
import type { RouteContext } from '../../../lib/http/function-handler';
import { routeLog } from '../../../lib/platform/log';
import { issueSession } from '../../../lib/auth/sessions';
import { operatorStatus } from '../../../lib/routes/operator-status';
import type { OperatorStatus } from '../../../lib/shared/api-types';
import type { TwilioClient } from '../../../lib/platform/twilio-client';
import { assessNumbers, sameUrl } from '../../../lib/calls/wiring-status';
import { TEST_ACCOUNT_SID, TEST_AUTH_TOKEN } from '../../support/sync-sandbox';

const OPERATOR_SECRET = 'operator-secret-for-unit-tests-0123456789';
const APP = `AP${'a'.repeat(32)}`;
const OTHER_APP = `AP${'b'.repeat(32)}`;
const HERE = 'https://cme-1234-dev.twil.io/voice';

const restError = (status: number, code?: number) =>
  Object.assign(new Error(`HTTP ${status}`), { status, ...(code ? { code } : {}) });

interface Fakes {
  app?: () => Promise<unknown>;
  numbers?: () => Promise<unknown>;
  syncMap?: () => Promise<unknown>;
  syncService?: () => Promise<unknown>;
}

function fakeClient(f: Fakes): TwilioClient {
  const ok = () => Promise.resolve({});
  return {
    applications: () => ({
      fetch: f.app ?? (() => Promise.resolve({ sid: APP, friendlyName: 'cme', voiceUrl: HERE })),
    }),
    incomingPhoneNumbers: { list: f.numbers ?? (() => Promise.resolve([])) },
    sync: { v1: { services: () => ({ fetch: f.syncService ?? ok, syncMaps: () => ({ fetch: f.syncMap ?? ok }) }) } },
  } as unknown as TwilioClient;
}

function context(env: Record<string, string>, fakes: Fakes, session = true): RouteContext {
  const config = readConfig({
    ACCOUNT_SID: TEST_ACCOUNT_SID,
    AUTH_TOKEN: TEST_AUTH_TOKEN,
    OPERATOR_SECRET,
    DOMAIN_NAME: 'cme-1234-dev.twil.io',
    ...env,
  });
  const headers = session ? { authorization: `Bearer ${issueSession(TEST_AUTH_TOKEN, OPERATOR_SECRET).session}` } : {};
  return {
    event: { request: { headers } },
    headers,
    config,
    base: 'https://cme-1234-dev.twil.io',
    deadline: Date.now() + 9_000,
    client: () => fakeClient(fakes),
    store: () => {
      throw new Error('no call store expected');
    },
    log: routeLog('/operator-status'),
  };
}

const report = async (ctx: RouteContext) => {
  const res = await operatorStatus(ctx);
  expect(res.status).toBe(200);
  return (res as { json: OperatorStatus }).json;
};

describe('/operator-status', () => {
  it('refuses a request without an operator session', async () => {
    await expect(operatorStatus(context({}, {}, false))).rejects.toMatchObject({ code: 'operator-session-invalid' });
  });

  it('reports a wired deployment: the App and a number point here, Sync answers, the version', async () => {
    const status = await report(
      context(
        { TWIML_APP_SID: APP },
        {
          numbers: () =>
            Promise.resolve([
              { sid: 'PN1', phoneNumber: '+15005550006', voiceUrl: `${HERE}/`, voiceApplicationSid: '' },
              { sid: 'PN2', phoneNumber: '+15005550007', voiceUrl: '', voiceApplicationSid: APP },
              { sid: 'PN3', phoneNumber: '+15005550008', voiceUrl: 'https://elsewhere.example/voice' },
            ]),
        },
      ),
    );
    expect(status.version).toBe('unbuilt');
    expect(status.voiceUrl).toBe(HERE);
    expect(status.sync).toMatchObject({ level: 'ok', service: 'default' });
    expect(status.twimlApp).toMatchObject({ level: 'ok', sid: APP, pointsHere: true, voiceUrl: HERE });
    expect(status.numbers.level).toBe('ok');
    expect(status.numbers.detail).toBe('2 of 3 number(s) send their calls here.');
    expect(status.numbers.numbers.map((n) => [n.phoneNumber, n.pointsHere])).toEqual([
      ['+15005550006', true],
      ['+15005550007', true],
      ['+15005550008', false],
    ]);
  });

  it('reports an unconfigured deployment as such: no App, no numbers, the variables missing', async () => {
    const status = await report(context({}, { numbers: () => Promise.resolve([]) }));
    expect(status.configuration).toMatchObject({ level: 'error', complete: false });
    expect(status.configuration.detail).toMatch(/^not set: CLIENT_IDENTITY, CALLER_ID, API_KEY_SID/);
    expect(status.twimlApp).toMatchObject({
      level: 'error',
      detail: expect.stringMatching(/TWIML_APP_SID is not set/),
    });
    expect(status.numbers).toMatchObject({ level: 'warn', numbers: [] });
  });

  it('turns every failure into a line: an App that does not exist, numbers refused, Sync down', async () => {
    const status = await report(
      context(
        { TWIML_APP_SID: APP },
        {
          app: () => Promise.reject(restError(404, 20404)),
          numbers: () => Promise.reject(restError(403, 20003)),
          syncMap: () => Promise.reject(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })),
        },
      ),
    );
    expect(status.twimlApp).toMatchObject({
      level: 'error',
      detail: 'TWIML_APP_SID names no TwiML App of this account.',
    });
    expect(status.numbers).toMatchObject({ level: 'error', twilioCode: 20003 });
    expect(status.sync).toMatchObject({ level: 'error', detail: 'Sync did not answer in time.' });
  }, 15_000);

  it('says an App that points elsewhere does not send calls here, nor the numbers it answers', async () => {
    const status = await report(
      context(
        { TWIML_APP_SID: APP },
        {
          app: () => Promise.resolve({ sid: APP, friendlyName: 'old', voiceUrl: 'https://old.example/voice' }),
          numbers: () => Promise.resolve([{ sid: 'PN1', phoneNumber: '+15005550006', voiceApplicationSid: APP }]),
        },
      ),
    );
    expect(status.twimlApp).toMatchObject({ level: 'error', pointsHere: false });
    expect(status.numbers).toMatchObject({
      level: 'warn',
      detail: 'None of the 1 number(s) sends its calls here (npm run wire).',
    });
  });

  it('a named Sync service that does not exist is an error; the default one never is', async () => {
    const named = await report(
      context(
        { SYNC_SERVICE_SID: `IS${'1'.repeat(32)}` },
        { syncService: () => Promise.reject(restError(404, 20404)) },
      ),
    );
    expect(named.sync).toMatchObject({
      level: 'error',
      detail: 'SYNC_SERVICE_SID names no Sync service of this account.',
    });
    const fresh = await report(context({}, { syncMap: () => Promise.reject(restError(404, 20404)) }));
    expect(fresh.sync).toMatchObject({ level: 'ok', detail: 'Sync answered (no call recorded yet).' });
  });
});

describe('wiring helpers', () => {
  it('compare URLs by scheme, host and path: case of the host and a trailing slash do not matter', () => {
    expect(sameUrl('https://CME-1234-dev.twil.io/voice/', HERE)).toBe(true);
    expect(sameUrl('http://cme-1234-dev.twil.io/voice', HERE)).toBe(false);
    expect(sameUrl('https://cme-1234-dev.twil.io/voice?x=1', HERE)).toBe(false);
    expect(sameUrl('', '')).toBe(false);
  });

  it('a number answered by another TwiML App is not this deployment’s', () => {
    const numbers = assessNumbers(
      { voiceUrls: [HERE], twimlAppSid: APP },
      { numbers: [{ sid: 'PN1', phoneNumber: '+1', voiceUrl: HERE, voiceApplicationSid: OTHER_APP }], more: true },
      true,
    );
    expect(numbers).toMatchObject({ level: 'warn', more: true, numbers: [{ pointsHere: false }] });
  });
});
