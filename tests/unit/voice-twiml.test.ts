import { XMLParser } from 'fast-xml-parser';
import { voiceTwiml } from '../../lib/calls/voice-twiml';

type Node = Record<string, unknown>;
const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  parseAttributeValue: false,
});

function parse(xml: string): Node {
  expect(xml.startsWith('<?xml')).toBe(true);
  return parser.parse(xml).Response as Node;
}

/** The one noun inside <Dial>, and the <Dial> itself. */
function dialed(xml: string, noun: 'Client' | 'Number') {
  const response = parse(xml);
  expect(Object.keys(response)).toEqual(['Dial']);
  const dial = response.Dial as Node;
  const nouns = Object.keys(dial).filter((k) => !k.startsWith('@'));
  expect(nouns).toEqual([noun]);
  return { dial, noun: dial[noun] as Node };
}

function statusCallbackOf(noun: Node): URL {
  expect(noun['@statusCallbackMethod']).toBe('POST');
  const events = String(noun['@statusCallbackEvent']).split(' ');
  expect(events).toEqual(expect.arrayContaining(['initiated', 'ringing', 'answered', 'completed']));
  return new URL(String(noun['@statusCallback']));
}

describe('voiceTwiml', () => {
  it('dials the client for a call to our number; its status callback names the child leg', () => {
    const { dial, noun } = dialed(
      voiceTwiml({ kind: 'client', identity: 'bob', sdkLegs: { child: 'bob' } }, 'https://cme-1234.twil.io'),
      'Client',
    );
    expect(dial['@answerOnBridge']).toBe('true');
    expect(dial['@callerId']).toBeUndefined();
    expect(noun['#text']).toBe('bob');
    const url = statusCallbackOf(noun);
    expect(url.origin + url.pathname).toBe('https://cme-1234.twil.io/call-status');
    expect([...url.searchParams]).toEqual([
      ['cme_sdk', 'child'],
      ['cme_child', 'bob'],
    ]);
  });

  it('dials a number with callerId for an SDK call out; its status callback names the parent leg', () => {
    const xml = voiceTwiml(
      { kind: 'number', number: '+442071234567', callerId: '+15550001111', sdkLegs: { parent: 'alice' } },
      'http://localhost:3000',
    );
    const { dial, noun } = dialed(xml, 'Number');
    expect(dial['@callerId']).toBe('+15550001111');
    expect(dial['@answerOnBridge']).toBe('true');
    expect(noun['#text']).toBe('+442071234567');
    const url = statusCallbackOf(noun);
    expect(url.href.startsWith('http://localhost:3000/call-status?')).toBe(true);
    expect([...url.searchParams]).toEqual([
      ['cme_sdk', 'parent'],
      ['cme_parent', 'alice'],
    ]);
  });

  it('marks both legs of a client → client call', () => {
    const { noun } = dialed(
      voiceTwiml({ kind: 'client', identity: 'bob', sdkLegs: { parent: 'alice', child: 'bob' } }, 'https://x.example'),
      'Client',
    );
    expect(noun['#text']).toBe('bob');
    expect(Object.fromEntries(statusCallbackOf(noun).searchParams)).toEqual({
      cme_sdk: 'both',
      cme_parent: 'alice',
      cme_child: 'bob',
    });
  });

  it('escapes the status callback URL as XML (the & survives parsing)', () => {
    const xml = voiceTwiml(
      { kind: 'client', identity: 'bob', sdkLegs: { parent: 'alice', child: 'bob' } },
      'https://x.example',
    );
    expect(xml).toContain('cme_sdk=both&amp;cme_parent=alice');
  });

  it('passes custom parameters to a client as <Parameter> beside an <Identity>, escaped', () => {
    const xml = voiceTwiml(
      { kind: 'client', identity: 'bob', sdkLegs: { parent: 'alice', child: 'bob' } },
      'https://x.example',
      [
        { name: 'topic', value: 'billing & <refunds> "now"' },
        { name: 'ticket_id', value: '' },
      ],
    );
    const { noun } = dialed(xml, 'Client');
    expect(noun['#text']).toBeUndefined();
    expect(noun.Identity).toBe('bob');
    expect(noun.Parameter).toEqual([
      { '@name': 'topic', '@value': 'billing & <refunds> "now"' },
      { '@name': 'ticket_id', '@value': '' },
    ]);
    expect(statusCallbackOf(noun).pathname).toBe('/call-status');
  });

  it('keeps the bare <Client>identity</Client> when there are no parameters', () => {
    const xml = voiceTwiml({ kind: 'client', identity: 'bob', sdkLegs: { child: 'bob' } }, 'https://x.example', []);
    expect(xml).toContain('>bob</Client>');
    expect(xml).not.toContain('<Parameter');
  });

  it('says why and hangs up for a refused call, without dialing', () => {
    const response = parse(
      voiceTwiml(
        { kind: 'refuse', reason: 'CALLER_ID is not set', say: 'Calls to phone numbers are not set up yet.' },
        'https://x.example',
      ),
    );
    expect(response.Say).toBe('Calls to phone numbers are not set up yet.');
    expect(response).toHaveProperty('Hangup');
    expect(response).not.toHaveProperty('Dial');
  });
});
