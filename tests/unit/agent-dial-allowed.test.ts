// What an agent's softphone may dial: DIAL_ALLOWED (E.164 prefixes), by default CALLER_ID's country
// code. Anything else from an SDK gets <Say> + <Hangup> and a log line; client → client is unaffected.
import { XMLParser } from 'fast-xml-parser';
import { handler } from '../../functions/voice.protected';
import { countryCode, dialAllowed, HIGH_COST_RANGES, isDialAllowed } from '../../lib/calls/dial-allowed';
import { DIAL_REFUSED_SAY } from '../../lib/routes/voice';
import {
  expectError,
  installTwilioGlobal,
  invoke,
  LOCAL_BASE,
  makeContext,
  signedEvent,
} from '../support/function-harness';
import { accountSid, callSid } from '../../testing/sids';

describe('countryCode', () => {
  it.each([
    ['+15005550006', '+1'],
    ['+18765550100', '+1'], // Jamaica is in the North American plan: +1 covers it
    ['+79161234567', '+7'],
    ['+442071234567', '+44'],
    ['+4915112345678', '+49'],
    ['+201001234567', '+20'],
    ['+35312345678', '+353'],
    ['+882123456789', '+882'],
    ['+8816123456789', '+881'],
    ['+97150123456', '+971'],
    ['+8613812345678', '+86'],
    ['+85212345678', '+852'],
  ])('%s → %s', (number, code) => {
    expect(countryCode(number)).toBe(code);
  });

  it.each([undefined, '', '15005550006', '+0123', 'client:alice', '+1 500 555 0006'])('%p → undefined', (v) => {
    expect(countryCode(v)).toBeUndefined();
  });
});

describe('dialAllowed', () => {
  it('defaults to the country code of CALLER_ID, and to nothing without one', () => {
    expect(dialAllowed({ CALLER_ID: '+15005550006' })).toEqual(['+1']);
    expect(dialAllowed({ CALLER_ID: '+442071234567', DIAL_ALLOWED: '  ' })).toEqual(['+44']);
    expect(dialAllowed({})).toEqual([]);
  });

  it('takes comma-separated E.164 prefixes', () => {
    expect(dialAllowed({ CALLER_ID: '+15005550006', DIAL_ALLOWED: '+1212, +44,+3460' })).toEqual([
      '+1212',
      '+44',
      '+3460',
    ]);
  });

  it.each(['1', '+', '+0', '+1,', '+1;+44', '*', '+1-212', '+1234567890123456'])(
    'refuses DIAL_ALLOWED=%p as a configuration error naming it',
    (value) => {
      expect(() => dialAllowed({ DIAL_ALLOWED: value })).toThrow(/DIAL_ALLOWED/);
    },
  );

  it('matches by prefix', () => {
    expect(isDialAllowed('+12125550100', ['+1212'])).toBe(true);
    expect(isDialAllowed('+13125550100', ['+1212'])).toBe(false);
    expect(isDialAllowed('+882123456789', ['+1', '+44'])).toBe(false);
    expect(isDialAllowed('+15005550006', [])).toBe(false);
  });

  // NANPA's members other than the US and Canada: each dialled as +1, each an international call.
  const NANP_ABROAD = [
    ['Anguilla', '+12645550100'],
    ['Antigua and Barbuda', '+12685550100'],
    ['Bahamas', '+12425550100'],
    ['Barbados', '+12465550100'],
    ['Bermuda', '+14415550100'],
    ['British Virgin Islands', '+12845550100'],
    ['Cayman Islands', '+13455550100'],
    ['Dominica', '+17675550100'],
    ['Dominican Republic', '+18095550100'],
    ['Dominican Republic', '+18295550100'],
    ['Dominican Republic', '+18495550100'],
    ['Grenada', '+14735550100'],
    ['Jamaica', '+18765550100'],
    ['Jamaica', '+16585550100'],
    ['Montserrat', '+16645550100'],
    ['Saint Kitts and Nevis', '+18695550100'],
    ['Saint Lucia', '+17585550100'],
    ['Saint Vincent and the Grenadines', '+17845550100'],
    ['Sint Maarten', '+17215550100'],
    ['Trinidad and Tobago', '+18685550100'],
    ['Turks and Caicos Islands', '+16495550100'],
  ];

  it.each([
    ...NANP_ABROAD,
    ['premium 900', '+19005550100'],
    ['976 NPA', '+19765550100'],
    ['976 exchange', '+12129761234'],
  ])('keeps %s (%s) out of the +1 default', (_what, number) => {
    expect(countryCode(number)).toBe('+1');
    expect(isDialAllowed(number, dialAllowed({ CALLER_ID: '+15005550006' }))).toBe(false);
    expect(isDialAllowed(number, ['+1'])).toBe(false);
  });

  it('lists exactly the 21 area codes of the 18 NANP members abroad, 900 and 976', () => {
    expect(HIGH_COST_RANGES).toHaveLength(NANP_ABROAD.length + 3);
    for (const [, number] of NANP_ABROAD) expect(HIGH_COST_RANGES).toContain(String(number).slice(0, 5));
  });

  it('still dials the US, Canada and the US territories under +1', () => {
    for (const number of [
      '+12125550100',
      '+14165550100',
      '+17875550100',
      '+13405550100',
      '+16715550100',
      '+12129751234',
    ]) {
      expect(isDialAllowed(number, ['+1'])).toBe(true);
    }
  });

  it('dials a high-cost range that DIAL_ALLOWED names, and only that one', () => {
    expect(isDialAllowed('+18765550100', ['+1', '+1876'])).toBe(true);
    expect(isDialAllowed('+18765550100', ['+1876'])).toBe(true);
    expect(isDialAllowed('+12425550100', ['+1', '+1876'])).toBe(false);
    expect(isDialAllowed('+12129761234', ['+1212'])).toBe(false);
    expect(isDialAllowed('+12129761234', ['+1212976'])).toBe(true);
    expect(isDialAllowed('+19005550100', ['+1900'])).toBe(true);
  });
});

describe('/voice with the allow-list', () => {
  const ENV = { CLIENT_IDENTITY: 'alice', CALLER_ID: '+15005550006' };
  const VOICE_URL = `${LOCAL_BASE}/voice`;
  const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', parseTagValue: false });
  const body = (from: string, to: string) => ({
    AccountSid: accountSid(0x0123456789abcdef0123456789abcdefn),
    CallSid: callSid(0xa),
    CallStatus: 'ringing',
    Direction: 'inbound',
    From: from,
    To: to,
  });
  let logs: string[];
  const voice = async (from: string, to: string, env: Record<string, string> = ENV) => {
    const res = await invoke(handler, makeContext('/voice', env), signedEvent(VOICE_URL, body(from, to)));
    return {
      res,
      twiml: res.statusCode === 200 ? (parser.parse(String(res.body)).Response as Record<string, any>) : {},
    };
  };

  beforeAll(installTwilioGlobal);
  beforeEach(() => {
    logs = [];
    jest.spyOn(console, 'log').mockImplementation((line: string) => logs.push(line));
  });
  afterEach(() => jest.restoreAllMocks());

  it('dials a number in CALLER_ID country code', async () => {
    const { twiml } = await voice('client:bob', '+15557654321');
    expect(twiml.Dial.Number['#text']).toBe('+15557654321');
  });

  it.each(['+882123456789', '+442071234567', '+8816123456789', '+900123456'])(
    'says and hangs up for %s, and logs who tried where',
    async (to) => {
      const { twiml } = await voice('client:bob', to);
      expect(twiml).not.toHaveProperty('Dial');
      expect(twiml.Say).toBe(DIAL_REFUSED_SAY);
      expect(twiml).toHaveProperty('Hangup');
      const line = JSON.parse(logs.find((l) => l.includes('DIAL_ALLOWED'))!);
      expect(line).toMatchObject({ route: '/voice', caller: 'bob', countryCode: countryCode(to) });
      expect(JSON.stringify(line)).not.toContain(to);
    },
  );

  it('says and hangs up for Jamaica and +1900 under the +1 default', async () => {
    expect((await voice('client:bob', '+18765550100')).twiml.Say).toBe(DIAL_REFUSED_SAY);
    expect((await voice('client:bob', '+19005550100')).twiml.Say).toBe(DIAL_REFUSED_SAY);
    const jamaica = { ...ENV, DIAL_ALLOWED: '+1,+1876' };
    expect((await voice('client:bob', '+18765550100', jamaica)).twiml.Dial.Number['#text']).toBe('+18765550100');
  });

  it('follows DIAL_ALLOWED when set', async () => {
    const env = { ...ENV, DIAL_ALLOWED: '+44,+1212' };
    expect((await voice('client:bob', '+442071234567', env)).twiml.Dial.Number['#text']).toBe('+442071234567');
    expect((await voice('client:bob', '+12125550100', env)).twiml.Dial.Number['#text']).toBe('+12125550100');
    expect((await voice('client:bob', '+13125550100', env)).twiml.Say).toBe(DIAL_REFUSED_SAY);
  });

  it('leaves client → client calls and calls to our number alone', async () => {
    const env = { ...ENV, DIAL_ALLOWED: '+44' };
    expect((await voice('client:bob', 'client:alice', env)).twiml.Dial.Client['#text']).toBe('alice');
    expect((await voice('client:bob', 'alice', env)).twiml.Dial.Client['#text']).toBe('alice');
    expect((await voice('+882123456789', '+15005550006', env)).twiml.Dial.Client['#text']).toBe('alice');
  });

  it('answers 500 configuration-invalid for a malformed DIAL_ALLOWED (only when a number is dialled)', async () => {
    const env = { ...ENV, DIAL_ALLOWED: '1,44' };
    expect(
      expectError((await voice('client:bob', '+15557654321', env)).res, 500, 'configuration-invalid').message,
    ).toContain('DIAL_ALLOWED');
    expect((await voice('client:bob', 'client:alice', env)).twiml.Dial.Client['#text']).toBe('alice');
  });
});
