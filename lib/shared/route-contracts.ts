// One contract per route: its path, who may call it, how, what it takes and what it answers. The
// rest is checked against this list by tests (tests/unit/route-contracts.test.ts): the README's
// route table, the files in functions/ and their options, and the error codes each route answers.
// A function's header comment points here instead of restating it. Pure data: pages may import it.
import type { ErrorCode } from './error-catalogue';

/**
 * Who may call a route: Twilio (or your backend) signing with X-Twilio-Signature (`.protected`);
 * your backend with a key of BACKEND_API_KEYS (`Authorization: Bearer <key>`); a bearer agent
 * session (/agent-session) or operator session (/operator-session); anyone.
 */
export type RouteAccess = 'twilio-signed' | 'backend-key' | 'agent-session' | 'operator-session' | 'public';

/** How each access reads in the README's route table. */
export const ACCESS_LABELS: Record<RouteAccess, string> = {
  'twilio-signed': 'Twilio-signed',
  'backend-key': 'backend key',
  'agent-session': 'agent session',
  'operator-session': 'operator session',
  public: 'public',
};

export interface RouteInput {
  name: string;
  /** Refused (4xx) when absent. */
  required: boolean;
  /** A secret: refused with 400 secret-in-url unless the request body can have carried it. */
  bodyOnly?: boolean;
}

/** The named shapes of 2xx answers (the TypeScript ones are in lib/shared/api-types.ts). */
export const ANSWER_SHAPES = {
  TwiML: '<Response> XML: <Dial> to a client or number, or <Say> + <Hangup>',
  CallStatusAnswer: '{status, legs: {<CallSid>: outcome}}',
  BroadcastAnswer: '{conference, idempotencyKey, legs: {<CallSid>: sent|already-sent|not-active|failed}}',
  ConferenceMessagesPage:
    '{conference, messages: [{direction, callSid, identity?, sid?, sequence?, timestamp, content, legs?, cursor}], next?}',
  ParticipantAnswer: '{conference, action, callSid}',
  ConferenceAnswer:
    'by action: send → BroadcastAnswer (201), messages → ConferenceMessagesPage, others → ParticipantAnswer',
  ConferenceStatusAnswer: '{event, conference, outcome: applied|duplicate|ignored, legs?: {<CallSid>: outcome}}',
  MessageCallbackAnswer:
    '{sid, outcome: stored|duplicate, verification, forwarded?, reply?, valid?, rule?, irregular?}',
  SendMessageResult: '{sid, callSid, idempotencyKey, outcome: sent|already-sent}',
  CallMessagesPage: '{callSid, state?, order, messages: [{sid, direction, …, content, data?, cursor}], nextPageToken}',
  AgentSession: '{session, identity, displayName, expiresAt}',
  VoiceToken: '{identity, token, ttl}',
  ClientConfig: '{sandbox: false} or {sandbox: true, chunderw, certificateUrl, sounds}',
  OperatorSession: '{session, expiresAt}',
  OperatorSyncToken: '{identity, token, ttl, sandbox?: {twilsock, cds}}',
  OperatorStatus: '{version, checkedAt, voiceUrl, configuration, sync, twimlApp, numbers} (each check with its level)',
  OperatorCallsPage:
    '{calls: [{callSid, createdAt, status, active, state, endUnknown?, unchanged?}], activeTtlSeconds, partial?}',
  AgentList: '{agents: [{identity, displayName, enabled, createdAt, updatedAt}]}',
  AgentAnswer: '{agent, password?} (password only when generated, shown once)',
} as const;
export type AnswerShape = keyof typeof ANSWER_SHAPES;

export interface RouteContract {
  path: `/${string}`;
  /** The methods callers use (the runtime does not refuse others). */
  methods: readonly ('GET' | 'POST')[];
  access: RouteAccess;
  summary: string;
  inputs: readonly RouteInput[];
  /** 2xx status → the shape of the body. */
  answers: Readonly<Partial<Record<200 | 201, AnswerShape>>>;
  /** The route's own error codes; every route may also answer COMMON_ERRORS (and signed ones SIGNED_ERRORS). */
  errors: readonly ErrorCode[];
}

/** What any route may answer: a query or body that wrote `request`, a misconfigured deployment, Twilio failing or refusing, a bug. */
export const COMMON_ERRORS: readonly ErrorCode[] = [
  'request-key-reserved',
  'request-too-large',
  'configuration-missing',
  'configuration-invalid',
  'twilio-unavailable',
  'twilio-error',
  'internal-error',
];
/** What a Twilio-signed route may also answer. */
export const SIGNED_ERRORS: readonly ErrorCode[] = ['signature-invalid'];
/** What a backend-key route may also answer: no key (or a wrong one), a key without the scope, a locked key id. */
export const BACKEND_KEY_ERRORS: readonly ErrorCode[] = [
  'backend-key-invalid',
  'backend-key-scope',
  'sign-in-throttled',
];

const required = (name: string, bodyOnly = false): RouteInput => ({
  name,
  required: true,
  ...(bodyOnly ? { bodyOnly } : {}),
});
const optional = (name: string, bodyOnly = false): RouteInput => ({
  name,
  required: false,
  ...(bodyOnly ? { bodyOnly } : {}),
});

const HISTORY_INPUTS = [
  required('callSid'),
  optional('pageSize'),
  optional('order'),
  optional('pageToken'),
  optional('after'),
];
const HISTORY_ERRORS: readonly ErrorCode[] = [
  'call-sid-invalid',
  'page-size-invalid',
  'paging-invalid',
  'order-invalid',
  'after-invalid',
  'page-token-invalid',
  'call-not-found',
];
// Exactly one of callSid and identity (target-invalid otherwise). A send answers 409 send-in-progress
// and 503 twilio-unavailable with Retry-After: retried then with the same idempotencyKey, it goes on.
const SEND_INPUTS = [optional('callSid'), optional('identity'), required('content'), optional('idempotencyKey')];
const SEND_ERRORS: readonly ErrorCode[] = [
  'content-missing',
  'content-invalid',
  'content-too-long',
  'content-schema-invalid',
  'idempotency-key-invalid',
  'target-invalid',
  'call-sid-invalid',
  'identity-invalid',
  'call-not-found',
  'call-not-active',
  'call-ambiguous',
  'send-in-progress',
  'idempotency-key-reused',
  'record-failed',
];

// A conference room's history; `as` narrows it to what one SDK identity may see.
const CONFERENCE_HISTORY_INPUTS = [required('conference'), optional('pageSize'), optional('after'), optional('as')];
const CONFERENCE_HISTORY_ERRORS: readonly ErrorCode[] = [
  'conference-unknown',
  'conference-not-found',
  'page-size-invalid',
  'after-invalid',
  'identity-invalid',
];
const CONFERENCE_SEND_ERRORS: readonly ErrorCode[] = [
  'conference-unknown',
  'conference-not-found',
  'conference-ended',
  'content-missing',
  'content-invalid',
  'content-too-long',
  'content-schema-invalid',
  'idempotency-key-invalid',
  'idempotency-key-reused',
  'record-contended',
  'twilio-unavailable',
];
// `action`: add (with `to`, an SDK identity), hold, unhold, mute, unmute, remove (with callSid or identity).
const PARTICIPANT_INPUTS = [
  required('conference'),
  required('action'),
  optional('callSid'),
  optional('identity'),
  optional('to'),
];
const PARTICIPANT_ERRORS: readonly ErrorCode[] = [
  'conference-unknown',
  'conference-not-found',
  'conference-ended',
  'action-invalid',
  'target-invalid',
  'call-sid-invalid',
  'identity-invalid',
  'participant-not-found',
  'twilio-error',
  'twilio-unavailable',
];
// One route per role for everything a room offers: `action` is send, messages, or a participant action.
const CONFERENCE_ACTION_INPUTS = [
  ...PARTICIPANT_INPUTS,
  optional('content'),
  optional('idempotencyKey'),
  optional('pageSize'),
  optional('after'),
  optional('as'),
];
const CONFERENCE_ACTION_ERRORS: readonly ErrorCode[] = [
  ...new Set([...PARTICIPANT_ERRORS, ...CONFERENCE_SEND_ERRORS, ...CONFERENCE_HISTORY_ERRORS]),
];

export const ROUTE_CONTRACTS: readonly RouteContract[] = [
  {
    path: '/voice',
    methods: ['POST'],
    access: 'twilio-signed',
    summary: 'Voice URL of your numbers and of the TwiML App the SDK calls through: TwiML for each call.',
    inputs: [optional('From'), optional('To'), optional('Caller')],
    answers: { 200: 'TwiML' },
    errors: [],
  },
  {
    path: '/call-status',
    methods: ['POST'],
    access: 'twilio-signed',
    summary: 'Status callback of the <Dial> nouns /voice writes: subscribes each SDK leg, then closes it out.',
    inputs: [
      required('CallSid'),
      optional('ParentCallSid'),
      required('CallStatus'),
      optional('CallDuration'),
      optional('From'),
      optional('To'),
      required('cme_sdk'),
      optional('cme_parent'),
      optional('cme_child'),
      optional('cme_conf'),
    ],
    answers: { 200: 'CallStatusAnswer' },
    errors: [
      'call-status-missing',
      'legs-unknown',
      'call-status-invalid',
      'record-contended',
      'record-failed',
      'subscription-in-flight',
    ],
  },
  {
    path: '/conference-status',
    methods: ['POST'],
    access: 'twilio-signed',
    summary: 'Conference events of the rooms /voice opens: subscribes each SDK participant, records who is in.',
    inputs: [
      required('FriendlyName'),
      required('StatusCallbackEvent'),
      required('SequenceNumber'),
      optional('ConferenceSid'),
      optional('Timestamp'),
      optional('CallSid'),
      optional('ParticipantLabel'),
      optional('ParticipantCallStatus'),
      optional('ReasonParticipantLeft'),
      optional('ReasonConferenceEnded'),
      required('cme_conf'),
    ],
    answers: { 200: 'ConferenceStatusAnswer' },
    errors: [
      'conference-unknown',
      'conference-mismatch',
      'conference-event-missing',
      'sequence-invalid',
      'call-sid-invalid',
      'record-contended',
      'record-failed',
      'subscription-in-flight',
    ],
  },
  {
    path: '/message-callback',
    methods: ['POST', 'GET'],
    access: 'twilio-signed',
    summary: "Callback of each leg's message subscription: stores a message from the SDK once (and forwards it).",
    inputs: [
      required('cme_leg'),
      required('cme_issued'),
      required('cme_token'),
      optional('cme_parent'),
      optional('cme_identity'),
      required('CallSid'),
      required('AccountSid'),
      required('Sid'),
      required('SequenceNumber'),
      required('Content'),
      optional('ContentType'),
      optional('Timestamp'),
    ],
    answers: { 200: 'MessageCallbackAnswer' },
    errors: [
      'callback-token-invalid',
      'callback-expired',
      'account-mismatch',
      'sequence-invalid',
      'content-too-long',
      'callback-unverified',
      'call-ended',
      'forwarding-failed',
    ],
  },
  {
    path: '/send-message',
    methods: ['POST'],
    access: 'twilio-signed',
    summary: "Server → SDK: sends a message to a call's Voice SDK, exactly once per idempotencyKey.",
    inputs: SEND_INPUTS,
    answers: { 201: 'SendMessageResult', 200: 'SendMessageResult' },
    errors: SEND_ERRORS,
  },
  {
    path: '/call-messages',
    methods: ['GET', 'POST'],
    access: 'twilio-signed',
    summary: "An SDK leg's state and messages both ways, in order, a page at a time.",
    inputs: HISTORY_INPUTS,
    answers: { 200: 'CallMessagesPage' },
    errors: HISTORY_ERRORS,
  },
  {
    path: '/conference-send',
    methods: ['POST'],
    access: 'twilio-signed',
    summary:
      'Server → every SDK participant of a conference room: one message per leg, exactly once per idempotencyKey.',
    inputs: [required('conference'), required('content'), required('idempotencyKey')],
    answers: { 201: 'BroadcastAnswer' },
    errors: CONFERENCE_SEND_ERRORS,
  },
  {
    path: '/conference-messages',
    methods: ['POST'],
    access: 'twilio-signed',
    summary: "A conference room's history: its participants' messages both ways and its broadcasts, oldest first.",
    inputs: CONFERENCE_HISTORY_INPUTS,
    answers: { 200: 'ConferenceMessagesPage' },
    errors: CONFERENCE_HISTORY_ERRORS,
  },
  {
    path: '/conference-participant',
    methods: ['POST'],
    access: 'twilio-signed',
    summary: "Hold, unhold, mute, unmute, add (an SDK identity) or remove a room's participant: a warm transfer.",
    inputs: PARTICIPANT_INPUTS,
    answers: { 201: 'ParticipantAnswer', 200: 'ParticipantAnswer' },
    errors: PARTICIPANT_ERRORS,
  },
  {
    path: '/backend-send',
    methods: ['POST'],
    access: 'backend-key',
    summary: 'What /send-message does, for your backend with a key that may send (no Auth Token).',
    inputs: SEND_INPUTS,
    answers: { 201: 'SendMessageResult', 200: 'SendMessageResult' },
    errors: [...BACKEND_KEY_ERRORS, ...SEND_ERRORS],
  },
  {
    path: '/backend-messages',
    methods: ['GET', 'POST'],
    access: 'backend-key',
    summary: 'What /call-messages answers, for your backend with a key that may read (no Auth Token).',
    inputs: HISTORY_INPUTS,
    answers: { 200: 'CallMessagesPage' },
    errors: [...BACKEND_KEY_ERRORS, ...HISTORY_ERRORS],
  },
  {
    path: '/backend-conference',
    methods: ['POST'],
    access: 'backend-key',
    summary:
      'Conference rooms for your backend with a key: action send (/conference-send), messages (read scope), or a participant action.',
    inputs: CONFERENCE_ACTION_INPUTS,
    answers: { 201: 'ConferenceAnswer', 200: 'ConferenceAnswer' },
    errors: [...BACKEND_KEY_ERRORS, ...CONFERENCE_ACTION_ERRORS],
  },
  {
    path: '/agent-session',
    methods: ['POST'],
    access: 'public',
    summary: 'An agent signs in (throttled): an 8-hour agent session for /token.',
    inputs: [required('identity'), required('password', true)],
    answers: { 200: 'AgentSession' },
    errors: [
      'identity-invalid',
      'password-invalid',
      'sign-in-invalid',
      'agent-disabled',
      'sign-in-throttled',
      'secret-in-url',
    ],
  },
  {
    path: '/token',
    methods: ['POST'],
    access: 'agent-session',
    summary:
      'A Voice access token for the signed-in agent (or, server to server with Bearer TOKEN_SECRET, any identity).',
    inputs: [optional('identity'), optional('platform')],
    answers: { 200: 'VoiceToken' },
    errors: ['token-auth-invalid', 'identity-not-yours', 'agent-disabled', 'identity-invalid', 'platform-invalid'],
  },
  {
    path: '/client-config',
    methods: ['GET'],
    access: 'public',
    summary: "How the softphone's Voice SDK Device connects (the sandbox's gateway, or Twilio).",
    inputs: [],
    answers: { 200: 'ClientConfig' },
    errors: [],
  },
  {
    path: '/operator-session',
    methods: ['POST'],
    access: 'public',
    summary: 'The operator console logs in with OPERATOR_SECRET (throttled): a 1-hour operator session.',
    inputs: [required('secret', true)],
    answers: { 200: 'OperatorSession' },
    errors: ['operator-secret-invalid', 'sign-in-throttled', 'secret-in-url'],
  },
  {
    path: '/operator-calls',
    methods: ['GET'],
    access: 'operator-session',
    summary: 'Recent Voice SDK legs, newest first, with their state.',
    inputs: [optional('limit'), optional('final'), optional('count')],
    answers: { 200: 'OperatorCallsPage' },
    errors: ['operator-session-invalid', 'limit-invalid'],
  },
  {
    path: '/operator-sync-token',
    methods: ['GET'],
    access: 'operator-session',
    summary: "A Sync access token for the console's live channel, as long as the session lasts.",
    inputs: [],
    answers: { 200: 'OperatorSyncToken' },
    errors: ['operator-session-invalid'],
  },
  {
    path: '/operator-status',
    methods: ['GET'],
    access: 'operator-session',
    summary:
      'The status page: variables set or missing (never values), Sync, the TwiML App and numbers pointing here, the version.',
    inputs: [],
    answers: { 200: 'OperatorStatus' },
    errors: ['operator-session-invalid'],
  },
  {
    path: '/operator-messages',
    methods: ['GET', 'POST'],
    access: 'operator-session',
    summary: 'What /call-messages answers, for the operator.',
    inputs: HISTORY_INPUTS,
    answers: { 200: 'CallMessagesPage' },
    errors: ['operator-session-invalid', ...HISTORY_ERRORS],
  },
  {
    path: '/operator-send',
    methods: ['POST'],
    access: 'operator-session',
    summary: 'What /send-message does, for the operator.',
    inputs: SEND_INPUTS,
    answers: { 201: 'SendMessageResult', 200: 'SendMessageResult' },
    errors: ['operator-session-invalid', ...SEND_ERRORS],
  },
  {
    path: '/operator-conference',
    methods: ['POST'],
    access: 'operator-session',
    summary:
      'What /backend-conference does, for the operator: broadcast, read a room (as an agent), hold, add, remove.',
    inputs: CONFERENCE_ACTION_INPUTS,
    answers: { 201: 'ConferenceAnswer', 200: 'ConferenceAnswer' },
    errors: ['operator-session-invalid', ...CONFERENCE_ACTION_ERRORS],
  },
  {
    path: '/operator-agents',
    methods: ['GET'],
    access: 'operator-session',
    summary: 'Every agent, without credentials.',
    inputs: [],
    answers: { 200: 'AgentList' },
    errors: ['operator-session-invalid'],
  },
  {
    path: '/operator-agents-add',
    methods: ['POST'],
    access: 'operator-session',
    summary: 'A new, enabled agent; an empty password is generated and answered once.',
    inputs: [required('identity'), optional('displayName'), optional('password', true)],
    answers: { 201: 'AgentAnswer' },
    errors: [
      'operator-session-invalid',
      'identity-invalid',
      'display-name-invalid',
      'password-invalid',
      'agent-exists',
      'secret-in-url',
    ],
  },
  {
    path: '/operator-agents-update',
    methods: ['POST'],
    access: 'operator-session',
    summary: 'Disables, enables, renames an agent or resets its password (an empty one is generated).',
    inputs: [required('identity'), required('action'), optional('password', true), optional('displayName')],
    answers: { 200: 'AgentAnswer' },
    errors: [
      'operator-session-invalid',
      'identity-invalid',
      'action-invalid',
      'password-invalid',
      'display-name-invalid',
      'agent-not-found',
      'record-failed',
      'secret-in-url',
    ],
  },
];

/** The file in functions/ that serves a route: `.protected` exactly when Twilio signs its requests. */
export const functionFileOf = (route: RouteContract): string =>
  `${route.path.slice(1)}${route.access === 'twilio-signed' ? '.protected' : ''}.ts`;

/** Every code a route may answer: its own, the common ones, and the signature's when signed. */
export const errorsOf = (route: RouteContract): readonly ErrorCode[] => [
  ...route.errors,
  ...COMMON_ERRORS,
  ...(route.access === 'twilio-signed' ? SIGNED_ERRORS : []),
];
