// Issue 22, Must 2: forwarded events are Standard Webhooks, checked by the specification's own npm
// verifier (`standardwebhooks`, which no one here wrote), over real twilio-run and the sandbox:
// a message, call.started and call.ended, each under its stable webhook-id, signed with both
// secrets while APP_WEBHOOK_SECRET rotates (each verifies alone), and refused tampered.
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { startExampleBackend, type ExampleBackend } from '../../scripts/example-backend';
import { waitFor } from '../../testing/stack';
import { answeredLeg, useTestStack } from '../support/stack';

const NEW = `whsec_${Buffer.alloc(32, 0x4e).toString('base64')}`;
const OLD = `whsec_${Buffer.alloc(48, 0x4f).toString('base64')}`;

let backend: ExampleBackend;
const requests: { raw: Buffer; headers: Record<string, string | string[] | undefined> }[] = [];

beforeAll(async () => {
  // The example backend holds both secrets too (the client's verifier takes several).
  backend = await startExampleBackend({
    secret: `${NEW} ${OLD}`,
    onRequest: (raw, headers) => requests.push({ raw, headers }),
  });
});
afterAll(() => backend?.close());

const stack = useTestStack(() => ({ env: { ...backend.env, APP_WEBHOOK_SECRET: `${NEW} ${OLD}` } }));

/** The headers as a plain object of strings, what the npm verifier reads. */
const headersOf = (r: (typeof requests)[number]) =>
  Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]));
const eventWithId = (id: string) =>
  waitFor(async () => requests.find((r) => r.headers['webhook-id'] === id), `the event ${id}`);

let leg: string;
beforeAll(async () => {
  const ctl = stack.control;
  leg = await answeredLeg(ctl, 'alice', '+15551239041');
}, 60_000);

it('a message, the first of its leg, costs 1 Sync read + 1 Sync write + the delivery', async () => {
  await stack.control.idle();
  const before = stack.sandbox.requests.length;
  const sent = await stack.control.sendFromPhone('alice', leg, { first: 'of its leg' });
  await stack.control.idle();
  const sync = stack.sandbox.requests.slice(before).filter((r) => r.product === 'sync');
  expect({
    reads: sync.filter((r) => r.method === 'GET').length,
    writes: sync.filter((r) => r.method !== 'GET').length,
    other: stack.sandbox.requests.slice(before).filter((r) => r.product !== 'sync').length,
  }).toEqual({ reads: 1, writes: 1, other: 0 });
  expect(backend.stats.delivered[sent.voiceEventSid]).toBe(1);
});

it('a message: webhook-id is its Sid, one v1 signature per secret, each accepted by the npm verifier alone', async () => {
  const sent = await stack.control.sendFromPhone('alice', leg, { hello: 'standard webhooks' });
  const request = await eventWithId(sent.voiceEventSid);
  const headers = headersOf(request);
  expect(headers['webhook-signature']?.split(' ')).toHaveLength(2);
  expect(headers['idempotency-key']).toBe(sent.voiceEventSid);
  expect(headers['x-cme-signature']).toBeUndefined();
  for (const secret of [NEW, OLD]) {
    expect(new Webhook(secret).verify(request.raw.toString('utf8'), headers)).toMatchObject({
      type: 'call.message',
      callSid: leg,
      identity: 'alice',
      sid: sent.voiceEventSid,
      content: { hello: 'standard webhooks' },
    });
  }
  const tampered = request.raw.toString('utf8').replace('standard webhooks', 'standard webhookz');
  expect(() => new Webhook(NEW).verify(tampered, headers)).toThrow(WebhookVerificationError);
  expect(() => new Webhook(NEW).verify(request.raw.toString('utf8'), { ...headers, 'webhook-id': 'KXother' })).toThrow(
    WebhookVerificationError,
  );
  const stranger = `whsec_${Buffer.alloc(32, 1).toString('base64')}`;
  expect(() => new Webhook(stranger).verify(request.raw.toString('utf8'), headers)).toThrow(WebhookVerificationError);
  expect(backend.stats.refused).toBe(0);
});

it('call.started and call.ended: webhook-id <CallSid>:call.<event>, accepted by the npm verifier', async () => {
  const started = await eventWithId(`${leg}:call.started`);
  expect(new Webhook(NEW).verify(started.raw.toString('utf8'), headersOf(started))).toMatchObject({
    type: 'call.started',
    callSid: leg,
    identity: 'alice',
  });
  await stack.control.hangup('alice', leg);
  const ended = await eventWithId(`${leg}:call.ended`);
  expect(new Webhook(OLD).verify(ended.raw.toString('utf8'), headersOf(ended))).toMatchObject({
    type: 'call.ended',
    callSid: leg,
  });
});
