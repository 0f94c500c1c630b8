// The sandbox's knobs: how it fails (faults), how it delivers webhooks, and which of Twilio's
// undocumented or variable behaviours it plays (the "What is not verified" table, docs/LIMITS.md). Set at start (SandboxOptions
// `profile` and `knobs`), through `POST /sandbox/knobs`, or the typed control client. A profile is a
// named set of knobs: `deterministic` (the defaults) or `realistic` (Twilio's freedoms, on).
import { TwilioApiError } from './http';
import { MISSING_MAP_CODES, TWILIO_WRITE_LIMITS, type MissingMapCode, type SyncWriteLimits } from './rest/sync/state';
import type { WebhookKnobs } from './webhooks';
import { checkFunctionsKnobs, defaultFunctionsKnobs, type FunctionsKnobs } from './functions-gateway';
import { defaultKeyKnobs, type KeyKnobs } from './rest/keys';

export interface RestFaults {
  /** Probability (0-1) that a REST request to a product in `products` fails. */
  rate: number;
  products: ('api' | 'sync')[];
  /** Only requests whose path contains one of these (e.g. `UserDefinedMessages`, `/Items`); unset = all. */
  routes?: string[];
  /** Statuses drawn from when a request fails; 'slow' answers after `slowMs` instead. */
  kinds: (429 | 500 | 503 | 'slow')[];
  slowMs: number;
  /** Added to every REST answer. */
  latencyMs: number;
  /** Jittered latency: each REST and Sync request also waits a random minMs..maxMs; unset = none. */
  latency?: { minMs: number; maxMs: number };
  /**
   * An extra flat limit: Sync writes per second per object whatever their size; unset = none. (Sync's
   * own limits by size are the `sync.writeLimits` knob, on by default.)
   */
  syncWriteRateLimit?: number;
  /** The window that rate is averaged over, in seconds (default 10, Twilio's burst window). */
  syncWriteWindowSeconds?: number;
}

export const noFaults = (): RestFaults => ({
  rate: 0,
  products: ['api', 'sync'],
  kinds: [429, 500, 503],
  slowMs: 4000,
  latencyMs: 0,
});

export interface SyncKnobs {
  /** The code of the 404 for a Map (by unique name or SID) that does not exist, also for its items. */
  missingMapCode: MissingMapCode;
  /**
   * Sync's write limits per object by payload size (Twilio's Limits page; how much stricter over
   * 1 KiB is undocumented: `over1KiB`); null = no limits.
   */
  writeLimits: SyncWriteLimits | null;
}

/**
 * The Sid a message callback carries for an SDK message (the SDK names it): `js` is twilio-voice.js's
 * generator, `KX` + 32 lower-case hex; `uuid` plays an SDK whose format is undocumented (iOS,
 * Android): an upper-case UUID, as `UUID().uuidString` writes one.
 */
export type SdkSidFormat = 'js' | 'uuid';
export const SDK_SID_FORMATS: readonly SdkSidFormat[] = ['js', 'uuid'];

export interface MessageKnobs {
  /** The SequenceNumber of the first SDK message on a leg: 1 (Twilio's examples and e2e tests) or 0 (its prose). */
  firstSequenceNumber: 0 | 1;
  /** The format of an SDK message's Sid (TWILIO-FACTS §10 item 9): `js` (default) or `uuid`. */
  sdkSidFormat: SdkSidFormat;
  /**
   * A UserDefinedMessageSubscription on a leg that is ringing: `accepted` (Twilio's changelog, May
   * 2023, and 31211's text: "at least in the Ringing state") or `refused` with 400 / 31211 (before
   * that change; undocumented whether every edge has it).
   */
  ringingSubscriptions: RingingSubscriptions;
}

export type RingingSubscriptions = 'accepted' | 'refused';
export const RINGING_SUBSCRIPTIONS: readonly RingingSubscriptions[] = ['accepted', 'refused'];

/**
 * The Call resource is "eventually consistent" (Twilio's Call resource page): how far behind. Fetch and
 * list show each call as it was `lagMs` ago (a call younger than that is not there: 404, left out of
 * lists). Whether a subresource create (UserDefinedMessage, subscription) sees the call as it is now or
 * as fetch does is undocumented: `subresources` plays both readings.
 */
export interface CallKnobs {
  lagMs: number;
  /** `current`: creates see the call's real state; `lagged`: they see what fetch sees (20404 / 31211 meanwhile). */
  subresources: CallSubresourceView;
}

export type CallSubresourceView = 'current' | 'lagged';
export const CALL_SUBRESOURCE_VIEWS: readonly CallSubresourceView[] = ['current', 'lagged'];
/** Longest lag the knob takes: well past any invocation (Functions stop at 10 s). */
export const MAX_CALL_LAG_MS = 60_000;

/**
 * What a reused IdempotencyKey does on UserDefinedMessage and UserDefinedMessageSubscription creates
 * (undocumented): `same` returns the first resource; `refused` answers 409 / 20409 (a guess: 20409 is
 * Twilio's generic "Conflict"); `ignored` makes a second resource (a second subscription gets every SDK
 * message too; a second message reaches the SDK again).
 */
export type IdempotencyVariant = 'same' | 'refused' | 'ignored';
export const IDEMPOTENCY_VARIANTS: readonly IdempotencyVariant[] = ['same', 'refused', 'ignored'];

export interface IdempotencyKnobs {
  variant: IdempotencyVariant;
}

/**
 * What Twilio leaves undocumented about Conferences (docs/CONFERENCES.md section 2), default first:
 * - `eventOrder`: conference events delivered `as-sent`, or `reordered` with the call status
 *   callbacks of the same CallSid (held back as `webhooks.statusCallbackOrder: reordered` does, at
 *   `webhooks.reorderRate`; `conference-end` has no CallSid and is never held).
 * - `leaveCallStatus`: `participant-leave` carries `ParticipantCallStatus` and `ReasonParticipantLeft`
 *   `always` (Twilio's changelog, Oct. 2023) or they are `absent` (an account before it).
 * - `subscriptionsInConference`: a UserDefinedMessageSubscription on a leg in a conference `work`s as
 *   on any leg, or is `refused` (400 / 31211).
 * - `hold`: `none` (hold changes nothing for messages) or `udm-refused` (a UserDefinedMessage to a held
 *   participant: 400 / 31211).
 * - `sequence`: `SequenceNumber` per conference from 1, `contiguous` over the events sent, or with
 *   `gaps` (events nobody subscribed to are counted too).
 * - `errorStatus`: the HTTP status of 16xxx errors: `400` for all, or `by-code` (404 for 16022, 409
 *   for 16026, 400 for the others).
 */
export interface ConferenceKnobs {
  eventOrder: 'as-sent' | 'reordered';
  leaveCallStatus: 'always' | 'absent';
  subscriptionsInConference: 'work' | 'refused';
  hold: 'none' | 'udm-refused';
  sequence: 'contiguous' | 'gaps';
  errorStatus: '400' | 'by-code';
}
export const CONFERENCE_KNOB_VALUES: { [K in keyof ConferenceKnobs]: readonly ConferenceKnobs[K][] } = {
  eventOrder: ['as-sent', 'reordered'],
  leaveCallStatus: ['always', 'absent'],
  subscriptionsInConference: ['work', 'refused'],
  hold: ['none', 'udm-refused'],
  sequence: ['contiguous', 'gaps'],
  errorStatus: ['400', 'by-code'],
};
export const defaultConferenceKnobs = (): ConferenceKnobs => ({
  eventOrder: 'as-sent',
  leaveCallStatus: 'always',
  subscriptionsInConference: 'work',
  hold: 'none',
  sequence: 'contiguous',
  errorStatus: '400',
});

export type SandboxProfile = 'deterministic' | 'realistic';
export const SANDBOX_PROFILES: readonly SandboxProfile[] = ['deterministic', 'realistic'];

/** Knob settings, as `POST /knobs` takes them (a profile is one); null switches an optional fault off. */
export interface KnobSettings {
  profile?: SandboxProfile | null;
  faults?: Partial<Record<keyof RestFaults, unknown>>;
  webhooks?: Partial<Record<keyof WebhookKnobs, unknown>>;
  sync?: Partial<Omit<SyncKnobs, 'writeLimits'>> & { writeLimits?: Partial<SyncWriteLimits> | null };
  messages?: Partial<MessageKnobs>;
  idempotency?: Partial<IdempotencyKnobs>;
  calls?: Partial<Record<keyof CallKnobs, unknown>>;
  /** The Functions gateway's limits and readings (sandbox/functions-gateway.ts). */
  functions?: Partial<Record<keyof FunctionsKnobs, unknown>>;
  /** How a Standard API key is refused on /Keys (sandbox/rest/keys.ts). */
  keys?: Partial<Record<keyof KeyKnobs, unknown>>;
  /** Conferences' undocumented behaviours (sandbox/conferences.ts). */
  conferences?: Partial<Record<keyof ConferenceKnobs, unknown>>;
}

export const defaultSyncKnobs = (): SyncKnobs => ({ missingMapCode: 20404, writeLimits: { ...TWILIO_WRITE_LIMITS } });
export const defaultMessageKnobs = (): MessageKnobs => ({
  firstSequenceNumber: 1,
  sdkSidFormat: 'js',
  ringingSubscriptions: 'accepted',
});
export const defaultCallKnobs = (): CallKnobs => ({ lagMs: 0, subresources: 'current' });
export const defaultIdempotencyKnobs = (): IdempotencyKnobs => ({ variant: 'same' });

/**
 * `realistic`: what Twilio is free to do, all at once. A missing Map answers 20404; status callbacks
 * come 0-150 ms late, some held back behind the next one (ringing before initiated, completed before
 * in-progress) and some twice; SDK messages count from 1; every REST and Sync request takes 20-150 ms;
 * the Calls API's fetch and list are a second behind (subresource creates see the call as it is).
 */
export const PROFILES: Record<SandboxProfile, KnobSettings> = {
  // Every knob `realistic` sets, back at its default (other knobs are left as they are).
  deterministic: {
    faults: { latency: null },
    webhooks: {
      statusCallbackOrder: 'as-sent',
      reorderRate: 0.5,
      duplicateRate: 0,
      maxCopies: 1,
      duplicateKinds: ['status', 'message'],
      maxDelayMs: 0,
    },
    sync: { missingMapCode: 20404 },
    messages: { firstSequenceNumber: 1 },
    calls: { lagMs: 0 },
    conferences: { eventOrder: 'as-sent' },
  },
  realistic: {
    faults: { latency: { minMs: 20, maxMs: 150 } },
    webhooks: {
      statusCallbackOrder: 'reordered',
      reorderRate: 0.3,
      duplicateRate: 0.2,
      maxCopies: 2,
      duplicateKinds: ['status'],
      maxDelayMs: 150,
    },
    sync: { missingMapCode: 20404 },
    messages: { firstSequenceNumber: 1 },
    calls: { lagMs: 1000 },
    // Conference events shuffled together with the legs' call status callbacks (CONFERENCES.md 3.8).
    conferences: { eventOrder: 'reordered' },
  },
};

/** Every knob, live: the engine, the Sync router and the webhook sender read these objects. */
export interface Knobs {
  faults: RestFaults;
  webhooks: WebhookKnobs;
  sync: SyncKnobs;
  messages: MessageKnobs;
  idempotency: IdempotencyKnobs;
  calls: CallKnobs;
  functions: FunctionsKnobs;
  keys: KeyKnobs;
  conferences: ConferenceKnobs;
  /** The profile last applied (null: none since start). */
  profile: SandboxProfile | null;
}

const invalid = (message: string) => new TwilioApiError(400, 20001, message);

function section(value: unknown, name: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid(`${name} must be an object`);
  return value as Record<string, unknown>;
}

/** `{minMs, maxMs}` with 0 ≤ minMs ≤ maxMs, or null (off). */
function latencyOf(value: unknown): RestFaults['latency'] {
  if (value === null || value === undefined) return undefined;
  const { minMs, maxMs } = value as { minMs?: unknown; maxMs?: unknown };
  const min = Number(minMs);
  const max = Number(maxMs);
  if (!Number.isFinite(min) || !Number.isFinite(max) || min < 0 || max < min)
    throw invalid('faults.latency must be {minMs, maxMs} with 0 ≤ minMs ≤ maxMs');
  return { minMs: min, maxMs: max };
}

const isRate = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

/**
 * `sync.writeLimits` over the current ones (Twilio's when off): null = off. Each rate is writes/s
 * (null: that tier off), at least one write per window; `over1KiB` may also be `by-size`.
 */
function writeLimitsOf(value: unknown, current: SyncWriteLimits | null): SyncWriteLimits | null {
  if (value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid('sync.writeLimits must be an object or null');
  const limits = { ...(current ?? TWILIO_WRITE_LIMITS), ...(value as Partial<SyncWriteLimits>) };
  const { perSecond, over1KiB, from10KiB, windowSeconds } = limits;
  if (!(isRate(windowSeconds) && windowSeconds >= 1 && windowSeconds <= 60))
    throw invalid('sync.writeLimits.windowSeconds must be 1-60');
  const fits = (rate: unknown) => rate === null || (isRate(rate) && rate * windowSeconds >= 1);
  if (!fits(perSecond) || !fits(from10KiB) || !(over1KiB === 'by-size' || fits(over1KiB)))
    throw invalid(
      'sync.writeLimits: perSecond, over1KiB and from10KiB are writes/s (at least one a window) or null; over1KiB may be by-size',
    );
  return { perSecond, over1KiB, from10KiB, windowSeconds };
}

/**
 * Applies a `POST /knobs` body (or start options) to the live knobs: `profile` first, then each section
 * over it. In `faults`, null switches an optional knob off (JSON has no undefined). Checks what it sets.
 */
export function applyKnobs(knobs: Knobs, settings: KnobSettings): void {
  const body = structuredClone(settings); // the knobs never share objects with what set them (or PROFILES)
  const profile = body.profile ?? undefined;
  if (profile !== undefined && !SANDBOX_PROFILES.includes(profile))
    throw invalid(`profile must be one of ${SANDBOX_PROFILES.join(', ')}`);
  const faults = section(body.faults, 'faults');
  const webhooks = section(body.webhooks, 'webhooks');
  const sync = section(body.sync, 'sync');
  const messages = section(body.messages, 'messages');
  const idempotency = section(body.idempotency, 'idempotency');
  const calls = section(body.calls, 'calls');
  const functions = checkFunctionsKnobs(section(body.functions, 'functions'));
  const keys = section(body.keys, 'keys');
  const conferences = section(body.conferences, 'conferences');
  for (const [k, v] of Object.entries(conferences)) {
    const allowed = (CONFERENCE_KNOB_VALUES as Record<string, readonly unknown[] | undefined>)[k];
    if (!allowed) throw invalid(`conferences.${k} is not a knob`);
    if (!allowed.includes(v)) throw invalid(`conferences.${k} must be one of ${allowed.join(', ')}`);
  }
  if (keys.standardRefusal !== undefined && keys.standardRefusal !== 401 && keys.standardRefusal !== 403)
    throw invalid('keys.standardRefusal must be 401 or 403');
  if ('latency' in faults) faults.latency = latencyOf(faults.latency);
  if (sync.missingMapCode !== undefined && !MISSING_MAP_CODES.includes(Number(sync.missingMapCode) as MissingMapCode))
    throw invalid(`sync.missingMapCode must be one of ${MISSING_MAP_CODES.join(', ')}`);
  const writeLimits = 'writeLimits' in sync ? writeLimitsOf(sync.writeLimits, knobs.sync.writeLimits) : undefined;
  if (messages.firstSequenceNumber !== undefined && ![0, 1].includes(Number(messages.firstSequenceNumber)))
    throw invalid('messages.firstSequenceNumber must be 0 or 1');
  if (messages.sdkSidFormat !== undefined && !SDK_SID_FORMATS.includes(messages.sdkSidFormat as SdkSidFormat))
    throw invalid(`messages.sdkSidFormat must be one of ${SDK_SID_FORMATS.join(', ')}`);
  if (
    messages.ringingSubscriptions !== undefined &&
    !RINGING_SUBSCRIPTIONS.includes(messages.ringingSubscriptions as RingingSubscriptions)
  )
    throw invalid(`messages.ringingSubscriptions must be one of ${RINGING_SUBSCRIPTIONS.join(', ')}`);
  if (
    calls.lagMs !== undefined &&
    (typeof calls.lagMs !== 'number' ||
      !Number.isInteger(calls.lagMs) ||
      calls.lagMs < 0 ||
      calls.lagMs > MAX_CALL_LAG_MS)
  )
    throw invalid(`calls.lagMs must be a whole number of ms from 0 to ${MAX_CALL_LAG_MS}`);
  if (calls.subresources !== undefined && !CALL_SUBRESOURCE_VIEWS.includes(calls.subresources as CallSubresourceView))
    throw invalid(`calls.subresources must be one of ${CALL_SUBRESOURCE_VIEWS.join(', ')}`);
  if (idempotency.variant !== undefined && !IDEMPOTENCY_VARIANTS.includes(idempotency.variant as IdempotencyVariant))
    throw invalid(`idempotency.variant must be one of ${IDEMPOTENCY_VARIANTS.join(', ')}`);
  if (
    webhooks.statusCallbackOrder !== undefined &&
    webhooks.statusCallbackOrder !== 'as-sent' &&
    webhooks.statusCallbackOrder !== 'reordered'
  )
    throw invalid('webhooks.statusCallbackOrder must be as-sent or reordered');

  // Everything is checked before anything changes.
  if (profile !== undefined) {
    applyKnobs(knobs, PROFILES[profile]);
    knobs.profile = profile;
  }
  for (const [k, v] of Object.entries(faults))
    (knobs.faults as unknown as Record<string, unknown>)[k] = v === null ? undefined : v;
  Object.assign(knobs.webhooks, webhooks);
  if (sync.missingMapCode !== undefined) knobs.sync.missingMapCode = Number(sync.missingMapCode) as MissingMapCode;
  if (writeLimits !== undefined) knobs.sync.writeLimits = writeLimits;
  if (messages.firstSequenceNumber !== undefined)
    knobs.messages.firstSequenceNumber = Number(messages.firstSequenceNumber) as 0 | 1;
  if (messages.sdkSidFormat !== undefined) knobs.messages.sdkSidFormat = messages.sdkSidFormat as SdkSidFormat;
  if (messages.ringingSubscriptions !== undefined)
    knobs.messages.ringingSubscriptions = messages.ringingSubscriptions as RingingSubscriptions;
  if (typeof calls.lagMs === 'number') knobs.calls.lagMs = calls.lagMs;
  if (calls.subresources !== undefined) knobs.calls.subresources = calls.subresources as CallSubresourceView;
  if (idempotency.variant !== undefined) knobs.idempotency.variant = idempotency.variant as IdempotencyVariant;
  Object.assign(knobs.functions, functions);
  if (keys.standardRefusal !== undefined) knobs.keys.standardRefusal = keys.standardRefusal;
  Object.assign(knobs.conferences, conferences);
}

/** Faults, Sync, message, idempotency, call, functions and conference knobs back to their defaults (webhook knobs stay as they are). */
export function resetKnobs(knobs: Knobs): void {
  for (const k of Object.keys(knobs.faults)) delete (knobs.faults as unknown as Record<string, unknown>)[k];
  Object.assign(knobs.faults, noFaults());
  Object.assign(knobs.sync, defaultSyncKnobs());
  Object.assign(knobs.messages, defaultMessageKnobs());
  Object.assign(knobs.idempotency, defaultIdempotencyKnobs());
  Object.assign(knobs.calls, defaultCallKnobs());
  Object.assign(knobs.functions, defaultFunctionsKnobs());
  Object.assign(knobs.keys, defaultKeyKnobs());
  Object.assign(knobs.conferences, defaultConferenceKnobs());
  knobs.profile = null;
}

/** The knobs as JSON (GET /knobs). */
export function knobsJson(knobs: Knobs) {
  return {
    profile: knobs.profile,
    faults: knobs.faults,
    webhooks: knobs.webhooks,
    sync: knobs.sync,
    messages: knobs.messages,
    idempotency: knobs.idempotency,
    calls: knobs.calls,
    functions: knobs.functions,
    conferences: knobs.conferences,
  };
}
