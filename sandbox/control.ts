// The sandbox's control API (JSON under /sandbox, documented in sandbox/README.md; typed client in
// control-client.ts): what tests and people use to drive the simulated phones and network.
import express, { type Request } from 'express';
import type { Sandbox } from './app';
import type { Conference } from './conferences';
import type { Call, CallEngine, Phone } from './engine';
import { compactJson } from '../lib/shared/json-text';
import { TwilioApiError } from './http';
import { applyKnobs, knobsJson } from './knobs';

function phoneJson(engine: CallEngine, phone: Phone) {
  return {
    identity: phone.identity,
    autoAnswer: phone.autoAnswer,
    connected: phone.listeners.size > 0,
    calls: [...phone.calls.values()].map((c) => ({ ...c, status: engine.calls.get(c.callSid)?.status })),
  };
}

function conferenceJson(c: Conference) {
  return {
    name: c.friendlyName,
    sid: c.sid,
    status: c.status,
    reasonEnded: c.reasonEnded,
    participants: [...c.participants.values()].map((p) => ({
      callSid: p.callSid,
      label: p.label ?? null,
      status: p.status,
      hold: p.hold,
      muted: p.muted,
      coaching: p.coaching,
      endConferenceOnExit: p.endConferenceOnExit,
    })),
    /** Conference status callbacks sent (duplicates not counted) and the last SequenceNumber given. */
    eventsSent: c.eventsSent,
    sequence: c.sequence,
  };
}

function callJson(engine: CallEngine, call: Call) {
  const inRoom = engine.conferences.participantOf(call.sid);
  return {
    sid: call.sid,
    parentCallSid: call.parentCallSid ?? null,
    from: call.from,
    to: call.to,
    direction: call.direction,
    status: call.status,
    sdkIdentity: call.sdkIdentity ?? null,
    dialedLeg: call.dialedLeg ?? null,
    subscriptions: call.subscriptions.map((s) => ({
      sid: s.sid,
      callback: s.callback,
      method: s.method,
      removed: s.removed,
    })),
    subscriptionsCreated: engine.subscriptionsCreated.get(call.sid) ?? 0,
    /** SDK messages delivered to the leg's subscriptions (each numbered), and those dropped (no subscription). */
    messagesSentBySdk: call.messageSequence,
    messagesDropped: engine.messagesDropped.get(call.sid) ?? 0,
    /** The conference (room name) the leg is a participant of, and its hold/mute there. */
    ...(inRoom
      ? {
          conference: inRoom.conference.friendlyName,
          hold: inRoom.participant.hold,
          muted: inRoom.participant.muted,
        }
      : {}),
  };
}

/**
 * The control API under /sandbox (sandbox/README.md): phones, phone-network callers, calls, stats,
 * knobs, the clock. JSON in and out; errors in Twilio's shape.
 */
export function createControlRouter(sandbox: Sandbox, extra: { phoneNumberSid: string; functionsUrl: string }) {
  const { engine, webhooks, requests, knobs, clock, gateway, accountSid, authToken, apiKeySid } = sandbox;
  const r = express.Router();
  const body = (req: Request) => (req.body ?? {}) as Record<string, unknown>;
  const text = (v: unknown, name: string) => {
    if (typeof v !== 'string' || v === '') throw new TwilioApiError(400, 20001, `${name} is required`);
    return v;
  };

  r.get('/', (_req, res) => {
    res.json({
      accountSid,
      authToken,
      apiKeySid,
      phoneNumber: sandbox.phoneNumber,
      phoneNumberSid: extra.phoneNumberSid,
      applicationSid: sandbox.applicationSid,
      functionsUrl: extra.functionsUrl,
      restBaseUrl: sandbox.url,
      gatewayUrl: gateway?.url ?? null,
      chunderw: gateway?.chunderw ?? null,
      phones: [...engine.phones.keys()],
    });
  });
  r.get('/gateway', (_req, res) => {
    if (!gateway)
      throw new TwilioApiError(404, 20404, 'The signaling gateway is not running (start the sandbox with gatewayPort)');
    res.json({
      url: gateway.url,
      chunderw: gateway.chunderw,
      devices: gateway.devices(),
      frames: gateway.frames.slice(-200),
    });
  });
  r.get('/functions-gateway', (_req, res) => {
    const functions = sandbox.functionsGateway;
    if (!functions)
      throw new TwilioApiError(
        404,
        20404,
        'The Functions gateway is not running (start the sandbox with functionsGateway)',
      );
    res.json({ url: functions.url, upstream: functions.upstream, requests: functions.records.slice(-200) });
  });
  r.post('/phones', (req, res) => {
    const identity = text(body(req).identity, 'identity');
    res
      .status(201)
      .json(
        phoneJson(
          engine,
          engine.registerPhone(identity, body(req).autoAnswer === true || body(req).autoAnswer === 'true'),
        ),
      );
  });
  r.get('/phones/:identity', (req, res) => {
    // Received content may nest thousands deep (hostile input is normal): serialised without recursion.
    res.type('application/json').send(compactJson(phoneJson(engine, engine.phone(req.params.identity))));
  });
  r.delete('/phones/:identity', (req, res) => {
    engine.phone(req.params.identity);
    engine.phones.delete(req.params.identity);
    res.status(204).end();
  });
  r.post('/phones/:identity/calls', (req, res) => {
    const { to, params, applicationSid } = body(req) as {
      to?: string;
      params?: Record<string, string>;
      applicationSid?: string;
    };
    const call = engine.placeSdkCall(req.params.identity, { ...(params ?? {}), To: text(to, 'to') }, applicationSid);
    res.status(201).json({ callSid: call.sid });
  });
  r.post('/phones/:identity/calls/:callSid/:action', async (req, res) => {
    const { identity, callSid, action } = req.params;
    const phoneCall = engine.phone(identity).calls.get(callSid);
    if (!phoneCall) throw new TwilioApiError(404, 20404, `${identity} has no call ${callSid}`);
    const call = engine.call(callSid);
    if (action === 'answer') engine.answerLeg(call);
    else if (action === 'reject') engine.reject(callSid);
    else if (action === 'hangup') engine.hangup(callSid);
    else if (action === 'messages') {
      const content = body(req).content;
      if (content === undefined) throw new TwilioApiError(400, 20001, 'content is required');
      res.status(201).json(await engine.sendFromSdk(identity, callSid, content));
      return;
    } else throw new TwilioApiError(404, 20404, `Unknown action ${action}`);
    res.json({ callSid, status: call.status });
  });
  r.post('/pstn/calls', (req, res) => {
    const from = text(body(req).from, 'from');
    const call = engine.placeInboundCall(
      from,
      typeof body(req).to === 'string' ? String(body(req).to) : sandbox.phoneNumber,
    );
    res.status(201).json({ callSid: call.sid });
  });
  r.post('/pstn/numbers/:number', (req, res) => {
    const { answer = 'answer', answerDelayMs = 10 } = body(req) as { answer?: string; answerDelayMs?: number };
    if (!['answer', 'busy', 'no-answer', 'failed'].includes(answer))
      throw new TwilioApiError(400, 20001, 'answer must be answer, busy, no-answer or failed');
    engine.pstn.set(req.params.number, { answer: answer as 'answer', answerDelayMs: Number(answerDelayMs) });
    res.json({ number: req.params.number, answer, answerDelayMs: Number(answerDelayMs) });
  });
  r.get('/calls', (_req, res) => {
    res.json({ calls: [...engine.calls.values()].map((c) => callJson(engine, c)) });
  });
  r.get('/calls/:callSid', (req, res) => {
    res.json(callJson(engine, engine.call(req.params.callSid)));
  });
  r.post('/calls/:callSid/hangup', (req, res) => {
    engine.hangup(req.params.callSid);
    res.json(callJson(engine, engine.call(req.params.callSid)));
  });
  r.get('/conferences', (_req, res) => {
    res.json({ conferences: engine.conferences.all.map(conferenceJson) });
  });
  const room = (name: string) => {
    const c = engine.conferences.latestByName(name);
    if (!c) throw new TwilioApiError(404, 20404, `No conference named ${name}`);
    return c;
  };
  r.get('/conferences/:name', (req, res) => {
    res.json(conferenceJson(room(req.params.name)));
  });
  // What an operator does in Twilio's console: hold, unhold, mute, unmute, remove.
  r.post('/conferences/:name/participants/:callSid/:action', (req, res) => {
    const c = room(req.params.name);
    const p = engine.conferences.findParticipant(c, req.params.callSid);
    const { action } = req.params;
    if (action === 'hold' || action === 'unhold') engine.conferences.update(c, p, { hold: action === 'hold' });
    else if (action === 'mute' || action === 'unmute') engine.conferences.update(c, p, { muted: action === 'mute' });
    else if (action === 'remove') engine.conferences.kick(p.callSid);
    else throw new TwilioApiError(404, 20404, `Unknown action ${action}`);
    res.json(conferenceJson(c));
  });
  r.get('/stats', (_req, res) => {
    const counters: Record<string, number> = {};
    for (const rec of requests)
      counters[`${rec.method} /${rec.product}${rec.route}`] =
        (counters[`${rec.method} /${rec.product}${rec.route}`] ?? 0) + 1;
    const webhooksByKind: Record<string, number> = {};
    for (const w of webhooks.log)
      webhooksByKind[`${w.kind} ${w.status ?? 'no-answer'}`] =
        (webhooksByKind[`${w.kind} ${w.status ?? 'no-answer'}`] ?? 0) + 1;
    res.json({
      requests: requests.length,
      counters,
      webhooks: webhooksByKind,
      subscriptionsPerLeg: Object.fromEntries(engine.subscriptionsCreated),
      // SDK messages sent while their leg had no subscription: delivered to nobody, as on Twilio.
      messagesDropped: {
        total: [...engine.messagesDropped.values()].reduce((a, b) => a + b, 0),
        perLeg: Object.fromEntries(engine.messagesDropped),
      },
      statusCallbacksHeld: webhooks.statusOrder.counts,
      debugger: engine.debugger.slice(-50),
    });
  });
  r.get('/log', (_req, res) => {
    res.json({ requests: requests.slice(-500), webhooks: webhooks.log.slice(-500) });
  });
  r.get('/knobs', (_req, res) => {
    res.json(knobsJson(knobs));
  });
  r.post('/knobs', (req, res) => {
    // `profile` first, then each section over it; null switches an optional fault off.
    applyKnobs(knobs, body(req));
    res.json(knobsJson(knobs));
  });
  r.post('/clock', (req, res) => {
    const seconds = Number(body(req).advanceSeconds);
    if (!Number.isFinite(seconds) || seconds < 0)
      throw new TwilioApiError(400, 20001, 'advanceSeconds must be a number ≥ 0');
    clock.advance(seconds * 1000);
    res.json({ now: new Date(clock.now()).toISOString() });
  });
  r.post('/idle', async (_req, res) => {
    await webhooks.idle();
    res.json({ idle: true });
  });
  r.post('/reset', (_req, res) => {
    sandbox.reset();
    res.json({ reset: true });
  });
  return r;
}
