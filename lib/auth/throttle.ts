// Sign-in throttling (agents, the operator, and backend keys), per account only. A Function never
// learns the client's address (Twilio strips X-Forwarded-For and X-Real-IP: TWILIO-FACTS §9), so
// nothing here is counted per client: a counter that every stranger shared would let anyone lock
// everyone out.
//
// Each account that exists (`agent.<identity>`, `operator`, `backend-key.<id>`) has at most one
// counter, a Sync Document `cme.throttle.identity.<digest>`: its failures since the last success
// and the lock the last failure set. The first SIGN_IN_SLOWING.freeFailures failures lock nothing; each one after
// locks the account for twice as long as the one before, from firstLockSeconds up to
// maxLockSeconds. While locked, every attempt (the right credential too) gets 429 with Retry-After
// and is not counted; the lock never lasts longer than maxLockSeconds past the last failure.
// Failures are forgotten after forgetAfterSeconds without one, or at the next success.
//
// An attempt is counted *before* its credential is known (the route checks it meanwhile) and
// given back when it succeeds: a burst of parallel guesses is counted as it arrives, each write
// checked against the revision it read (If-Match), so no more attempts get an answer than the
// counter allows. Identities that do not exist get no counter at all (the route checks first): a
// stranger's guesses at made-up identities cost no Sync write and lock no one out.
import { createHash } from 'node:crypto';
import type { Config } from '../platform/config';
import { apiError, HttpError } from '../shared/error-catalogue';
import { routeLog } from '../platform/log';
import type { TwilioClient } from '../platform/twilio-client';
import { logUnreadable, parseThrottleCounter, type ThrottleCounter } from '../store/records';
import { isDocumentRevisionMismatch, isNameTaken, isNotFound, SyncAccess } from '../store/sync';

export const SIGN_IN_SLOWING = {
  /** Failures in a row that lock nothing (typos, a forgotten caps lock). */
  freeFailures: 5,
  /** The lock after the first failure past the free ones; each further failure doubles it... */
  firstLockSeconds: 60,
  /** ...up to this: how long a stranger's last wrong guess can keep the owner out. */
  maxLockSeconds: 900,
  /** A day without a failure forgets the failures. */
  forgetAfterSeconds: 86_400,
} as const;

/** How long the account is locked once `failures` failures in a row have been counted. */
export function lockSecondsAfter(failures: number): number {
  const { freeFailures, firstLockSeconds, maxLockSeconds } = SIGN_IN_SLOWING;
  if (failures < freeFailures) return 0;
  // The exponent is capped so that the power stays finite whatever the count.
  return Math.min(maxLockSeconds, firstLockSeconds * 2 ** Math.min(failures - freeFailures, 30));
}

const DOCUMENT_PREFIX = 'cme.throttle.identity';
/** Revision races to retry before refusing (only a burst on one counter gets this far). */
const MAX_RACES = 5;

/** An account's counter Document name: a digest, so any account makes a short, valid unique name. */
export function counterName(account: string): string {
  return `${DOCUMENT_PREFIX}.${createHash('sha256').update(account).digest('hex').slice(0, 40)}`;
}

function throttled(retryAfterSeconds: number): HttpError {
  const seconds = Math.max(1, Math.ceil(retryAfterSeconds));
  return apiError('sign-in-throttled', `Too many failed sign-ins; try again in ${seconds} seconds.`, {
    details: { retryAfter: seconds },
    headers: { 'Retry-After': String(seconds) },
  });
}

/** A counter as read: its data (undefined when it does not parse) and revision; undefined when there is none. */
interface Stored {
  counter: ThrottleCounter | undefined;
  revision: string;
}

/** An account's counter as read by `read()`, not locked at that moment. */
export interface CounterRead {
  readonly account: string;
  readonly stored: Stored | undefined;
}

/** One counted attempt: `succeeded()` clears the account's failures. */
export interface SignInAttempt {
  succeeded(): Promise<void>;
}

export class SignInThrottle extends SyncAccess {
  constructor(
    client: TwilioClient,
    config: Pick<Config, 'syncServiceSid'>,
    deadline?: number,
    private readonly now: () => number = Date.now,
  ) {
    super(client, config, deadline);
  }

  /** Reads an account's counter (one Sync read, no write); throws 429 while the account is locked. */
  async read(account: string): Promise<CounterRead> {
    const stored = await this.load(counterName(account));
    this.refuseIfLocked(stored);
    return { account, stored };
  }

  /**
   * Counts one attempt on the account read by `read()` (one write, more only when parallel attempts
   * race), before its credential is known; throws 429 when the account has been locked meanwhile.
   */
  async count(read: CounterRead): Promise<SignInAttempt> {
    const name = counterName(read.account);
    const documents = this.documents();
    const { forgetAfterSeconds } = SIGN_IN_SLOWING;
    let stored = read.stored;
    for (let race = 0; race < MAX_RACES; race++) {
      this.refuseIfLocked(stored);
      const failures = this.failures(stored) + 1;
      const now = this.now();
      const next: ThrottleCounter = {
        count: failures,
        lockedUntil: new Date(now + lockSecondsAfter(failures) * 1000).toISOString(),
        forgetAt: new Date(now + forgetAfterSeconds * 1000).toISOString(),
      };
      try {
        if (stored) {
          const { revision } = stored;
          await this.retry(() => documents(name).update({ data: next, ifMatch: revision, ttl: forgetAfterSeconds }));
        } else {
          await this.retry(() => documents.create({ uniqueName: name, data: next, ttl: forgetAfterSeconds }));
        }
        return { succeeded: () => this.clear(name) };
      } catch (err) {
        const raced = stored ? isDocumentRevisionMismatch(err) || isNotFound(err) : isNameTaken(err);
        if (!raced) throw err;
      }
      stored = await this.load(name);
    }
    // Only a burst of parallel attempts on one counter loses this many races: refuse this one.
    throw throttled(1);
  }

  /**
   * For a credential checked without counting first (a backend key: a constant-time compare, no
   * scrypt to overlap): forgets the account's failures once its credential is proved. A write only
   * when it has a counter.
   */
  async forgive(read: CounterRead): Promise<void> {
    if (read.stored) await this.clear(counterName(read.account));
  }

  /** `read()` then `count()`: for an account that always exists (the operator). */
  async begin(account: string): Promise<SignInAttempt> {
    return this.count(await this.read(account));
  }

  private async load(name: string): Promise<Stored | undefined> {
    const doc = await this.fetchDocument(name);
    if (!doc) return undefined;
    const counter = parseThrottleCounter(doc.data);
    if (!counter) logUnreadable(name);
    return { counter, revision: doc.revision };
  }

  /** Failures still remembered: none when forgotten, or when the counter does not parse. */
  private failures(stored: Stored | undefined): number {
    const counter = stored?.counter;
    if (!counter || !(Date.parse(counter.forgetAt) > this.now())) return 0;
    return Math.max(0, Math.floor(counter.count));
  }

  private refuseIfLocked(stored: Stored | undefined): void {
    if (!this.failures(stored)) return;
    const lockedUntil = Date.parse(String(stored?.counter?.lockedUntil));
    const wait = lockedUntil - this.now();
    // Never longer than the cap, whatever the stored time says (another invocation's clock).
    if (wait > 0) throw throttled(Math.min(wait / 1000, SIGN_IN_SLOWING.maxLockSeconds));
  }

  /** Forgets an account's failures (its owner just proved the credential). Best effort. */
  private async clear(name: string): Promise<void> {
    try {
      await this.retry(() => this.documents()(name).remove());
    } catch (err) {
      // A counter left behind only slows its owner's next mistakes; it is forgotten in a day.
      if (!isNotFound(err)) routeLog('throttle').info({ error: 'release-failed' });
    }
  }
}
