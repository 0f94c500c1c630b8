import { XMLParser } from 'fast-xml-parser';
import { handler } from '../../../functions/voice.protected';
import { RETRY_FRAGMENT } from '../../../lib/calls/callback-urls';
import {
  eventFor,
  expectError,
  installTwilioGlobal,
  invoke,
  LOCAL_BASE,
  makeContext,
  signedEvent,
  type FakeResponse,
} from '../../support/function-harness';
import { accountSid, callSid } from '../../../testing/sids';
import { MAX_CUSTOM_PARAMETER_VALUE_CHARS, MAX_CUSTOM_PARAMETERS } from '../../../lib/shared/limits';

const ENV = { CLIENT_IDENTITY: 'bob', CALLER_ID: '+15550001111' };
const VOICE_URL = `${LOCAL_BASE}/voice`;
const request = (over: Record<string, string>) => ({
  AccountSid: accountSid(0x0123456789abcdef0123456789abcdefn),
  ApiVersion: '2010-04-01',
  CallSid: callSid(0xa),
  CallStatus: 'ringing',
  Direction: 'inbound',
  ...over,
});

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  parseAttributeValue: false,
});
type Node = Record<string, any>;

function twimlOf(res: FakeResponse): Node {
  expect(res.statusCode).toBe(200);
  expect(res.headers['Content-Type']).toBe('text/xml');
  return parser.parse(String(res.body)).Response as Node;
}

beforeAll(installTwilioGlobal);
beforeEach(() => jest.spyOn(console, 'log').mockImplementation(() => {}));
afterEach(() => jest.restoreAllMocks());

describe('/voice', () => {
  it('refuses an unsigned request with 403 {code, message}', async () => {
    const res = await invoke(
      handler,
      makeContext('/voice', ENV),
      eventFor(VOICE_URL, request({ From: '+15557778888', To: '+15550001111' })),
    );
    expectError(res, 403, 'signature-invalid');
  });

  it('refuses a request signed for another URL', async () => {
    const event = signedEvent(`${LOCAL_BASE}/other`, request({ From: '+15557778888', To: '+15550001111' }));
    expectError(await invoke(handler, makeContext('/voice', ENV), event), 403, 'signature-invalid');
  });

  it('dials CLIENT_IDENTITY for a PSTN call to our number', async () => {
    const event = signedEvent(VOICE_URL, request({ From: '+15557778888', Caller: '+15557778888', To: '+15550001111' }));
    const response = twimlOf(await invoke(handler, makeContext('/voice', ENV), event));
    expect(response.Dial['@answerOnBridge']).toBe('true');
    expect(response.Dial.Client['#text']).toBe('bob');
    expect(response.Dial.Client['@statusCallback']).toBe(
      `${LOCAL_BASE}/call-status?cme_sdk=child&cme_child=bob#${RETRY_FRAGMENT}`,
    );
    expect(response.Dial.Client['@statusCallbackEvent'].split(' ')).toContain('answered');
  });

  it('dials a number with CALLER_ID for an SDK call out', async () => {
    const event = signedEvent(
      VOICE_URL,
      request({ From: 'client:alice', Caller: 'client:alice', To: '+442071234567' }),
    );
    // +44 is outside CALLER_ID's country code: allowed explicitly (see agent-dial-allowed.test.ts).
    const response = twimlOf(await invoke(handler, makeContext('/voice', { ...ENV, DIAL_ALLOWED: '+1,+44' }), event));
    expect(response.Dial['@callerId']).toBe('+15550001111');
    expect(response.Dial.Number['#text']).toBe('+442071234567');
    expect(response.Dial.Number['@statusCallback']).toBe(
      `${LOCAL_BASE}/call-status?cme_sdk=parent&cme_parent=alice#${RETRY_FRAGMENT}`,
    );
  });

  it('dials client:bob for an SDK call to a client, marking both legs', async () => {
    const event = signedEvent(VOICE_URL, request({ From: 'client:alice', To: 'client:bob' }));
    const response = twimlOf(await invoke(handler, makeContext('/voice', ENV), event));
    expect(response.Dial.Client['#text']).toBe('bob');
    expect(response.Dial.Client['@statusCallback']).toBe(
      `${LOCAL_BASE}/call-status?cme_sdk=both&cme_parent=alice&cme_child=bob#${RETRY_FRAGMENT}`,
    );
  });

  it("passes the caller's own parameters (lower-case names) to the client, never Twilio's", async () => {
    const event = signedEvent(
      VOICE_URL,
      request({
        From: 'client:alice',
        Caller: 'client:alice',
        To: 'client:bob',
        ApplicationSid: 'AP' + '0'.repeat(32),
        topic: 'billing',
        ticket_id: 'T-42',
      }),
    );
    const response = twimlOf(await invoke(handler, makeContext('/voice', ENV), event));
    expect(response.Dial.Client.Identity).toBe('bob');
    expect(response.Dial.Client.Parameter).toEqual([
      { '@name': 'topic', '@value': 'billing' },
      { '@name': 'ticket_id', '@value': 'T-42' },
    ]);
  });

  it('drops a parameter over the bounds with a log line, and still dials', async () => {
    const lines: string[] = [];
    jest.spyOn(console, 'log').mockImplementation((line: string) => lines.push(line));
    const many = Object.fromEntries(Array.from({ length: MAX_CUSTOM_PARAMETERS + 1 }, (_, i) => [`p${i}`, 'v']));
    const event = signedEvent(
      VOICE_URL,
      request({
        From: 'client:alice',
        To: 'client:bob',
        ...many,
        long: 'x'.repeat(MAX_CUSTOM_PARAMETER_VALUE_CHARS + 1),
        ['n'.repeat(65)]: 'v',
      }),
    );
    const response = twimlOf(await invoke(handler, makeContext('/voice', ENV), event));
    const passed = [response.Dial.Client.Parameter].flat().map((p: Node) => p['@name']);
    expect(passed).toEqual(Object.keys(many).slice(0, MAX_CUSTOM_PARAMETERS));
    const logged = lines.map((l) => JSON.parse(l)).find((l) => l.droppedParameters);
    expect(logged.droppedParameters.map((d: { name: string }) => d.name)).toEqual([
      `p${MAX_CUSTOM_PARAMETERS}`,
      'long',
      'n'.repeat(64),
    ]);
  });

  it('passes no parameters to a number', async () => {
    const event = signedEvent(VOICE_URL, request({ From: 'client:alice', To: '+15551230000', topic: 'billing' }));
    const response = twimlOf(await invoke(handler, makeContext('/voice', ENV), event));
    expect(response.Dial.Number['#text']).toBe('+15551230000');
    expect(JSON.stringify(response)).not.toContain('billing');
  });

  it('says and hangs up when CALLER_ID is missing for a call to a number', async () => {
    const event = signedEvent(VOICE_URL, request({ From: 'client:alice', To: '+442071234567' }));
    const response = twimlOf(await invoke(handler, makeContext('/voice', { CLIENT_IDENTITY: 'bob' }), event));
    expect(typeof response.Say).toBe('string');
    expect(response).toHaveProperty('Hangup');
    expect(response).not.toHaveProperty('Dial');
  });

  it('says and hangs up for a garbage To', async () => {
    const event = signedEvent(VOICE_URL, request({ From: 'client:alice', To: 'not a number!' }));
    const response = twimlOf(await invoke(handler, makeContext('/voice', ENV), event));
    expect(response).toHaveProperty('Hangup');
    expect(response).not.toHaveProperty('Dial');
  });

  it('checks the signature against PUBLIC_BASE_URL and writes callbacks under it', async () => {
    const env = { ...ENV, PUBLIC_BASE_URL: 'https://abc.ngrok.app' };
    const body = request({ From: '+15557778888', To: '+15550001111' });
    const response = twimlOf(
      await invoke(handler, makeContext('/voice', env), signedEvent('https://abc.ngrok.app/voice', body)),
    );
    expect(response.Dial.Client['@statusCallback']).toBe(
      `https://abc.ngrok.app/call-status?cme_sdk=child&cme_child=bob#${RETRY_FRAGMENT}`,
    );
    // The deployment's own URL stays valid (a number wired to it directly); any other host is refused.
    expect((await invoke(handler, makeContext('/voice', env), signedEvent(VOICE_URL, body))).statusCode).toBe(200);
    expectError(
      await invoke(handler, makeContext('/voice', env), signedEvent('https://evil.example/voice', body)),
      403,
      'signature-invalid',
    );
  });
});
