// Twilio REST 2010-04-01 subset: Calls, UserDefinedMessages, UserDefinedMessageSubscriptions,
// IncomingPhoneNumbers and Applications, shaped as twilio-oai describes them.
import express, { type Request } from 'express';
import type { Application, Call, CallEngine, OwnedNumber } from '../engine';
import { pageParams, rfc2822, TwilioApiError } from '../http';

const API = '/2010-04-01';

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : Array.isArray(value) ? String(value[value.length - 1]) : undefined;
}

function list(value: unknown): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).flatMap((v) => String(v).split(/\s+/)).filter(Boolean);
}

/** One page of a 2010-04-01 list, with its paging fields. */
export function page<T>(req: Request, key: string, all: T[], toJson: (t: T) => unknown, path: string) {
  const { pageSize, page } = pageParams(req.query);
  const start = page * pageSize;
  const items = all.slice(start, start + pageSize);
  const filters = new URLSearchParams(
    Object.entries(req.query).filter(([k]) => !['Page', 'PageSize', 'PageToken'].includes(k)) as [string, string][],
  );
  const uri = (p: number) =>
    `${path}?${new URLSearchParams([...filters, ['PageSize', String(pageSize)], ['Page', String(p)]]).toString()}`;
  return {
    [key]: items.map(toJson),
    end: start + Math.max(items.length - 1, 0),
    first_page_uri: uri(0),
    next_page_uri: start + pageSize < all.length ? uri(page + 1) : null,
    page,
    page_size: pageSize,
    previous_page_uri: page > 0 ? uri(page - 1) : null,
    start,
    uri: uri(page),
  };
}
export function createApiRouter(engine: CallEngine, accountSid: string): express.Router {
  const router = express.Router({ mergeParams: true });
  const base = `${API}/Accounts/${accountSid}`;

  router.use('/Accounts/:AccountSid', (req, _res, next) => {
    if (req.params.AccountSid !== accountSid)
      return next(
        new TwilioApiError(404, 20404, `The requested resource ${req.originalUrl.split('?')[0]} was not found`),
      );
    next();
  });

  // ---- Calls --------------------------------------------------------------------------------
  const callJson = (c: Call) => ({
    sid: c.sid,
    date_created: rfc2822(c.dateCreated),
    date_updated: rfc2822(c.dateUpdated),
    parent_call_sid: c.parentCallSid ?? null,
    account_sid: c.accountSid,
    to: c.to,
    to_formatted: c.to,
    from: c.from,
    from_formatted: c.from,
    phone_number_sid: c.phoneNumberSid ?? null,
    status: c.status,
    start_time: c.startTime ? rfc2822(c.startTime) : null,
    end_time: c.endTime ? rfc2822(c.endTime) : null,
    duration: c.endTime && c.startTime ? String(Math.round((c.endTime - c.startTime) / 1000)) : null,
    price: null,
    price_unit: 'USD',
    direction: c.direction,
    answered_by: null,
    api_version: '2010-04-01',
    forwarded_from: null,
    group_sid: null,
    caller_name: null,
    queue_time: '0',
    trunk_sid: null,
    uri: `${base}/Calls/${c.sid}.json`,
    subresource_uris: {
      user_defined_messages: `${base}/Calls/${c.sid}/UserDefinedMessages.json`,
      user_defined_message_subscriptions: `${base}/Calls/${c.sid}/UserDefinedMessageSubscriptions.json`,
    },
  });

  router.get('/Accounts/:AccountSid/Calls.json', (req, res) => {
    const q = req.query as Record<string, string>;
    // As the Calls API shows them: `calls.lagMs` behind (a call younger than that is left out).
    const calls = [...engine.calls.values()]
      .map((c) => engine.asShown(c))
      .filter((c): c is Call => c !== undefined)
      .filter(
        (c) =>
          (!q.To || c.to === q.To) &&
          (!q.From || c.from === q.From) &&
          (!q.Status || c.status === q.Status) &&
          (!q.ParentCallSid || c.parentCallSid === q.ParentCallSid),
      )
      .sort((a, b) => b.dateCreated - a.dateCreated);
    res.json(page(req, 'calls', calls, callJson, `${base}/Calls.json`));
  });

  router.post('/Accounts/:AccountSid/Calls.json', (req, res) => {
    const b = req.body as Record<string, unknown>;
    const to = str(b.To);
    const from = str(b.From);
    if (!to) throw new TwilioApiError(400, 21201, "No 'To' number is specified");
    if (!from) throw new TwilioApiError(400, 21213, "No 'From' number is specified");
    if (!b.Url && !b.Twiml && !b.ApplicationSid)
      throw new TwilioApiError(400, 21205, 'Url, Twiml or ApplicationSid is required');
    const app = b.ApplicationSid ? engine.applications.get(String(b.ApplicationSid)) : undefined;
    const call = engine.createApiCall({
      to,
      from,
      url: str(b.Url) ?? app?.voiceUrl,
      method: str(b.Method),
      twiml: str(b.Twiml),
      statusCallback: str(b.StatusCallback),
      statusCallbackMethod: str(b.StatusCallbackMethod),
      statusCallbackEvent: list(b.StatusCallbackEvent),
    });
    res.status(201).json(callJson(call));
  });

  router.get('/Accounts/:AccountSid/Calls/:Sid.json', (req, res) => {
    res.json(callJson(engine.shownCallOr404(req.params.Sid)));
  });

  router.post('/Accounts/:AccountSid/Calls/:Sid.json', (req, res) => {
    const call = engine.call(req.params.Sid);
    const b = req.body as Record<string, unknown>;
    const status = str(b.Status);
    if (status !== undefined) {
      if (status !== 'completed' && status !== 'canceled')
        throw new TwilioApiError(400, 20001, 'Status must be completed or canceled');
      if (status === 'canceled' && call.status === 'in-progress') {
        // Twilio ignores canceled for an answered call.
      } else if (!['completed', 'busy', 'failed', 'no-answer', 'canceled'].includes(call.status)) {
        engine.hangup(call.sid);
      }
    } else if (b.Twiml || b.Url) {
      if (!['ringing', 'in-progress', 'queued'].includes(call.status))
        throw new TwilioApiError(400, 21220, 'Call is not in-progress. Cannot redirect.');
      call.redirect = { twiml: str(b.Twiml), url: str(b.Url) };
      if (call.dialedLeg) engine.end(engine.call(call.dialedLeg), 'completed');
      // "modified to use new TwiML": the participant leaves its conference (Participants page).
      engine.conferences.leave(call.sid, 'participant_updated_via_api');
    }
    res.json(callJson(call));
  });

  router.post('/Accounts/:AccountSid/Calls/:CallSid/UserDefinedMessages.json', (req, res) => {
    const b = req.body as Record<string, unknown>;
    const message = engine.sendToSdk(req.params.CallSid, {
      content: str(b.Content),
      idempotencyKey: str(b.IdempotencyKey),
    });
    res.status(201).json({
      account_sid: accountSid,
      call_sid: req.params.CallSid,
      sid: message.sid,
      date_created: rfc2822(message.dateCreated),
    });
  });

  router.post('/Accounts/:AccountSid/Calls/:CallSid/UserDefinedMessageSubscriptions.json', (req, res) => {
    const b = req.body as Record<string, unknown>;
    const sub = engine.subscribe(req.params.CallSid, {
      callback: str(b.Callback),
      method: str(b.Method),
      idempotencyKey: str(b.IdempotencyKey),
    });
    res.status(201).json({
      account_sid: accountSid,
      call_sid: sub.callSid,
      sid: sub.sid,
      date_created: rfc2822(sub.dateCreated),
      uri: `${base}/Calls/${sub.callSid}/UserDefinedMessageSubscriptions/${sub.sid}.json`,
    });
  });

  router.delete('/Accounts/:AccountSid/Calls/:CallSid/UserDefinedMessageSubscriptions/:Sid.json', (req, res) => {
    engine.unsubscribe(req.params.CallSid, req.params.Sid);
    res.status(204).end();
  });

  // ---- IncomingPhoneNumbers -----------------------------------------------------------------
  const numberJson = (n: OwnedNumber) => ({
    account_sid: accountSid,
    address_sid: null,
    address_requirements: 'none',
    api_version: '2010-04-01',
    beta: false,
    capabilities: { voice: true, sms: true, mms: false, fax: false },
    date_created: rfc2822(n.dateCreated),
    date_updated: rfc2822(n.dateUpdated),
    friendly_name: n.friendlyName,
    identity_sid: null,
    phone_number: n.phoneNumber,
    origin: 'twilio',
    sid: n.sid,
    sms_application_sid: null,
    sms_fallback_method: 'POST',
    sms_fallback_url: '',
    sms_method: 'POST',
    sms_url: '',
    status_callback: '',
    status_callback_method: 'POST',
    trunk_sid: null,
    uri: `${base}/IncomingPhoneNumbers/${n.sid}.json`,
    voice_receive_mode: 'voice',
    voice_application_sid: n.voiceApplicationSid,
    voice_caller_id_lookup: false,
    voice_fallback_method: 'POST',
    voice_fallback_url: '',
    voice_method: n.voiceMethod,
    voice_url: n.voiceUrl,
    emergency_status: 'Inactive',
    emergency_address_sid: null,
    emergency_address_status: 'unregistered',
    bundle_sid: null,
    status: 'in-use',
  });

  const findNumber = (sid: string) => {
    const n = engine.numbers.get(sid);
    if (!n)
      throw new TwilioApiError(
        404,
        20404,
        `The requested resource ${base}/IncomingPhoneNumbers/${sid}.json was not found`,
      );
    return n;
  };

  router.get('/Accounts/:AccountSid/IncomingPhoneNumbers.json', (req, res) => {
    const q = req.query as Record<string, string>;
    const wanted = q.PhoneNumber?.replace(/[^\d+]/g, '');
    const numbers = [...engine.numbers.values()].filter(
      (n) => (!wanted || n.phoneNumber.includes(wanted)) && (!q.FriendlyName || n.friendlyName === q.FriendlyName),
    );
    res.json(page(req, 'incoming_phone_numbers', numbers, numberJson, `${base}/IncomingPhoneNumbers.json`));
  });
  router.get('/Accounts/:AccountSid/IncomingPhoneNumbers/:Sid.json', (req, res) => {
    res.json(numberJson(findNumber(req.params.Sid)));
  });
  router.post('/Accounts/:AccountSid/IncomingPhoneNumbers/:Sid.json', (req, res) => {
    const n = findNumber(req.params.Sid);
    const b = req.body as Record<string, string>;
    if (b.VoiceUrl !== undefined) n.voiceUrl = b.VoiceUrl;
    if (b.VoiceMethod !== undefined) n.voiceMethod = b.VoiceMethod;
    if (b.VoiceApplicationSid !== undefined) n.voiceApplicationSid = b.VoiceApplicationSid || null;
    if (b.FriendlyName !== undefined) n.friendlyName = b.FriendlyName;
    n.dateUpdated = Date.now();
    res.json(numberJson(n));
  });

  // ---- Applications -------------------------------------------------------------------------
  const appJson = (a: Application) => ({
    account_sid: accountSid,
    api_version: '2010-04-01',
    date_created: rfc2822(a.dateCreated),
    date_updated: rfc2822(a.dateUpdated),
    friendly_name: a.friendlyName,
    message_status_callback: null,
    sid: a.sid,
    sms_fallback_method: 'POST',
    sms_fallback_url: null,
    sms_method: 'POST',
    sms_status_callback: null,
    sms_url: null,
    status_callback: a.statusCallback,
    status_callback_method: 'POST',
    uri: `${base}/Applications/${a.sid}.json`,
    voice_caller_id_lookup: false,
    voice_fallback_method: 'POST',
    voice_fallback_url: null,
    voice_method: a.voiceMethod,
    voice_url: a.voiceUrl,
    public_application_connect_enabled: false,
  });
  const findApp = (sid: string) => {
    const a = engine.applications.get(sid);
    if (!a)
      throw new TwilioApiError(404, 20404, `The requested resource ${base}/Applications/${sid}.json was not found`);
    return a;
  };
  router.get('/Accounts/:AccountSid/Applications.json', (req, res) => {
    const name = (req.query as Record<string, string>).FriendlyName;
    const apps = [...engine.applications.values()].filter((a) => !name || a.friendlyName === name);
    res.json(page(req, 'applications', apps, appJson, `${base}/Applications.json`));
  });
  router.post('/Accounts/:AccountSid/Applications.json', (req, res) => {
    const b = req.body as Record<string, string>;
    const app = engine.addApplication(b.FriendlyName ?? '', b.VoiceUrl ?? '', b.VoiceMethod ?? 'POST');
    res.status(201).json(appJson(app));
  });
  router.get('/Accounts/:AccountSid/Applications/:Sid.json', (req, res) => {
    res.json(appJson(findApp(req.params.Sid)));
  });
  router.post('/Accounts/:AccountSid/Applications/:Sid.json', (req, res) => {
    const a = findApp(req.params.Sid);
    const b = req.body as Record<string, string>;
    if (b.VoiceUrl !== undefined) a.voiceUrl = b.VoiceUrl;
    if (b.VoiceMethod !== undefined) a.voiceMethod = b.VoiceMethod;
    if (b.FriendlyName !== undefined) a.friendlyName = b.FriendlyName;
    a.dateUpdated = Date.now();
    res.json(appJson(a));
  });
  router.delete('/Accounts/:AccountSid/Applications/:Sid.json', (req, res) => {
    findApp(req.params.Sid);
    engine.applications.delete(req.params.Sid);
    res.status(204).end();
  });

  return router;
}
