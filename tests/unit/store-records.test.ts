// lib/store/records.ts and what the stores do with an item they cannot read: the parsers take what
// the stores write and refuse what they rely on being otherwise; a read never fails on such an item.
import { CallStore, inboundKey, legMapName, type StoredMessage } from '../../lib/store/call-store';
import {
  apiLegState,
  apiMessage,
  parseAgentRecord,
  parseLegState,
  parseMessageHead,
  parseSendClaim,
  parseThrottleCounter,
  type StoredLegState,
} from '../../lib/store/records';
import { FROM_SDK_KEY_PATTERN } from '../../lib/store/keys';
import { AGENTS_MAP, AgentStore, newAgentRecord } from '../../lib/auth/agents';
import { counterName, SignInThrottle } from '../../lib/auth/throttle';
import type { SdkLeg } from '../../lib/calls/legs';
import { startSyncSandbox, type SyncSandbox } from '../support/sync-sandbox';

const LEG = 'CA' + 'd'.repeat(32);
const kx = (n: number) => 'KX' + n.toString(16).padStart(32, '0');

const state: StoredLegState = {
  callSid: LEG,
  parentCallSid: LEG,
  role: 'parent',
  identity: 'alice',
  peer: '+15550100000',
  status: 'in-progress',
  updatedAt: '2026-12-06T10:00:00.000Z',
  subscription: { status: 'subscribed', at: '2026-12-06T10:00:00.000Z', by: 'ringing', sid: 'ZY1' },
};
const message: StoredMessage = {
  sid: kx(1),
  callSid: LEG,
  direction: 'from-sdk',
  sequence: 1,
  contentType: 'application/json',
  content: '{"n":1}',
  timestamp: '2026-12-06T10:00:01.000Z',
  forwarded: false,
};

describe('parsers', () => {
  it('read back exactly what the stores write', async () => {
    expect(parseLegState(state)).toStrictEqual(state);
    expect(parseMessageHead({ ...message, parts: 2 })).toStrictEqual({ ...message, parts: 2 });
    expect(parseSendClaim({ sentAtMs: 5, contentHash: 'h', sent: true, sid: null })).toStrictEqual({
      sentAtMs: 5,
      contentHash: 'h',
      sent: true,
      sid: null,
    });
    const agent = await newAgentRecord('alice', 'Alice', 'a long enough password');
    expect(parseAgentRecord(agent)).toStrictEqual(agent);
    const counter = { count: 2, lockedUntil: 'x', forgetAt: 'y' };
    expect(parseThrottleCounter(counter)).toStrictEqual(counter);
  });

  it('refuse data missing a field the code relies on', () => {
    for (const data of [null, 'state', [], { ...state, status: 'paused' }, { ...state, callSid: 1 }]) {
      expect(parseLegState(data)).toBeUndefined();
    }
    for (const data of [
      { ...message, content: 7 },
      { ...message, direction: 'up' },
      { ...message, parts: 1e9 },
    ]) {
      expect(parseMessageHead(data)).toBeUndefined();
    }
    expect(parseSendClaim({ sentAtMs: '5' })).toBeUndefined();
    expect(parseThrottleCounter({ count: 'many', lockedUntil: 'x', forgetAt: 'y' })).toBeUndefined();
    expect(parseThrottleCounter({ count: 2, until: 'x' })).toBeUndefined();
    expect(parseAgentRecord({ identity: 'alice' })).toBeUndefined();
  });

  it('leave out an optional field of the wrong type, and a subscription record that does not parse', () => {
    expect(parseMessageHead({ ...message, forwarded: 'yes' })).not.toHaveProperty('forwarded');
    expect(parseLegState({ ...state, subscription: { status: 'maybe' } })).not.toHaveProperty('subscription');
  });

  it('map to the API shapes field by field, leaving nothing undefined behind', () => {
    const { subscription: _subscription, ...bare } = state;
    expect(apiLegState(state)).toStrictEqual(state);
    expect(apiLegState(bare)).toStrictEqual(bare);
    expect(apiMessage(message)).toStrictEqual(message);
  });

  it('read back and answer the irregular flags of a message, keeping only known ones', () => {
    const odd: StoredMessage = { ...message, sid: 'CM-ios', content: 'hi', irregular: ['sid', 'content'] };
    expect(parseMessageHead(odd)).toStrictEqual(odd);
    expect(apiMessage(odd)).toStrictEqual(odd);
    expect(parseMessageHead({ ...message, irregular: ['sid', 'made-up', 3] })).toMatchObject({ irregular: ['sid'] });
    expect(parseMessageHead({ ...message, irregular: ['made-up'] })).not.toHaveProperty('irregular');
    expect(parseMessageHead({ ...message, irregular: 'sid' })).not.toHaveProperty('irregular');
  });

  it('key a message whose Sid is not KX + 32 hex by a hash of it, in the key pattern', () => {
    expect(inboundKey(1, kx(1))).toBe(`from-sdk.0000000001.${kx(1)}`);
    const odd = inboundKey(1, 'CM-ios');
    expect(odd).toMatch(FROM_SDK_KEY_PATTERN);
    expect(odd).toBe(inboundKey(1, 'CM-ios'));
    expect(odd).not.toBe(inboundKey(1, 'CM-ios2'));
    expect(inboundKey(1, '')).toMatch(FROM_SDK_KEY_PATTERN);
    expect(inboundKey(1, `KX${'A'.repeat(32)}`)).not.toBe(`from-sdk.0000000001.KX${'A'.repeat(32)}`);
  });
});

describe('an unreadable item in Sync', () => {
  let sandbox: SyncSandbox;
  let store: CallStore;
  const service = () => sandbox.client.sync.v1.services('default');
  const items = () => service().syncMaps(legMapName(LEG)).syncMapItems;
  const leg: SdkLeg = { callSid: LEG, role: 'parent', identity: 'alice', peer: '+15550100000', parentCallSid: LEG };

  beforeAll(async () => {
    sandbox = await startSyncSandbox();
    store = new CallStore(sandbox.client, { syncServiceSid: 'default', finishedCallTtl: 600, activeCallTtl: 3600 });
  });
  afterAll(() => sandbox.close());
  beforeEach(async () => {
    sandbox.reset();
    await store.ensureLegMap(LEG);
    jest.spyOn(console, 'log').mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());

  it('reads as no state, is left out of the history (logged), and is replaced by a fresh claim', async () => {
    await items().create({ key: 'state', data: { status: 42 } });
    await items().create({ key: inboundKey(1, kx(1)), data: { content: 'no head' } });
    expect(await store.saveInbound({ ...message, sequence: 2, sid: kx(2) })).toBe('stored');
    expect(await store.readState(LEG)).toBeUndefined();
    const page = await store.readHistory(LEG, { order: 'asc' }, 10);
    expect(page?.state).toBeUndefined();
    expect(page?.messages.map((m) => m.message.sid)).toEqual([kx(2)]);
    expect(console.log).toHaveBeenCalledWith(expect.stringContaining(`"unreadable":"${inboundKey(1, kx(1))}"`));
    expect((await store.claimSubscription(leg, 'ringing', new Date())).action).toBe('subscribe');
    expect((await store.readState(LEG))?.subscription?.status).toBe('claimed');
  });

  it('counts as stored when it is a message head (its forwarding unknown)', async () => {
    await items().create({ key: inboundKey(1, kx(1)), data: { forwarded: false } });
    expect(await store.readInbound(LEG, 1, kx(1))).toEqual({ key: inboundKey(1, kx(1)) });
  });

  it('counts as no agent, and as no sign-in counter', async () => {
    const agents = new AgentStore(sandbox.client, { syncServiceSid: 'default' });
    await agents.create(await newAgentRecord('alice', 'Alice', 'a long enough password'));
    await service()
      .syncMaps(AGENTS_MAP)
      .syncMapItems.create({ key: 'mallory', data: { identity: 'mallory' } });
    expect((await agents.list()).map((a) => a.identity)).toEqual(['alice']);
    expect(await agents.get('mallory')).toBeUndefined();

    const name = counterName('operator');
    await service().documents.create({ uniqueName: name, data: { count: 'lots' } });
    await new SignInThrottle(sandbox.client, { syncServiceSid: 'default' }).begin('operator');
    expect((await service().documents(name).fetch()).data.count).toBe(1);
  });
});
