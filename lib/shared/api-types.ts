// The shapes this project's HTTP API answers with, defined once: the functions produce them, and
// client/, the pages (assets/src) and the tests import them from here.

/** The statuses after which a leg never changes again. */
export const FINAL_STATUSES = ['completed', 'busy', 'failed', 'no-answer', 'canceled'] as const;
export type FinalStatus = (typeof FINAL_STATUSES)[number];
export const isFinalStatus = (s: unknown): s is FinalStatus => FINAL_STATUSES.includes(s as FinalStatus);

/** The statuses a Voice SDK leg's state goes through, as its `<Dial>` status callbacks report them. */
export type LegStatus = 'initiated' | 'ringing' | 'in-progress' | FinalStatus;

/**
 * The leg's UserDefinedMessageSubscription, as its Sync record shows it (stored as
 * StoredSubscription, lib/store/records.ts): the record, not Twilio's IdempotencyKey, is what keeps
 * it at exactly one per leg. `claimed` = one invocation is creating
 * it now; `refused` = Twilio refused it (e.g. the leg was not ringing yet) and a later callback may
 * try again; `failed` = the claimant gave up (timeout or Twilio error) and a later callback retries.
 */
export interface SubscriptionRecord {
  status: 'claimed' | 'subscribed' | 'refused' | 'failed';
  /** ISO 8601: when this status was recorded. */
  at: string;
  /** The CallStatus of the callback that made the record. */
  by: string;
  /** ZY…: the subscription's Sid, once subscribed. */
  sid?: string;
}

export interface LegState {
  callSid: string;
  parentCallSid: string;
  role: 'parent' | 'child';
  identity: string;
  peer: string;
  status: LegStatus;
  updatedAt: string;
  endedAt?: string;
  durationSeconds?: number;
  subscription?: SubscriptionRecord;
}

export type MessageDirection = 'from-sdk' | 'to-sdk';

/**
 * What a message from the SDK carried that the JS SDK never sends. Such a message, from a verified
 * subscription, is stored and answered as it came, flagged: never refused, since a 4xx loses it
 * for good. `sid`: its Sid is not `KX` + 32 lower-case hex, or there is none (the iOS and Android
 * formats are undocumented; its key holds a hash of it); `content`: its Content is not JSON (kept
 * as its text, with no `data`); `content-type`: its ContentType is not application/json.
 */
export const MESSAGE_IRREGULARITIES = ['sid', 'content', 'content-type'] as const;
export type MessageIrregularity = (typeof MESSAGE_IRREGULARITIES)[number];

/**
 * One call message as the API answers it (content is the JSON text exactly as it was sent); stored
 * as StoredMessage (lib/store/records.ts), mapped to this by apiMessage.
 */
export interface CallMessage {
  /** KX…: Twilio's Sid (for messages to the SDK: the UserDefinedMessage's; null if Twilio's answer was lost). */
  sid: string | null;
  callSid: string;
  direction: MessageDirection;
  /** SequenceNumber Twilio gave a message from the SDK. */
  sequence?: number;
  contentType: string;
  content: string;
  /** ISO 8601: Twilio's Timestamp for messages from the SDK, the send time for messages to it. */
  timestamp: string;
  /** Messages to the SDK: the IdempotencyKey it was sent with. */
  idempotencyKey?: string;
  /**
   * Messages from the SDK, when forwarding to APP_WEBHOOK_URL is on: whether the app's backend
   * acknowledged it (2xx). False = not (yet) delivered; absent = forwarding was off.
   */
  forwarded?: boolean;
  /** Messages from the SDK, when message schemas are on: false when the content violates them. */
  valid?: boolean;
  /** The first schema violation (JSON path and rule), when `valid` is false. */
  validationError?: string;
  /** Messages from the SDK: what it carried that the JS SDK never sends (absent: nothing). */
  irregular?: MessageIrregularity[];
}

/**
 * A message in a `/call-messages` page: `cursor` resumes reading right after it (`after=<cursor>`).
 * `content` is the JSON text exactly as it arrived; `data` is a parsed copy, present only when the
 * text nests at most MAX_PARSED_DEPTH (64) levels (lib/messages/content.ts contentForAnswer).
 */
export type CallMessagePageItem = CallMessage & { cursor: string; data?: unknown };

/** `/call-messages` (and `/operator-messages`) answer. */
export interface CallMessagesPage {
  callSid: string;
  /**
   * The leg's state, on every page that reaches the newest messages: the first page in `desc` order,
   * the last in `asc`, an `after=` page that catches up. Other pages may carry it too.
   */
  state?: LegState | null;
  messages: CallMessagePageItem[];
  order: 'asc' | 'desc';
  /** Pass as `pageToken` for the next page; null when the history has nothing more (for now). */
  nextPageToken: string | null;
}

/** A recent SDK leg in `/operator-calls`: what the Calls API says of it, and its state in Sync. */
export interface OperatorCall {
  callSid: string;
  createdAt: string;
  /** The state's status where Sync has one, else the Calls API's. */
  status: string;
  /** Ringing or in progress, as the Calls API reports it now, unless its state in Sync is final already. */
  active: boolean;
  state: LegState | null;
  /**
   * Past the active-call TTL (SYNC_ACTIVE_CALL_TTL_SECONDS) without a final status: its end was never
   * reported, so it is not shown as active.
   */
  endUnknown?: true;
  /** Named in the request's `final` (a final state the caller holds): not read again, `state` null. */
  unchanged?: true;
}

/** A leg's message count in `/operator-calls` (asked with `count=`): both ways, each message once. */
export interface OperatorMessageCount {
  callSid: string;
  count: number;
  /** Time ran short before every item was read: at least `count`. */
  atLeast?: true;
}

/** `/operator-calls` answer. */
export interface OperatorCallsPage {
  calls: OperatorCall[];
  /** The message counts of the legs named in `count=`, as far as time allowed (a leg left out: ask again). */
  counts?: OperatorMessageCount[];
  /**
   * SYNC_ACTIVE_CALL_TTL_SECONDS: a leg past it with no end reported is `endUnknown` (a page open
   * that long can tell so itself, without asking again).
   */
  activeTtlSeconds: number;
  /**
   * True when the invocation ran short of time before every listed leg's state was read, or the
   * next leg would have taken the answer past its byte budget: the newest come first.
   */
  partial?: true;
}

/** `/operator-sync-token` answer: a Sync access token for the console's live channel. */
export interface OperatorSyncToken {
  identity: string;
  token: string;
  /** Seconds: at most the operator session's remaining time. */
  ttl: number;
  /** Only in the sandbox: where the `twilio-sync` SDK connects instead of Twilio (its `twilsock.uri` and `cdsUri`). */
  sandbox?: { twilsock: string; cds: string };
}

/** How one check of `/operator-status` came out: `ok`, worth a look (`warn`), or broken (`error`). */
export type StatusLevel = 'ok' | 'warn' | 'error';

/** One environment variable as `/operator-status` reports it: whether it is set, never its value. */
export interface VariableStatus {
  name: string;
  set: boolean;
  /** `required`: the deployment does not work without it; `feature`: one feature needs it; `optional`. */
  need: 'required' | 'feature' | 'optional';
  /** What it is for (the feature that needs it). */
  purpose: string;
  /** Set but unusable (a SID of the wrong kind, a secret too short): what to fix. Never the value. */
  problem?: string;
}

/** A phone number of the account, as `/operator-status` compares it with this deployment. */
export interface NumberStatus {
  phoneNumber: string;
  sid: string;
  /** Its voice URL (empty when a TwiML App answers it instead). */
  voiceUrl: string;
  /** The TwiML App (AP…) that answers it, when one does. */
  voiceApplicationSid: string | null;
  /** Whether a call to it reaches this deployment's /voice (directly, or through a TwiML App that does). */
  pointsHere: boolean;
}

/** `/operator-status` answer: whether this deployment is configured and wired, for the status page. */
export interface OperatorStatus {
  /** package.json's version, baked in at build time (`unbuilt` when run from the sources). */
  version: string;
  checkedAt: string;
  /** This deployment's /voice: what the TwiML App and the numbers should point at. */
  voiceUrl: string;
  configuration: { level: StatusLevel; complete: boolean; detail: string; variables: VariableStatus[] };
  sync: { level: StatusLevel; service: string; detail: string; twilioCode?: number };
  twimlApp: {
    level: StatusLevel;
    detail: string;
    sid?: string;
    friendlyName?: string;
    voiceUrl?: string;
    pointsHere?: boolean;
    twilioCode?: number;
  };
  numbers: { level: StatusLevel; detail: string; numbers: NumberStatus[]; more?: boolean; twilioCode?: number };
}

/** `/send-message` answer. */
export interface SendMessageResult {
  sid: string | null;
  callSid: string;
  idempotencyKey: string;
  /** `sent` = sent now; `already-sent` = an earlier request with this idempotencyKey sent it. */
  outcome: 'sent' | 'already-sent';
}

/**
 * Where a `/token` caller runs (its `platform` input): `web` (the default: the JS SDK, no push),
 * or a mobile SDK, whose token carries that platform's push credential so it can be woken for an
 * incoming call (iOS: an APNs VoIP credential; Android: an FCM one). React Native asks for the
 * platform it runs on.
 */
export const TOKEN_PLATFORMS = ['web', 'ios', 'android'] as const;
export type TokenPlatform = (typeof TOKEN_PLATFORMS)[number];

/** CONFERENCE_MODE: `off` (bridged <Dial>, the default), `always`, or `on-request` (an SDK caller asks). */
export const CONFERENCE_MODES = ['off', 'always', 'on-request'] as const;
export type ConferenceMode = (typeof CONFERENCE_MODES)[number];
/** The custom parameter an SDK caller sets to ask for a room (`device.connect({params: {cmeMode: 'conference'}})`). */
export const CONFERENCE_MODE_PARAMETER = 'cmeMode';

/** What became of one leg's share of a broadcast (`not-active`: the leg was gone; `failed`: retry). */
export type BroadcastLegOutcome = 'sent' | 'already-sent' | 'not-active' | 'failed';

/** `/conference-send`'s answer: each SDK participant's leg the broadcast went to, and how. */
export interface BroadcastAnswer {
  conference: string;
  idempotencyKey: string;
  legs: Record<string, BroadcastLegOutcome>;
}

/** One message of a room's history (`/conference-messages`). */
export interface ConferenceMessage {
  direction: 'from-sdk' | 'to-sdk';
  /** The participant's leg; `broadcast` for a message sent to every SDK participant. */
  callSid: string;
  identity?: string;
  sid?: string;
  sequence?: number;
  timestamp: string;
  /** The content as sent (JSON text); null when it could no longer be read from its leg. */
  content: string | null;
  /** A broadcast's key and the legs it went to. */
  idempotencyKey?: string;
  legs?: string[];
  /** Pass as `after` to read on from this message. */
  cursor: string;
}

export interface ConferenceMessagesPage {
  conference: string;
  messages: ConferenceMessage[];
  /** Present when more follow: pass as `after`. */
  next?: string;
}

/** What /conference-participant (and the conference routes' participant actions) can do. */
export const PARTICIPANT_ACTIONS = ['add', 'hold', 'unhold', 'mute', 'unmute', 'remove'] as const;
export type ParticipantAction = (typeof PARTICIPANT_ACTIONS)[number];

/** A room as its conference events recorded it (`action: room`): who is and was in it. */
export interface ConferenceRoom {
  conference: string;
  status: 'init' | 'in-progress' | 'ended';
  /** CF…, once Twilio's first event named it. */
  conferenceSid?: string;
  participants: {
    callSid: string;
    /** The SDK identity; none for a phone. */
    identity?: string;
    label?: string;
    /** In the room now (its last stint has a join and no leave). */
    present: boolean;
    hold: boolean;
    muted: boolean;
    /** Each time in the room (ISO 8601, Twilio's clock). */
    stints: { joinedAt?: string; leftAt?: string }[];
  }[];
}
