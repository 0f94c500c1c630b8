// Twilio REST 2010-04-01 Conferences and their Participants, shaped as twilio-oai describes them
// (docs/CONFERENCES.md 1.3-1.5). The rooms themselves live in conferences.ts.
import express, { type Request } from 'express';
import type { Conference, Participant } from '../conferences';
import type { CallEngine } from '../engine';
import { formBool, rfc2822, TwilioApiError } from '../http';
import { page } from './api';

const E164 = /^\+[1-9]\d{1,14}$/;

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : Array.isArray(value) ? String(value[value.length - 1]) : undefined;
}

function words(value: unknown): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).flatMap((v) => String(v).split(/[\s,]+/)).filter(Boolean);
}

export function createConferencesRouter(engine: CallEngine, accountSid: string): express.Router {
  const router = express.Router({ mergeParams: true });
  const base = `/2010-04-01/Accounts/${accountSid}`;
  const rooms = engine.conferences;

  const conferenceJson = (c: Conference) => ({
    account_sid: c.accountSid,
    date_created: rfc2822(c.dateCreated),
    date_updated: rfc2822(c.dateUpdated),
    api_version: '2010-04-01',
    friendly_name: c.friendlyName,
    region: 'us1',
    sid: c.sid,
    status: c.status,
    uri: `${base}/Conferences/${c.sid}.json`,
    subresource_uris: {
      participants: `${base}/Conferences/${c.sid}/Participants.json`,
      recordings: `${base}/Conferences/${c.sid}/Recordings.json`,
    },
    reason_conference_ended: c.reasonEnded,
    call_sid_ending_conference: c.callSidEnding,
  });

  const participantJson = (p: Participant, queueTime?: string) => ({
    account_sid: accountSid,
    call_sid: p.callSid,
    label: p.label ?? null,
    call_sid_to_coach: p.callSidToCoach ?? null,
    coaching: p.coaching,
    conference_sid: p.conferenceSid,
    date_created: rfc2822(p.dateCreated),
    date_updated: rfc2822(p.dateUpdated),
    end_conference_on_exit: p.endConferenceOnExit,
    muted: p.muted,
    hold: p.hold,
    start_conference_on_enter: p.startConferenceOnEnter,
    status: p.status,
    // "Only available in the response to a create participant request" (twilio-oai).
    queue_time: queueTime ?? null,
    uri: `${base}/Conferences/${p.conferenceSid}/Participants/${p.callSid}.json`,
  });

  const conferenceOr404 = (sid: string) => {
    const c = rooms.bySid(sid);
    if (!c)
      throw new TwilioApiError(404, 20404, `The requested resource ${base}/Conferences/${sid}.json was not found`);
    return c;
  };

  // ---- Conferences ------------------------------------------------------------------------------
  router.get('/Accounts/:AccountSid/Conferences.json', (req, res) => {
    const q = req.query as Record<string, string>;
    const all = rooms.all
      .filter((c) => (!q.FriendlyName || c.friendlyName === q.FriendlyName) && (!q.Status || c.status === q.Status))
      .sort((a, b) => b.dateCreated - a.dateCreated);
    res.json(page(req, 'conferences', all, conferenceJson, `${base}/Conferences.json`));
  });

  router.get('/Accounts/:AccountSid/Conferences/:Sid.json', (req, res) => {
    res.json(conferenceJson(conferenceOr404(req.params.Sid)));
  });

  router.post('/Accounts/:AccountSid/Conferences/:Sid.json', (req, res) => {
    const c = conferenceOr404(req.params.Sid);
    const b = req.body as Record<string, unknown>;
    const status = str(b.Status);
    if (status !== undefined && status !== 'completed')
      throw new TwilioApiError(400, 20001, 'Status must be completed');
    if (c.status === 'completed') throw rooms.error(16022, `Conference ${c.sid} is completed`);
    // AnnounceUrl / AnnounceMethod are accepted: the sandbox plays no audio.
    if (status === 'completed') rooms.end(c, 'conference-ended-via-api');
    res.json(conferenceJson(c));
  });

  // ---- Participants -----------------------------------------------------------------------------
  /** Fetch, update, delete and list need an active conference by `CF` SID (twilio-oai: the path has the pattern). */
  const activeConference = (req: Request) => rooms.activeBySid(String(req.params.ConferenceSid));

  router.post('/Accounts/:AccountSid/Conferences/:ConferenceSid/Participants.json', (req, res) => {
    const b = req.body as Record<string, unknown>;
    const to = str(b.To);
    const from = str(b.From);
    if (!to) throw new TwilioApiError(400, 21201, "No 'To' number is specified");
    if (!from) throw new TwilioApiError(400, 21213, "No 'From' number is specified");
    const toPhone = E164.test(to);
    if (!toPhone && !/^(client|sip):./.test(to))
      throw new TwilioApiError(400, 21211, `Invalid 'To' Phone Number: ${to}`);
    // twilio-oai: "If the `to` parameter is a phone number, `from` must also be a phone number."
    if (toPhone && !E164.test(from)) throw new TwilioApiError(400, 21212, `Invalid From Number (caller ID): ${from}`);
    if (!toPhone && !E164.test(from) && !/^client:./.test(from))
      throw new TwilioApiError(400, 21212, `Invalid From Number (caller ID): ${from}`);
    const timeout = b.Timeout === undefined ? 60 : Number(str(b.Timeout));
    if (!Number.isInteger(timeout) || timeout < 5 || timeout > 600)
      throw new TwilioApiError(400, 20001, 'Timeout must be 5-600 seconds');
    const maxRaw = str(b.MaxParticipants);
    const max = maxRaw === undefined ? undefined : Number(maxRaw);
    if (max !== undefined && (!Number.isInteger(max) || max < 2 || max > 250))
      throw new TwilioApiError(400, 20001, 'MaxParticipants must be 2-250');
    const callSidToCoach = str(b.CallSidToCoach);
    const coaching = formBool(b.Coaching) ?? callSidToCoach !== undefined;
    if (coaching && !callSidToCoach) throw new TwilioApiError(400, 20001, 'Coaching requires CallSidToCoach');
    const statusCallback = str(b.StatusCallback);
    const conferenceCallback = str(b.ConferenceStatusCallback);
    const conferenceEvents = words(b.ConferenceStatusCallbackEvent);
    const { participant } = rooms.addByApi(String(req.params.ConferenceSid), {
      from,
      to,
      timeoutSeconds: timeout,
      statusCallback: statusCallback
        ? {
            url: statusCallback,
            method: (str(b.StatusCallbackMethod) ?? 'POST').toUpperCase(),
            events: words(b.StatusCallbackEvent),
          }
        : undefined,
      join: {
        label: str(b.Label),
        muted: formBool(b.Muted),
        hold: formBool(b.Hold),
        coaching,
        callSidToCoach,
        startConferenceOnEnter: formBool(b.StartConferenceOnEnter),
        endConferenceOnExit: formBool(b.EndConferenceOnExit),
        maxParticipants: max,
        callback: {
          url: conferenceCallback,
          method: str(b.ConferenceStatusCallbackMethod),
          // twilio-oai: "Defaults to `start end`."
          events: conferenceEvents.length ? conferenceEvents : ['start', 'end'],
        },
      },
    });
    res.status(201).json(participantJson(participant, '0'));
  });

  router.get('/Accounts/:AccountSid/Conferences/:ConferenceSid/Participants.json', (req, res) => {
    const c = activeConference(req);
    const q = req.query as Record<string, unknown>;
    const muted = formBool(q.Muted);
    const hold = formBool(q.Hold);
    const coaching = formBool(q.Coaching);
    const all = [...c.participants.values()].filter(
      (p) =>
        (muted === undefined || p.muted === muted) &&
        (hold === undefined || p.hold === hold) &&
        (coaching === undefined || p.coaching === coaching),
    );
    res.json(
      page(req, 'participants', all, (p) => participantJson(p), `${base}/Conferences/${c.sid}/Participants.json`),
    );
  });

  router.get('/Accounts/:AccountSid/Conferences/:ConferenceSid/Participants/:CallSid.json', (req, res) => {
    res.json(participantJson(rooms.findParticipant(activeConference(req), req.params.CallSid)));
  });

  router.post('/Accounts/:AccountSid/Conferences/:ConferenceSid/Participants/:CallSid.json', (req, res) => {
    const c = activeConference(req);
    const p = rooms.findParticipant(c, req.params.CallSid);
    const b = req.body as Record<string, unknown>;
    const callSidToCoach = str(b.CallSidToCoach);
    const coaching = formBool(b.Coaching);
    if (coaching === true && !(callSidToCoach ?? p.callSidToCoach))
      throw new TwilioApiError(400, 20001, 'Coaching requires CallSidToCoach');
    if (callSidToCoach !== undefined && !c.participants.has(callSidToCoach))
      throw new TwilioApiError(400, 20001, `CallSidToCoach ${callSidToCoach} is not a participant of ${c.sid}`);
    // HoldMethod, AnnounceUrl, WaitUrl, BeepOnExit: accepted; the sandbox plays no audio.
    rooms.update(c, p, {
      muted: formBool(b.Muted),
      hold: formBool(b.Hold),
      holdUrl: str(b.HoldUrl),
      endConferenceOnExit: formBool(b.EndConferenceOnExit),
      coaching,
      callSidToCoach,
    });
    res.json(participantJson(p));
  });

  router.delete('/Accounts/:AccountSid/Conferences/:ConferenceSid/Participants/:CallSid.json', (req, res) => {
    const p = rooms.findParticipant(activeConference(req), req.params.CallSid);
    rooms.kick(p.callSid);
    res.status(204).end();
  });

  return router;
}
