// Issue 22, Must 4: every backend route's real answers, success and error, over real twilio-run and
// the sandbox, match the OpenAPI 3.1 document served as an asset (/openapi.json, generated from the
// route contracts): each answer's status is documented for its operation, and its JSON body is
// valid against that response's schema (JSON Schema 2020-12, ajv).
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { callMessages, keyPost, sendMessage, signedPost, type FunctionsResponse } from '../../client/src';
import { SIGN_IN_SLOWING } from '../../lib/auth/throttle';
import { BACKEND_ROUTES } from '../../lib/shared/openapi';
import { SANDBOX_DEFAULTS } from '../../sandbox/defaults';
import { answeredLeg, useTestStack } from '../support/stack';
import { callSid } from '../../testing/sids';
import { roomOf } from '../../lib/calls/conference';
import { waitFor } from '../../testing/stack';

const READER = `reader.${'r'.repeat(40)}`;
const stack = useTestStack({
  // Conference mode on request: the phone call below stays bridged; the conference test asks for a room.
  env: { BACKEND_API_KEYS: `send+read:${SANDBOX_DEFAULTS.backendKey} read:${READER}`, CONFERENCE_MODE: 'on-request' },
});
const key = () => ({ baseUrl: stack.functionsUrl, apiKey: SANDBOX_DEFAULTS.backendKey });

type Json = Record<string, unknown>;
let doc: Json;
let ajv: Ajv2020;
/** Every answer checked: route, method, status, and what was wrong with it (nothing, for a pass). */
const checked: { path: string; method: string; status: number; problems: string[] }[] = [];

function conforms(path: string, method: 'get' | 'post', res: { status: number; body: unknown }) {
  const pointer = `#/paths/${path.replace(/\//g, '~1')}/${method}/responses/${res.status}`;
  const response = ajv.getSchema(`openapi.json${pointer}/content/application~1json/schema`);
  const problems: string[] = [];
  if (!response) problems.push(`status ${res.status} is not documented for ${method.toUpperCase()} ${path}`);
  else if (!response(res.body)) problems.push(ajv.errorsText(response.errors));
  checked.push({ path, method, status: res.status, problems });
  return problems;
}
const expectConforms = (
  path: string,
  method: 'get' | 'post',
  res: FunctionsResponse | { status: number; body: unknown },
) =>
  expect({ path, method, status: res.status, problems: conforms(path, method, res) }).toEqual({
    path,
    method,
    status: res.status,
    problems: [],
  });

let leg: string;
beforeAll(async () => {
  const served = await fetch(`${stack.functionsUrl}/openapi.json`);
  if (served.status !== 200) throw new Error(`/openapi.json answered ${served.status}`);
  doc = (await served.json()) as Json;
  ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema(doc, 'openapi.json');
  const ctl = stack.control;
  leg = await answeredLeg(ctl, 'alice', '+15551239071');
  await ctl.sendFromPhone('alice', leg, { from: 'sdk', n: [1, 2, 3] });
}, 60_000);

it('/backend-send: 201, 200 (a repeat), 400s, 404, 409, 401, 403', async () => {
  const path = '/backend-send';
  const sent = await sendMessage(key(), { callSid: leg, content: { a: 1 }, idempotencyKey: 'openapi-1' });
  expect(sent.status).toBe(201);
  expectConforms(path, 'post', sent);
  const again = await sendMessage(key(), { callSid: leg, content: { a: 1 }, idempotencyKey: 'openapi-1' });
  expect(again.status).toBe(200);
  expectConforms(path, 'post', again);
  const answers = [
    await keyPost(key(), path, { callSid: leg, content: 'not json' }),
    await keyPost(key(), path, { content: '{}' }),
    await keyPost(key(), path, { callSid: 'CA-nope', content: '{}' }),
    await keyPost(key(), path, { callSid: callSid(0xdead), content: '{}' }),
    await keyPost(key(), path, { callSid: leg, content: '{"a":2}', idempotencyKey: 'openapi-1' }),
    await keyPost({ baseUrl: stack.functionsUrl, apiKey: `nobody.${'x'.repeat(40)}` }, path, { content: '{}' }),
    await keyPost({ baseUrl: stack.functionsUrl, apiKey: READER }, path, { callSid: leg, content: '{}' }),
  ];
  expect(answers.map((a) => a.status)).toEqual([400, 400, 400, 404, 409, 401, 403]);
  for (const res of answers) expectConforms(path, 'post', res);
});

it('/backend-messages: 200 by POST and GET, 400, 404, 401, 429', async () => {
  const path = '/backend-messages';
  const page = await callMessages(key(), leg, { pageSize: 100 });
  expect(page.status).toBe(200);
  expect(page.body.messages.length).toBeGreaterThanOrEqual(2);
  expectConforms(path, 'post', page);
  const viaGet = await fetch(`${stack.functionsUrl}${path}?callSid=${leg}&order=asc`, {
    headers: { Authorization: `Bearer ${SANDBOX_DEFAULTS.backendKey}` },
  });
  expect(viaGet.status).toBe(200);
  expectConforms(path, 'get', { status: viaGet.status, body: await viaGet.json() });
  const answers = [
    await keyPost(key(), path, { callSid: 'nope' }),
    await keyPost(key(), path, { callSid: leg, pageSize: '0' }),
    await keyPost(key(), path, { callSid: callSid(0xbeef) }),
    await keyPost({ baseUrl: stack.functionsUrl, apiKey: 'garbage' }, path, { callSid: leg }),
  ];
  expect(answers.map((a) => a.status)).toEqual([400, 400, 404, 401]);
  for (const res of answers) expectConforms(path, 'post', res);
  const wrong = { baseUrl: stack.functionsUrl, apiKey: `reader.${'w'.repeat(40)}` };
  for (let i = 0; i < SIGN_IN_SLOWING.freeFailures; i++)
    expect((await keyPost(wrong, path, { callSid: leg })).status).toBe(401);
  const locked = await keyPost({ baseUrl: stack.functionsUrl, apiKey: READER }, path, { callSid: leg });
  expect(locked.status).toBe(429);
  expectConforms(path, 'post', locked);
});

it('/send-message and /call-messages (Twilio-signed): their answers too', async () => {
  const sent = await sendMessage(stack.fn, { callSid: leg, content: { signed: true } });
  expect(sent.status).toBe(201);
  expectConforms('/send-message', 'post', sent);
  const bad = await signedPost(stack.fn, '/send-message', { callSid: leg, content: '[1]' });
  expect(bad.status).toBe(400);
  expectConforms('/send-message', 'post', bad);
  const page = await callMessages(stack.fn, leg);
  expect(page.status).toBe(200);
  expectConforms('/call-messages', 'post', page);
  const missing = await callMessages(stack.fn, callSid(0xfeed));
  expect(missing.status).toBe(404);
  expectConforms('/call-messages', 'post', missing);
});

it('the conference routes (Twilio-signed and by key): their answers too', async () => {
  const ctl = stack.control;
  await ctl.registerPhone('oa-caller');
  await ctl.registerPhone('oa-callee', { autoAnswer: true });
  const caller = (await ctl.placeCall('oa-caller', 'client:oa-callee', { cmeMode: 'conference' })).callSid;
  const conference = roomOf(caller);
  await waitFor(async () => (await ctl.call(caller)).subscriptions.length > 0 || undefined, 'the caller subscribed');
  await ctl.idle();
  const sent = await signedPost(stack.fn, '/conference-send', {
    conference,
    content: '{"all":1}',
    idempotencyKey: 'oa',
  });
  expect(sent.status).toBe(201);
  expectConforms('/conference-send', 'post', sent);
  const unkeyed = await signedPost(stack.fn, '/conference-send', { conference, content: '{"all":1}' });
  expect(unkeyed.status).toBe(400);
  expectConforms('/conference-send', 'post', unkeyed);
  const page = await signedPost(stack.fn, '/conference-messages', { conference, as: 'oa-caller' });
  expect(page.status).toBe(200);
  expectConforms('/conference-messages', 'post', page);
  const missing = await signedPost(stack.fn, '/conference-messages', { conference: roomOf(callSid(0xfeed)) });
  expect(missing.status).toBe(404);
  expectConforms('/conference-messages', 'post', missing);
  const held = await signedPost(stack.fn, '/conference-participant', {
    conference,
    action: 'hold',
    identity: 'oa-callee',
  });
  expect(held.status).toBe(200);
  expectConforms('/conference-participant', 'post', held);
  const unknown = await signedPost(stack.fn, '/conference-participant', {
    conference,
    action: 'kick',
    callSid: caller,
  });
  expect(unknown.status).toBe(400);
  expectConforms('/conference-participant', 'post', unknown);
  for (const body of [
    { conference, action: 'messages' },
    { conference, action: 'room' },
    { conference, action: 'unhold', identity: 'oa-callee' },
    { conference, action: 'send', content: '{"key":1}', idempotencyKey: 'oa-key' },
  ]) {
    const res = await keyPost(key(), '/backend-conference', body);
    expect(res.status).toBeLessThan(300);
    expectConforms('/backend-conference', 'post', res);
  }
  const unknownRoom = await keyPost(key(), '/backend-conference', { conference: 'no-room', action: 'messages' });
  expect(unknownRoom.status).toBe(400);
  expectConforms('/backend-conference', 'post', unknownRoom);
  await ctl.hangupCall(caller);
});

it('held every backend route of the document to it, with a success and an error each', () => {
  expect(doc.openapi).toBe('3.1.0');
  for (const path of BACKEND_ROUTES) {
    const statuses = checked.filter((c) => c.path === path).map((c) => c.status);
    expect({ path, success: statuses.some((s) => s < 300), error: statuses.some((s) => s >= 400) }).toEqual({
      path,
      success: true,
      error: true,
    });
  }
});
