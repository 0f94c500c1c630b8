// The sandbox's TwiML runner: fetches a call's TwiML (voice webhook, or inline) and plays the subset
// the project uses: <Dial> with <Client>/<Number> (answerOnBridge, callerId, timeout, statusCallback,
// statusCallbackEvent, statusCallbackMethod; a <Client>'s <Identity> and <Parameter name value>
// nouns, which reach the called SDK as its call's customParameters) or a bare number, <Say>, <Play>, <Pause>, <Hangup>,
// <Reject>, and <Dial><Conference> (conferences.ts: the call itself becomes the participant).
// Anything else is noted in the debugger (12200) and skipped. Redirects (REST Url/Twiml
// updates) restart it with the new TwiML.
import { XMLParser } from 'fast-xml-parser';
import type { CallEngine } from './engine';
import { isFinal, type Call } from './engine-types';
import { TwilioApiError } from './http';
import type { WebhookSender } from './webhooks';

type Verb = Record<string, unknown>;
const xml = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  preserveOrder: true,
  parseAttributeValue: false,
  parseTagValue: false,
});

/** The parameters of every voice request Twilio sends about a call. */
export function voiceParams(call: Call): Record<string, string> {
  return {
    AccountSid: call.accountSid,
    ApiVersion: '2010-04-01',
    CallSid: call.sid,
    CallStatus: call.status,
    Direction: call.direction,
    From: call.from,
    Caller: call.from,
    To: call.to,
    Called: call.to,
    ...(call.parentCallSid ? { ParentCallSid: call.parentCallSid } : {}),
  };
}
export class TwimlRunner {
  constructor(
    private readonly engine: CallEngine,
    private readonly webhooks: WebhookSender,
  ) {}

  /** Runs `source`'s TwiML on `call` (and any redirect after it) until the call ends or the TwiML does. */
  async run(
    call: Call,
    source: { url?: string | undefined; method?: string | undefined; twiml?: string | undefined },
    extra: Record<string, string>,
  ) {
    let next: typeof source | undefined = source;
    while (next && !isFinal(call.status)) {
      const verbs = await this.fetchTwiml(call, next, extra);
      next = undefined;
      if (!verbs) {
        this.engine.end(call, call.status === 'in-progress' ? 'completed' : 'failed');
        return;
      }
      for (const verb of verbs) {
        if (isFinal(call.status)) return;
        if (call.redirect) break;
        await this.execute(call, verb);
      }
      if (call.redirect) {
        next = call.redirect;
        call.redirect = undefined;
        extra = {};
      }
    }
    if (!isFinal(call.status)) this.engine.end(call, call.status === 'in-progress' ? 'completed' : 'canceled');
  }

  private async fetchTwiml(
    call: Call,
    source: { url?: string | undefined; method?: string | undefined; twiml?: string | undefined },
    extra: Record<string, string>,
  ): Promise<Verb[] | undefined> {
    let text = source.twiml;
    if (text === undefined) {
      if (!source.url) {
        this.engine.note(21205, call.sid, 'No voice URL configured');
        return undefined;
      }
      const response = await this.webhooks.send({
        kind: 'voice',
        url: source.url,
        method: source.method ?? 'POST',
        params: { ...voiceParams(call), ...extra },
      });
      if (!response || response.status >= 400) {
        this.engine.note(11200, call.sid, `HTTP ${response?.status ?? 'error'} from ${source.url}`);
        return undefined;
      }
      text = response.body;
    }
    try {
      const doc = xml.parse(text) as Verb[];
      const root = doc.find((node) => 'Response' in node);
      if (!root) throw new Error('no <Response>');
      return (root.Response as Verb[]).filter((node) => !('#text' in node));
    } catch {
      this.engine.note(12100, call.sid, 'Document parse failure');
      return undefined;
    }
  }

  private async execute(call: Call, verb: Verb) {
    const name = Object.keys(verb).find((k) => k !== ':@')!;
    const attrs = (verb[':@'] ?? {}) as Record<string, string>;
    const children = (verb[name] ?? []) as Verb[];
    switch (name) {
      case 'Say':
      case 'Play':
      case 'Pause':
        this.engine.answerCall(call);
        return;
      case 'Hangup':
        this.engine.end(call, call.status === 'in-progress' ? 'completed' : 'canceled');
        return;
      case 'Reject':
        this.engine.end(call, attrs.reason === 'rejected' ? 'canceled' : 'busy');
        return;
      case 'Dial':
        await this.dial(call, attrs, children);
        return;
      default:
        this.engine.note(12200, call.sid, `The sandbox does not play <${name}>`);
    }
  }

  private async dial(parent: Call, attrs: Record<string, string>, children: Verb[]) {
    const room = children.find((c) => 'Conference' in c);
    if (room) return this.conference(parent, room);
    if (attrs.answerOnBridge !== 'true') this.engine.answerCall(parent);
    const noun = children.find((c) => 'Client' in c || 'Number' in c);
    const nounText = (children: Verb[]) => {
      const identityNode = children.find((c) => 'Identity' in c);
      const holder = identityNode ? (identityNode.Identity as Verb[]) : children;
      return String((holder.find((c) => '#text' in c)?.['#text'] as string | undefined) ?? '').trim();
    };
    if (!noun) {
      const text = nounText(children);
      if (!text) return;
      return this.dialLeg(parent, attrs, text, {});
    }
    const kind = 'Client' in noun ? 'Client' : 'Number';
    const target = nounText(noun[kind] as Verb[]);
    const nounAttrs = (noun[':@'] ?? {}) as Record<string, string>;
    const parameters: Record<string, string> = {};
    if (kind === 'Client') {
      for (const child of noun.Client as Verb[]) {
        if (!('Parameter' in child)) continue;
        const { name, value } = (child[':@'] ?? {}) as Record<string, string | undefined>;
        if (name) parameters[name] = value ?? '';
      }
    }
    await this.dialLeg(parent, attrs, kind === 'Client' ? `client:${target}` : target, nounAttrs, parameters);
  }

  /**
   * `<Dial><Conference>`: the call executing it is the participant (no child leg). A refused join
   * (16025 label in use, 16023 invalid, 16020 full) is noted and the call goes on to the next verb;
   * so does a participant that leaves while its call is up.
   */
  private async conference(call: Call, noun: Verb) {
    const a = (noun[':@'] ?? {}) as Record<string, string>;
    const name = String(
      ((noun.Conference as Verb[]).find((c) => '#text' in c)?.['#text'] as string | undefined) ?? '',
    ).trim();
    const bool = (v: string | undefined, fallback: boolean) => (v === undefined ? fallback : v === 'true');
    const conferences = this.engine.conferences;
    if (a.coach !== undefined && conferences.participantOf(a.coach)?.participant.status !== 'connected') {
      // TwiML docs: the call fails to the action URL with 13240; the sandbox plays no action URL.
      this.engine.note(13240, call.sid, `coach ${a.coach} is not connected to an in-progress conference`);
      return;
    }
    const conference = conferences.openByName(name);
    let participant;
    try {
      participant = conferences.admit(
        conference,
        call,
        {
          label: a.participantLabel,
          muted: bool(a.muted, false),
          coaching: a.coach !== undefined,
          callSidToCoach: a.coach,
          startConferenceOnEnter: bool(a.startConferenceOnEnter, true),
          endConferenceOnExit: bool(a.endConferenceOnExit, false),
          maxParticipants: Number(a.maxParticipants) > 0 ? Number(a.maxParticipants) : undefined,
          callback: {
            url: a.statusCallback,
            method: a.statusCallbackMethod,
            events: (a.statusCallbackEvent ?? '').split(/\s+/).filter(Boolean),
          },
        },
        false,
      );
    } catch (err) {
      if (!(err instanceof TwilioApiError)) throw err;
      this.engine.note(err.code, call.sid, err.message);
      conferences.discardIfEmpty(conference);
      return;
    }
    this.engine.answerCall(call);
    conferences.join(conference, participant);
    await Promise.race([participant.left, call.ended]);
  }

  private async dialLeg(
    parent: Call,
    dialAttrs: Record<string, string>,
    to: string,
    nounAttrs: Record<string, string>,
    customParameters: Record<string, string> = {},
  ) {
    const from = dialAttrs.callerId || parent.from;
    const leg = this.engine.newCall({
      from,
      to,
      direction: 'outbound-dial',
      status: 'queued',
      parentCallSid: parent.sid,
    });
    if (nounAttrs.statusCallback) {
      const events = (nounAttrs.statusCallbackEvent ?? '').split(/\s+/).filter(Boolean);
      leg.statusCallback = {
        url: nounAttrs.statusCallback,
        method: nounAttrs.statusCallbackMethod || 'POST',
        events: new Set(events.length ? events : ['completed']),
      };
    }
    parent.dialedLeg = leg.sid;
    this.engine.setStatus(leg, 'initiated');
    this.engine.reportStatus(leg, 'initiated', 'initiated');
    const timeout = Number(dialAttrs.timeout) > 0 ? Number(dialAttrs.timeout) : 30;
    const answered = await this.engine.ring(leg, timeout, customParameters);
    if (answered) {
      this.engine.answerCall(parent);
      await Promise.race([leg.ended, parent.ended]);
    }
    parent.dialedLeg = undefined;
    if (!isFinal(leg.status)) this.engine.end(leg, leg.status === 'in-progress' ? 'completed' : 'canceled');
  }
}
