// Twilio Conferences in the sandbox (docs/CONFERENCES.md 1 and 3.8): rooms per account, one active
// conference per name, participants (a `<Dial><Conference>` caller's own call, or a call the
// Participants API places), hold/mute/coaching state, and the conference status callbacks, signed
// and shaken like call status callbacks. The REST routes are rest/conferences.ts; the TwiML side is
// twiml.ts; the undocumented readings are the `conferences` knobs (knobs.ts).
import type { CallEngine } from './engine';
import { isFinal, type Call } from './engine-types';
import { newSid, rfc2822, TwilioApiError } from './http';
import type { ConferenceKnobs } from './knobs';
import type { WebhookSender } from './webhooks';

export type ConferenceStatus = 'init' | 'in-progress' | 'completed';
export type ParticipantStatus = 'queued' | 'connecting' | 'ringing' | 'connected' | 'complete' | 'failed';
export type ReasonConferenceEnded =
  | 'conference-ended-via-api'
  | 'participant-with-end-conference-on-exit-left'
  | 'participant-with-end-conference-on-exit-kicked'
  | 'last-participant-kicked'
  | 'last-participant-left';
export type ReasonParticipantLeft =
  | 'conference_ended_via_api'
  | 'moderator_ended_conference'
  | 'participant_updated_via_api'
  | 'participant_hung_up'
  | 'participant_add_failed';

/** `statusCallbackEvent` words and the events each lets through. */
const EVENT_WORDS: Record<string, string[]> = {
  start: ['conference-start'],
  end: ['conference-end'],
  join: ['participant-join'],
  leave: ['participant-leave'],
  mute: ['participant-mute', 'participant-unmute'],
  hold: ['participant-hold', 'participant-unhold'],
  modify: ['participant-modify'],
  speaker: ['participant-speech-start', 'participant-speech-stop'],
  announcement: ['announcement-end', 'announcement-fail'],
};

export interface ConferenceCallback {
  url: string;
  method: string;
  /** Event names (`participant-join`, …) that are sent. */
  events: Set<string>;
}

export interface Participant {
  callSid: string;
  conferenceSid: string;
  label?: string | undefined;
  muted: boolean;
  hold: boolean;
  holdUrl?: string | undefined;
  coaching: boolean;
  callSidToCoach?: string | undefined;
  startConferenceOnEnter: boolean;
  endConferenceOnExit: boolean;
  status: ParticipantStatus;
  dateCreated: number;
  dateUpdated: number;
  /** Resolves when the participant has left (its call's TwiML goes on after <Dial>). */
  left: Promise<void>;
  markLeft: () => void;
}

export interface Conference {
  sid: string;
  accountSid: string;
  friendlyName: string;
  status: ConferenceStatus;
  dateCreated: number;
  dateUpdated: number;
  reasonEnded: ReasonConferenceEnded | null;
  callSidEnding: string | null;
  /** Set by the first participant (TwiML or API); later values are ignored. */
  callback?: ConferenceCallback | undefined;
  callbackDecided: boolean;
  maxParticipants: number;
  /** Participants connecting or connected (Twilio keeps no history). */
  participants: Map<string, Participant>;
  /** Whether anybody ever joined (a conference exists once its first participant connects). */
  joined: boolean;
  /** The last SequenceNumber given out. */
  sequence: number;
  /** Conference status callbacks sent (copies not counted). */
  eventsSent: number;
}

/** How a participant enters: the attributes of <Conference> or the Participants create. */
export interface JoinOptions {
  label?: string | undefined;
  muted?: boolean | undefined;
  hold?: boolean | undefined;
  coaching?: boolean | undefined;
  callSidToCoach?: string | undefined;
  startConferenceOnEnter?: boolean | undefined;
  endConferenceOnExit?: boolean | undefined;
  maxParticipants?: number | undefined;
  callback?: { url?: string | undefined; method?: string | undefined; events: string[] } | undefined;
}

const CALL_SID = /^CA[0-9a-f]{32}$/;
export const CONFERENCE_SID = /^CF[0-9a-fA-F]{32}$/;

export class Conferences {
  /** Every conference since the last reset, oldest first. */
  readonly all: Conference[] = [];

  constructor(
    private readonly engine: CallEngine,
    private readonly webhooks: WebhookSender,
    private readonly accountSid: string,
  ) {}

  private get knobs(): ConferenceKnobs {
    return this.engine.knobs.conferences;
  }

  /** A 16xxx error with the HTTP status the `conferences.errorStatus` knob gives it. */
  error(code: number, message: string): TwilioApiError {
    const byCode = this.knobs.errorStatus === 'by-code';
    const status = byCode && code === 16022 ? 404 : byCode && code === 16026 ? 409 : 400;
    return new TwilioApiError(status, code, message);
  }

  bySid(sid: string): Conference | undefined {
    return this.all.find((c) => c.sid === sid);
  }

  /** The conference of that name that is not completed (Twilio allows only one). */
  activeByName(name: string): Conference | undefined {
    return this.all.find((c) => c.friendlyName === name && c.status !== 'completed');
  }

  /** The newest conference of that name, active or not (the control API's view). */
  latestByName(name: string): Conference | undefined {
    return this.activeByName(name) ?? this.all.filter((c) => c.friendlyName === name).at(-1);
  }

  /** The participant record of a call, wherever it is. */
  participantOf(callSid: string): { conference: Conference; participant: Participant } | undefined {
    for (const conference of this.all) {
      if (conference.status === 'completed') continue;
      const participant = conference.participants.get(callSid);
      if (participant) return { conference, participant };
    }
    return undefined;
  }

  /** The active conference by `CF` SID (else 16022). */
  activeBySid(sid: string): Conference {
    const conference = this.bySid(sid);
    if (!conference || conference.status === 'completed')
      throw this.error(
        16022,
        `The requested conference sid or friendly name refers to a non-existent or completed conference: ${sid}`,
      );
    return conference;
  }

  /** The active conference named, or a new one (the first participant creates it). */
  openByName(name: string): Conference {
    const existing = this.activeByName(name);
    if (existing) return existing;
    const conference: Conference = {
      sid: newSid('CF'),
      accountSid: this.accountSid,
      friendlyName: name,
      status: 'init',
      dateCreated: this.engine.now(),
      dateUpdated: this.engine.now(),
      reasonEnded: null,
      callSidEnding: null,
      callbackDecided: false,
      maxParticipants: 250,
      participants: new Map(),
      joined: false,
      sequence: 0,
      eventsSent: 0,
    };
    this.all.push(conference);
    return conference;
  }

  /** A participant by CallSid or label (percent-decoded by the router). */
  findParticipant(conference: Conference, id: string): Participant {
    const participant =
      conference.participants.get(id) ?? [...conference.participants.values()].find((p) => p.label === id);
    if (!participant)
      throw new TwilioApiError(
        404,
        20404,
        `The requested resource /2010-04-01/Accounts/${this.accountSid}/Conferences/${conference.sid}/Participants/${id}.json was not found`,
      );
    return participant;
  }

  /** Checks a label (16023 TwiML / 16024 API when invalid, 16025 / 16026 when in use). */
  checkLabel(conference: Conference, label: string | undefined, api: boolean): void {
    if (label === undefined) return;
    if (label.length > 128 || CALL_SID.test(label) || label.includes('/') || /%2F/i.test(label))
      throw this.error(api ? 16024 : 16023, `Invalid participant label: ${label}`);
    if ([...conference.participants.values()].some((p) => p.label === label))
      throw this.error(api ? 16026 : 16025, `Participant label ${label} is already in use in this conference`);
  }

  /**
   * Lists a participant (status `queued`) before its call connects: checks label and room size, and
   * lets the first participant set the conference's callback.
   */
  admit(conference: Conference, call: Call, opts: JoinOptions, api: boolean): Participant {
    this.checkLabel(conference, opts.label, api);
    const max = opts.maxParticipants ?? conference.maxParticipants;
    if (conference.participants.size >= Math.min(max, conference.maxParticipants))
      throw this.error(16020, `Conference ${conference.friendlyName} is full`);
    if (!conference.callbackDecided) {
      conference.callbackDecided = true;
      conference.maxParticipants = Math.min(250, Math.max(2, max));
      const cb = opts.callback;
      if (cb?.url) {
        const events = new Set(cb.events.flatMap((w) => EVENT_WORDS[w] ?? []));
        conference.callback = { url: cb.url, method: (cb.method || 'POST').toUpperCase(), events };
      }
    }
    let markLeft!: () => void;
    const left = new Promise<void>((resolve) => (markLeft = resolve));
    const participant: Participant = {
      callSid: call.sid,
      conferenceSid: conference.sid,
      label: opts.label,
      muted: opts.muted ?? false,
      hold: opts.hold ?? false,
      coaching: opts.coaching ?? false,
      callSidToCoach: opts.callSidToCoach,
      startConferenceOnEnter: opts.startConferenceOnEnter ?? true,
      endConferenceOnExit: opts.endConferenceOnExit ?? false,
      status: 'queued',
      dateCreated: this.engine.now(),
      dateUpdated: this.engine.now(),
      left,
      markLeft,
    };
    conference.participants.set(call.sid, participant);
    return participant;
  }

  /** The participant's call is connected: it joins (and may start the conference). */
  join(conference: Conference, participant: Participant): void {
    participant.status = 'connected';
    participant.dateUpdated = this.engine.now();
    conference.joined = true;
    this.participantEvent(conference, participant, 'participant-join');
    const connected = [...conference.participants.values()].filter((p) => p.status === 'connected');
    // "at least two participants … and at least one … has startConferenceOnEnter" (TwiML docs).
    if (conference.status === 'init' && connected.length >= 2 && connected.some((p) => p.startConferenceOnEnter)) {
      conference.status = 'in-progress';
      conference.dateUpdated = this.engine.now();
      this.event(conference, 'conference-start', {});
    }
  }

  /** Sets the participant's progress while its call is being placed (API adds). */
  progress(callSid: string, status: 'connecting' | 'ringing'): void {
    const found = this.participantOf(callSid);
    if (found && found.participant.status !== 'connected') found.participant.status = status;
  }

  /**
   * The participant leaves: `participant-leave`, then the conference ends if it was the last one
   * or had endConferenceOnExit. `kicked`: removed through the API (or the control API).
   */
  leave(callSid: string, reason: ReasonParticipantLeft): void {
    const found = this.participantOf(callSid);
    if (!found) return;
    const { conference, participant } = found;
    conference.participants.delete(callSid);
    const joined = participant.status === 'connected';
    participant.status = joined ? 'complete' : 'failed';
    participant.dateUpdated = this.engine.now();
    const call = this.engine.calls.get(callSid);
    const leaveFields: Record<string, string> =
      this.knobs.leaveCallStatus === 'always'
        ? { ParticipantCallStatus: call?.status ?? 'completed', ReasonParticipantLeft: reason }
        : {};
    this.participantEvent(conference, participant, 'participant-leave', leaveFields);
    participant.markLeft();
    const kicked = reason === 'participant_updated_via_api';
    if (joined && participant.endConferenceOnExit)
      this.end(
        conference,
        kicked ? 'participant-with-end-conference-on-exit-kicked' : 'participant-with-end-conference-on-exit-left',
        callSid,
        participant.label,
      );
    else if (conference.participants.size === 0)
      this.end(conference, kicked ? 'last-participant-kicked' : 'last-participant-left', callSid, participant.label);
  }

  /** Ends the conference: everyone still in leaves (before `conference-end`), then it completes. */
  end(conference: Conference, reason: ReasonConferenceEnded, callSid?: string, label?: string): void {
    if (conference.status === 'completed') return;
    const why: ReasonParticipantLeft =
      reason === 'conference-ended-via-api' ? 'conference_ended_via_api' : 'moderator_ended_conference';
    // Completed first, so that the leaves below do not end it a second time.
    conference.status = 'completed';
    conference.dateUpdated = this.engine.now();
    conference.reasonEnded = reason;
    conference.callSidEnding = callSid ?? null;
    for (const participant of [...conference.participants.values()]) {
      conference.participants.delete(participant.callSid);
      participant.status = participant.status === 'connected' ? 'complete' : 'failed';
      const call = this.engine.calls.get(participant.callSid);
      const fields: Record<string, string> =
        this.knobs.leaveCallStatus === 'always'
          ? { ParticipantCallStatus: call?.status ?? 'completed', ReasonParticipantLeft: why }
          : {};
      this.participantEvent(conference, participant, 'participant-leave', fields);
      participant.markLeft();
    }
    // A conference nobody joined (every add failed) never existed for Twilio's callbacks.
    if (!conference.joined) return;
    this.event(conference, 'conference-end', {
      ReasonConferenceEnded: reason,
      Reason: reasonText(reason),
      ...(callSid ? { CallSidEndingConference: callSid } : {}),
      ...(label ? { ParticipantLabelEndingConference: label } : {}),
    });
  }

  /**
   * Removes a participant (REST delete, the control API's remove): it leaves with
   * `participant_updated_via_api`; a call still ringing is canceled, an answered one goes on to its
   * next TwiML verb (or ends when it has none).
   */
  kick(callSid: string): void {
    this.leave(callSid, 'participant_updated_via_api');
    const call = this.engine.calls.get(callSid);
    if (call && (call.status === 'queued' || call.status === 'initiated' || call.status === 'ringing'))
      this.engine.end(call, 'canceled');
  }

  /** A call reached a final status: if it was a participant, it leaves (hung up, or its add failed). */
  callEnded(call: Call): void {
    const found = this.participantOf(call.sid);
    if (!found) return;
    this.leave(call.sid, found.participant.status === 'connected' ? 'participant_hung_up' : 'participant_add_failed');
  }

  /** Hold, mute, endConferenceOnExit, coaching changes (REST update or the control API), with their events. */
  update(
    conference: Conference,
    participant: Participant,
    change: {
      muted?: boolean | undefined;
      hold?: boolean | undefined;
      holdUrl?: string | undefined;
      endConferenceOnExit?: boolean | undefined;
      coaching?: boolean | undefined;
      callSidToCoach?: string | undefined;
    },
  ): void {
    participant.dateUpdated = this.engine.now();
    if (change.holdUrl !== undefined) participant.holdUrl = change.holdUrl;
    if (change.muted !== undefined && change.muted !== participant.muted) {
      participant.muted = change.muted;
      this.participantEvent(conference, participant, change.muted ? 'participant-mute' : 'participant-unmute');
    }
    if (change.hold !== undefined && change.hold !== participant.hold) {
      participant.hold = change.hold;
      this.participantEvent(conference, participant, change.hold ? 'participant-hold' : 'participant-unhold');
    }
    let modified = false;
    if (change.endConferenceOnExit !== undefined && change.endConferenceOnExit !== participant.endConferenceOnExit) {
      participant.endConferenceOnExit = change.endConferenceOnExit;
      modified = true;
    }
    if (change.coaching !== undefined && change.coaching !== participant.coaching) {
      participant.coaching = change.coaching;
      modified = true;
    }
    if (change.callSidToCoach !== undefined && change.callSidToCoach !== participant.callSidToCoach) {
      participant.callSidToCoach = change.callSidToCoach;
      modified = true;
    }
    if (modified) this.participantEvent(conference, participant, 'participant-modify');
  }

  private participantEvent(
    conference: Conference,
    p: Participant,
    event: string,
    extra: Record<string, string> = {},
  ): void {
    this.event(conference, event, {
      CallSid: p.callSid,
      ...(p.label === undefined ? {} : { ParticipantLabel: p.label }),
      Muted: String(p.muted),
      Hold: String(p.hold),
      Coaching: String(p.coaching),
      ...(p.callSidToCoach ? { CallSidToCoach: p.callSidToCoach } : {}),
      EndConferenceOnExit: String(p.endConferenceOnExit),
      StartConferenceOnEnter: String(p.startConferenceOnEnter),
      ...extra,
    });
  }

  /**
   * One conference status callback: numbered per conference from 1 (the `sequence` knob: over the
   * events sent, or over all with gaps), sent only when the first participant subscribed to it.
   */
  private event(conference: Conference, event: string, fields: Record<string, string>): void {
    const cb = conference.callback;
    const subscribed = cb !== undefined && cb.events.has(event);
    if (!subscribed && this.knobs.sequence === 'contiguous') return;
    const sequence = ++conference.sequence;
    if (!subscribed) return;
    conference.eventsSent++;
    const params = {
      ConferenceSid: conference.sid,
      FriendlyName: conference.friendlyName,
      AccountSid: conference.accountSid,
      SequenceNumber: String(sequence),
      Timestamp: rfc2822(this.engine.now()),
      StatusCallbackEvent: event,
      ...fields,
    };
    void this.webhooks.send({
      kind: 'status',
      url: cb.url,
      method: cb.method,
      params,
      unordered: true,
      reorder: this.knobs.eventOrder === 'reordered',
    });
  }

  /** Drops a conference that a refused first participant opened (nobody was ever listed in it). */
  discardIfEmpty(conference: Conference): void {
    if (conference.participants.size > 0 || conference.joined || conference.callbackDecided) return;
    const i = this.all.indexOf(conference);
    if (i !== -1) this.all.splice(i, 1);
  }

  /**
   * The Participants API's create: places a call to `to` (a number rings as the sandbox's phone
   * network does, `client:<identity>?a=b` the SDK phone with those custom parameters), lists the
   * participant as `queued`, and joins it when answered. An add that is not answered leaves with
   * `participant_add_failed`; a participant that leaves ends its call (it has no TwiML to go on with),
   * unless its call was redirected to new TwiML.
   */
  addByApi(
    pathId: string,
    input: {
      from: string;
      to: string;
      timeoutSeconds: number;
      statusCallback?: { url: string; method: string; events: string[] } | undefined;
      join: JoinOptions;
    },
  ): { conference: Conference; participant: Participant } {
    const conference = CONFERENCE_SID.test(pathId) ? this.activeBySid(pathId) : this.openByName(pathId);
    const query = input.to.indexOf('?');
    const to = query === -1 ? input.to : input.to.slice(0, query);
    const customParameters = Object.fromEntries(
      query === -1 || !to.startsWith('client:') ? [] : new URLSearchParams(input.to.slice(query + 1)),
    );
    const call = this.engine.newCall({ from: input.from, to, direction: 'outbound-api', status: 'queued' });
    if (input.statusCallback) {
      const { url, method, events } = input.statusCallback;
      call.statusCallback = { url, method, events: new Set(events.length ? events : ['completed']) };
    }
    let participant: Participant;
    try {
      participant = this.admit(conference, call, input.join, true);
    } catch (err) {
      this.engine.calls.delete(call.sid);
      this.discardIfEmpty(conference);
      throw err;
    }
    // After the create's answer is written: it shows the participant `queued` (twilio-oai).
    setImmediate(() => void this.place(conference, participant, call, input.timeoutSeconds, customParameters));
    return { conference, participant };
  }

  /** Rings an API-added participant's call, joins it when answered, ends the call when it leaves. */
  private async place(
    conference: Conference,
    participant: Participant,
    call: Call,
    timeoutSeconds: number,
    customParameters: Record<string, string>,
  ): Promise<void> {
    // Removed (or the sandbox reset) before it was placed: nothing to ring.
    if (!this.all.includes(conference) || conference.participants.get(call.sid) !== participant) return;
    this.engine.setStatus(call, 'initiated');
    this.engine.reportStatus(call, 'initiated', 'initiated');
    this.progress(call.sid, 'connecting');
    const ringing = this.engine.ring(call, timeoutSeconds, customParameters);
    this.progress(call.sid, 'ringing');
    if (!(await ringing)) return; // engine.end → callEnded: participant_add_failed
    if (conference.participants.get(call.sid) !== participant) {
      // Removed while it rang: nothing to join.
      this.engine.end(call, 'completed');
      return;
    }
    this.join(conference, participant);
    await Promise.race([participant.left, call.ended]);
    if (isFinal(call.status)) return;
    const redirect = call.redirect;
    call.redirect = undefined;
    if (redirect) await this.engine.runTwiml(call, redirect);
    else this.engine.end(call, 'completed');
  }

  /**
   * Forgets every conference (the sandbox's reset). Their participants' waiters are not released:
   * like the forgotten calls' timers, nothing of them may act after a reset.
   */
  reset(): void {
    this.all.length = 0;
  }

  /** Whether the call is a participant of an active conference (for call-messages.ts's knobs). */
  isInConference(callSid: string): boolean {
    return this.participantOf(callSid) !== undefined;
  }

  /** Whether the call is a held participant. */
  isHeld(callSid: string): boolean {
    return this.participantOf(callSid)?.participant.hold === true;
  }
}

/** The `Reason` text of `conference-end` (Twilio's example wording). */
function reasonText(reason: ReasonConferenceEnded): string {
  switch (reason) {
    case 'conference-ended-via-api':
      return 'Conference ended via API';
    case 'participant-with-end-conference-on-exit-left':
      return 'Participant with endConferenceOnExit left the conference';
    case 'participant-with-end-conference-on-exit-kicked':
      return 'Participant with endConferenceOnExit was kicked from the conference';
    case 'last-participant-kicked':
      return 'Last participant was kicked from the conference';
    case 'last-participant-left':
      return 'Last participant left the conference';
  }
}
