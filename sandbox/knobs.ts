// The sandbox's knobs: how it fails (faults), how it delivers webhooks, and which of Twilio's
// undocumented or variable behaviours it plays (the README's "What is not verified" table). Set at start (SandboxOptions
// `profile` and `knobs`), through `POST /sandbox/knobs`, or the typed control client. A profile is a
// named set of knobs: `deterministic` (the defaults) or `realistic` (Twilio's freedoms, on).
import { TwilioApiError } from './http';
import { MISSING_MAP_CODES, type MissingMapCode } from './rest/sync/state';
import type { WebhookKnobs } from './webhooks';
import { checkFunctionsKnobs, defaultFunctionsKnobs, type FunctionsKnobs } from './functions-gateway';

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
  /** Sync writes per second allowed per object (Twilio: 20); unset = unlimited. */
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
}

export interface MessageKnobs {
  /** The SequenceNumber of the first SDK message on a leg: 1 (Twilio's examples and e2e tests) or 0 (its prose). */
  firstSequenceNumber: 0 | 1;
}

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

export type SandboxProfile = 'deterministic' | 'realistic';
export const SANDBOX_PROFILES: readonly SandboxProfile[] = ['deterministic', 'realistic'];

/** Knob settings, as `POST /knobs` takes them (a profile is one); null switches an optional fault off. */
export interface KnobSettings {
  profile?: SandboxProfile | null;
  faults?: Partial<Record<keyof RestFaults, unknown>>;
  webhooks?: Partial<Record<keyof WebhookKnobs, unknown>>;
  sync?: Partial<SyncKnobs>;
  messages?: Partial<MessageKnobs>;
  idempotency?: Partial<IdempotencyKnobs>;
  /** The Functions gateway's limits and readings (sandbox/functions-gateway.ts). */
  functions?: Partial<Record<keyof FunctionsKnobs, unknown>>;
}

export const defaultSyncKnobs = (): SyncKnobs => ({ missingMapCode: 20404 });
export const defaultMessageKnobs = (): MessageKnobs => ({ firstSequenceNumber: 1 });
export const defaultIdempotencyKnobs = (): IdempotencyKnobs => ({ variant: 'same' });

/**
 * `realistic`: what Twilio is free to do, all at once. A missing Map answers 20404; status callbacks
 * come 0-150 ms late, some held back behind the next one (ringing before initiated, completed before
 * in-progress) and some twice; SDK messages count from 1; every REST and Sync request takes 20-150 ms.
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
  },
};

/** Every knob, live: the engine, the Sync router and the webhook sender read these objects. */
export interface Knobs {
  faults: RestFaults;
  webhooks: WebhookKnobs;
  sync: SyncKnobs;
  messages: MessageKnobs;
  idempotency: IdempotencyKnobs;
  functions: FunctionsKnobs;
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
  const functions = checkFunctionsKnobs(section(body.functions, 'functions'));
  if ('latency' in faults) faults.latency = latencyOf(faults.latency);
  if (sync.missingMapCode !== undefined && !MISSING_MAP_CODES.includes(Number(sync.missingMapCode) as MissingMapCode))
    throw invalid(`sync.missingMapCode must be one of ${MISSING_MAP_CODES.join(', ')}`);
  if (messages.firstSequenceNumber !== undefined && ![0, 1].includes(Number(messages.firstSequenceNumber)))
    throw invalid('messages.firstSequenceNumber must be 0 or 1');
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
  if (messages.firstSequenceNumber !== undefined)
    knobs.messages.firstSequenceNumber = Number(messages.firstSequenceNumber) as 0 | 1;
  if (idempotency.variant !== undefined) knobs.idempotency.variant = idempotency.variant as IdempotencyVariant;
  Object.assign(knobs.functions, functions);
}

/** Faults, Sync, message, idempotency and functions knobs back to their defaults (webhook knobs stay as they are). */
export function resetKnobs(knobs: Knobs): void {
  for (const k of Object.keys(knobs.faults)) delete (knobs.faults as unknown as Record<string, unknown>)[k];
  Object.assign(knobs.faults, noFaults());
  Object.assign(knobs.sync, defaultSyncKnobs());
  Object.assign(knobs.messages, defaultMessageKnobs());
  Object.assign(knobs.idempotency, defaultIdempotencyKnobs());
  Object.assign(knobs.functions, defaultFunctionsKnobs());
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
    functions: knobs.functions,
  };
}
