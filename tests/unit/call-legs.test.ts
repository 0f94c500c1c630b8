import {
  routeVoiceCall,
  sdkIdentityOfCall,
  sdkLegsOfStatusCallback,
  isFinalStatus,
  type VoiceRoute,
} from '../../lib/calls/legs';
import { defined } from '../support/narrow';
import { callSid } from '../../testing/sids';

const CONFIG = { inboundIdentity: 'bob', callerId: '+15550001111' };
const PARENT = callSid(0xa);
const CHILD = callSid(0xb);

const refused = (route: VoiceRoute) => {
  if (route.kind !== 'refuse') throw new Error(`expected a refusal, got ${route.kind}`);
  return route;
};

describe('routeVoiceCall', () => {
  it('sends a PSTN call to our number to CLIENT_IDENTITY; the SDK leg is the child', () => {
    const route = routeVoiceCall(
      { Direction: 'inbound', From: '+15557778888', Caller: '+15557778888', To: '+15550001111' },
      CONFIG,
    );
    expect(route).toEqual({ kind: 'client', identity: 'bob', sdkLegs: { child: 'bob' } });
  });

  it('refuses a PSTN call when CLIENT_IDENTITY is not set', () => {
    const route = refused(routeVoiceCall({ From: '+15557778888', To: '+15550001111' }, { callerId: CONFIG.callerId }));
    expect(route.reason).toMatch(/CLIENT_IDENTITY/);
    expect(route.say.length).toBeGreaterThan(0);
  });

  it('refuses a PSTN call when CLIENT_IDENTITY is not a valid identity (its status callbacks could never be matched)', () => {
    for (const inboundIdentity of ['bob smith', 'client:bob', 'x'.repeat(122)]) {
      const route = refused(
        routeVoiceCall({ From: '+15557778888', To: '+15550001111' }, { ...CONFIG, inboundIdentity }),
      );
      expect(route.reason).toMatch(/CLIENT_IDENTITY/);
    }
  });

  it('every identity it dials is one sdkLegsOfStatusCallback accepts back', () => {
    const route = routeVoiceCall({ From: '+15557778888', To: '+15550001111' }, CONFIG);
    if (route.kind !== 'client') throw new Error('expected a client dial');
    const legs = sdkLegsOfStatusCallback({
      CallSid: CHILD,
      ParentCallSid: PARENT,
      cme_sdk: 'child',
      cme_child: route.sdkLegs.child,
    });
    expect(legs.map((l) => l.identity)).toEqual(['bob']);
  });

  it('dials a number from the SDK with CALLER_ID; the SDK leg is the parent', () => {
    const route = routeVoiceCall({ From: 'client:alice', To: '+442071234567' }, CONFIG);
    expect(route).toEqual({
      kind: 'number',
      number: '+442071234567',
      callerId: '+15550001111',
      sdkLegs: { parent: 'alice' },
    });
  });

  it('trims whitespace around To', () => {
    const route = routeVoiceCall({ From: 'client:alice', To: '  +442071234567 ' }, CONFIG);
    expect(route).toMatchObject({ kind: 'number', number: '+442071234567' });
  });

  it('uses Caller when From is not a client address', () => {
    const route = routeVoiceCall({ From: '', Caller: 'client:alice', To: 'client:bob' }, CONFIG);
    expect(route).toEqual({ kind: 'client', identity: 'bob', sdkLegs: { parent: 'alice', child: 'bob' } });
  });

  it('refuses an SDK call to a number when CALLER_ID is not set', () => {
    const route = refused(routeVoiceCall({ From: 'client:alice', To: '+442071234567' }, { inboundIdentity: 'bob' }));
    expect(route.reason).toMatch(/CALLER_ID/);
  });

  it('dials client:bob from the SDK: both legs are SDK legs', () => {
    expect(routeVoiceCall({ From: 'client:alice', To: 'client:bob' }, CONFIG)).toEqual({
      kind: 'client',
      identity: 'bob',
      sdkLegs: { parent: 'alice', child: 'bob' },
    });
  });

  it('takes a bare identity as a client', () => {
    expect(routeVoiceCall({ From: 'client:alice', To: 'carol.smith-2_x' }, CONFIG)).toEqual({
      kind: 'client',
      identity: 'carol.smith-2_x',
      sdkLegs: { parent: 'alice', child: 'carol.smith-2_x' },
    });
  });

  it('does not need CALLER_ID for client calls', () => {
    expect(routeVoiceCall({ From: 'client:alice', To: 'bob' }, {})).toMatchObject({ kind: 'client', identity: 'bob' });
  });

  it.each([
    ['digits without +', '15551234567'],
    ['a + number that is not E.164', '+0123'],
    ['too many digits', '+1234567890123456'],
    ['spaces inside', 'bob smith'],
    ['a client address with a bad identity', 'client:bob smith'],
    ['an empty client address', 'client:'],
    ['markup', '<Say>hi</Say>'],
    ['a SIP URI', 'sip:bob@example.com'],
  ])('refuses a garbage To: %s', (_what, to) => {
    const route = refused(routeVoiceCall({ From: 'client:alice', To: to }, CONFIG));
    expect(route.reason).toBe('To is neither an E.164 number nor a client identity');
  });

  it.each([undefined, '', '   ', 42, ['client:bob']])('refuses a missing or non-string To: %p', (to) => {
    const route = refused(routeVoiceCall({ From: 'client:alice', To: to }, CONFIG));
    expect(route.reason).toBe('To is missing');
  });

  it('does not treat a malformed client From as an SDK call', () => {
    // client:<bad identity> is not an SDK caller: it is routed as a call to our number.
    expect(routeVoiceCall({ From: 'client:a b', To: '+15550001111' }, CONFIG)).toMatchObject({
      kind: 'client',
      identity: 'bob',
    });
  });
});

describe('sdkLegsOfStatusCallback', () => {
  const base = { CallSid: CHILD, ParentCallSid: PARENT, From: 'client:alice', To: '+442071234567' };

  it('returns the parent leg of an SDK call out (peer = To)', () => {
    expect(sdkLegsOfStatusCallback({ ...base, cme_sdk: 'parent', cme_parent: 'alice' })).toEqual([
      { callSid: PARENT, role: 'parent', identity: 'alice', peer: '+442071234567', parentCallSid: PARENT },
    ]);
  });

  it('returns the child leg of a call into the SDK (peer = From)', () => {
    const event = {
      CallSid: CHILD,
      ParentCallSid: PARENT,
      From: '+15557778888',
      To: 'client:bob',
      cme_sdk: 'child',
      cme_child: 'bob',
    };
    expect(sdkLegsOfStatusCallback(event)).toEqual([
      { callSid: CHILD, role: 'child', identity: 'bob', peer: '+15557778888', parentCallSid: PARENT },
    ]);
  });

  it('returns both legs of a client → client call', () => {
    const event = {
      CallSid: CHILD,
      ParentCallSid: PARENT,
      From: 'client:alice',
      To: 'client:bob',
      cme_sdk: 'both',
      cme_parent: 'alice',
      cme_child: 'bob',
    };
    expect(sdkLegsOfStatusCallback(event)).toEqual([
      { callSid: PARENT, role: 'parent', identity: 'alice', peer: 'client:bob', parentCallSid: PARENT },
      { callSid: CHILD, role: 'child', identity: 'bob', peer: 'client:alice', parentCallSid: PARENT },
    ]);
  });

  it('ignores an identity for a leg cme_sdk does not name', () => {
    const legs = sdkLegsOfStatusCallback({ ...base, cme_sdk: 'parent', cme_parent: 'alice', cme_child: 'bob' });
    expect(legs.map((l) => l.role)).toEqual(['parent']);
  });

  it.each([
    ['no CallSid', { ...base, CallSid: undefined }],
    ['no ParentCallSid', { ...base, ParentCallSid: undefined }],
    ['a malformed CallSid', { ...base, CallSid: 'CA123' }],
    ['an uppercase-hex ParentCallSid', { ...base, ParentCallSid: 'CA' + 'A'.repeat(32) }],
  ])('returns no legs with %s', (_what, event) => {
    expect(sdkLegsOfStatusCallback({ ...event, cme_sdk: 'both', cme_parent: 'alice', cme_child: 'bob' })).toEqual([]);
  });

  it('returns no legs without the cme_* keys, or with bad ones', () => {
    expect(sdkLegsOfStatusCallback(base)).toEqual([]);
    expect(sdkLegsOfStatusCallback({ ...base, cme_sdk: 'sideways', cme_parent: 'alice' })).toEqual([]);
    expect(sdkLegsOfStatusCallback({ ...base, cme_sdk: 'parent' })).toEqual([]);
    expect(sdkLegsOfStatusCallback({ ...base, cme_sdk: 'parent', cme_parent: 'not valid!' })).toEqual([]);
    expect(sdkLegsOfStatusCallback({ ...base, cme_sdk: 'child', cme_child: ['bob'] })).toEqual([]);
  });

  it('uses an empty peer when From/To are absent', () => {
    const [leg] = sdkLegsOfStatusCallback({
      CallSid: CHILD,
      ParentCallSid: PARENT,
      cme_sdk: 'child',
      cme_child: 'bob',
    });
    expect(defined(leg).peer).toBe('');
  });
});

describe('isFinalStatus', () => {
  it('knows the final call statuses', () => {
    for (const s of ['completed', 'busy', 'failed', 'no-answer', 'canceled']) expect(isFinalStatus(s)).toBe(true);
    for (const s of ['queued', 'initiated', 'ringing', 'in-progress', '', undefined])
      expect(isFinalStatus(s)).toBe(false);
  });
});

describe('sdkIdentityOfCall', () => {
  it.each([
    ['the call an SDK placed', { from: 'client:alice', to: '', direction: 'inbound' }, 'alice'],
    ['a <Dial> child to an SDK', { from: '+15551230000', to: 'client:bob', direction: 'outbound-dial' }, 'bob'],
    [
      "client → client: the callee's child shows the caller's From",
      { from: 'client:alice', to: 'client:bob', direction: 'outbound-dial' },
      'bob',
    ],
    [
      'a <Dial> child to a number, placed by an SDK',
      { from: 'client:alice', to: '+15557770000', direction: 'outbound-dial' },
      undefined,
    ],
    ['a phone call in to our number', { from: '+15551230000', to: '+15550001111', direction: 'inbound' }, undefined],
    ['an address that is no identity', { from: 'client:a b', to: null, direction: 'inbound' }, undefined],
  ])('%s', (_what, call, identity) => {
    expect(sdkIdentityOfCall(call)).toBe(identity);
  });
});
