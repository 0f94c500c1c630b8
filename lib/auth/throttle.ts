// Sign-in throttling (agents and the operator): failed attempts counted per identity and per source
// in Sync, each counter its own Document (`cme.throttle.<kind>.<digest>`) with a TTL, so counters
// never share Sync's per-object write rate and vanish on their own.
//
// An attempt is counted *before* the credential is checked and given back when it succeeds: a
// burst of parallel guesses is counted as it arrives, not after every guess has been answered.
// Revision checks (If-Match) make concurrent attempts count one by one. A counter's window starts
// at its first attempt and is not extended; past the limit every attempt (right or wrong) gets 429
// with Retry-After until the window ends.
import { createHash } from 'node:crypto';
import type { Config } from '../platform/config';
import { apiError, HttpError } from '../shared/error-catalogue';
import { isTwilioRestError, twilioCode } from '../platform/errors';
import { logEvent } from '../platform/log';
import { withRetry } from '../platform/retry';
import type { TwilioClient } from '../platform/twilio-client';

export interface ThrottleLimit {
  /** Attempts allowed in one window (failed ones; a successful one is given back). */
  attempts: number;
  windowSeconds: number;
}

export const THROTTLE_LIMITS = {
  /** One account (an agent identity, or the operator). */
  identity: { attempts: 5, windowSeconds: 900 },
  /** One source address: several agents behind one office NAT must still be able to mistype. */
  source: { attempts: 20, windowSeconds: 900 },
} as const satisfies Record<string, ThrottleLimit>;

const DOCUMENT_PREFIX = 'cme.throttle';
/** Revision races to retry before refusing (only a burst on one counter gets this far). */
const MAX_RACES = 5;

interface Counter {
  count: number;
  /** ISO 8601: the end of this counter's window (kept in the data: Sync's TTL is approximate). */
  until: string;
}

/** A counter as one attempt left it: its data and the revision that write produced. */
interface Written {
  data: Counter;
  revision: string;
}

/**
 * The client address: the first hop of X-Forwarded-For (what the client's side of the proxy saw).
 * A client can forge that header, so per-source counting is best effort; per-identity counting
 * does not depend on it.
 */
export function requestSource(headers: Record<string, unknown>): string {
  const forwarded = headers['x-forwarded-for'];
  const header = Array.isArray(forwarded) ? String(forwarded[0]) : typeof forwarded === 'string' ? forwarded : '';
  // split always yields at least one part, so the default is never used.
  const first = (header.split(',')[0] ?? '').trim().toLowerCase();
  return /^[0-9a-f.:[\]]{2,64}$/.test(first) ? first : 'unknown';
}

/** A counter's Sync Document name: a digest, so any identity or address makes a short, valid unique name. */
export function counterName(kind: 'identity' | 'source', value: string): string {
  return `${DOCUMENT_PREFIX}.${kind}.${createHash('sha256').update(value).digest('hex').slice(0, 40)}`;
}

const isMissing = (err: unknown) => isTwilioRestError(err) && err.status === 404;
const isTaken = (err: unknown) => twilioCode(err) === 54301 || (isTwilioRestError(err) && err.status === 409);
// Sync's revision mismatch: 54103 for Documents; the HTTP status (412) is not documented.
const isStale = (err: unknown) => twilioCode(err) === 54103 || (isTwilioRestError(err) && err.status === 412);

function throttled(retryAfterSeconds: number): HttpError {
  const seconds = Math.max(1, Math.ceil(retryAfterSeconds));
  return apiError('sign-in-throttled', `Too many failed sign-ins; try again in ${seconds} seconds.`, {
    details: { retryAfter: seconds },
    headers: { 'Retry-After': String(seconds) },
  });
}

/** One counted attempt: `succeeded()` gives it back (and clears the identity's failures). */
export interface SignInAttempt {
  succeeded(): Promise<void>;
}

export class SignInThrottle {
  constructor(
    private readonly client: TwilioClient,
    private readonly config: Pick<Config, 'syncServiceSid'>,
    /** No retry runs past this time (ms since epoch): the invocation's deadline. */
    private readonly deadline?: number,
    private readonly now: () => number = Date.now,
  ) {}

  private documents() {
    return this.client.sync.v1.services(this.config.syncServiceSid).documents;
  }

  private retry<T>(op: () => Promise<T>): Promise<T> {
    return withRetry(op, { deadline: this.deadline });
  }

  /**
   * Counts an attempt to sign in as `identity` (e.g. `agent.alice`, `operator`) from `source`.
   * Throws 429 (with Retry-After) when either counter is past its limit.
   */
  async begin(identity: string, source: string): Promise<SignInAttempt> {
    const identityName = counterName('identity', identity);
    const sourceName = counterName('source', source);
    const [byIdentity, bySource] = await Promise.allSettled([
      this.count(identityName, THROTTLE_LIMITS.identity),
      this.count(sourceName, THROTTLE_LIMITS.source),
    ]);
    const refusals = [byIdentity, bySource].filter((r) => r.status === 'rejected').map((r) => r.reason as unknown);
    if (refusals.length) {
      // The longest wait wins; a Sync failure (not a refusal) is passed on as it is.
      const waits = refusals.filter((e) => e instanceof HttpError && e.status === 429) as HttpError[];
      if (waits.length < refusals.length) throw refusals.find((e) => !(e instanceof HttpError && e.status === 429));
      const [longest] = waits.sort((a, b) => Number(b.details?.retryAfter) - Number(a.details?.retryAfter));
      if (longest === undefined) throw new Error('every refusal is a 429 here, and there is at least one');
      throw longest;
    }
    const sourceWritten = (bySource as PromiseFulfilledResult<Written>).value;
    return {
      succeeded: async () => {
        // Best effort: the sign-in has succeeded, a counter left behind only expires later.
        const results = await Promise.allSettled([this.clear(identityName), this.giveBack(sourceName, sourceWritten)]);
        for (const r of results) if (r.status === 'rejected') logEvent('throttle', {}, { error: 'release-failed' });
      },
    };
  }

  /**
   * Adds one attempt to a counter, or throws 429 when it is already at its limit. Creating comes
   * first (no counter yet is the common case: one request); an existing one is read and updated.
   * Returns what was written, so giving the attempt back needs no read unless something changed.
   */
  private async count(name: string, limit: ThrottleLimit): Promise<Written> {
    const documents = this.documents();
    const fresh = (): Counter => ({ count: 1, until: new Date(this.now() + limit.windowSeconds * 1000).toISOString() });
    for (let race = 0; race < MAX_RACES; race++) {
      const data = fresh();
      try {
        const doc = await this.retry(() => documents.create({ uniqueName: name, data, ttl: limit.windowSeconds }));
        return { data, revision: doc.revision };
      } catch (err) {
        if (!isTaken(err)) throw err;
      }
      let doc;
      try {
        doc = await this.retry(() => documents(name).fetch());
      } catch (err) {
        if (isMissing(err)) continue; // expired meanwhile: create it again
        throw err;
      }
      const stored = doc.data as Partial<Counter>;
      const until = Date.parse(String(stored.until));
      const current = Number.isFinite(until) && until > this.now() ? Number(stored.count) || 0 : 0;
      if (current >= limit.attempts) throw throttled((until - this.now()) / 1000);
      const next = current === 0 ? fresh() : { count: current + 1, until: stored.until as string };
      try {
        const updated = await this.retry(() =>
          documents(name).update({
            data: next,
            ifMatch: doc.revision,
            // A new window gets a new expiry; a running one keeps its own.
            ...(current === 0 ? { ttl: limit.windowSeconds } : {}),
          }),
        );
        return { data: next, revision: updated.revision };
      } catch (err) {
        if (!isStale(err) && !isMissing(err)) throw err;
      }
    }
    // Only a burst of parallel attempts on one counter loses this many races: refuse this one.
    throw throttled(1);
  }

  /** Forgets an identity's failures (its owner just proved the credential). */
  private async clear(name: string): Promise<void> {
    try {
      await this.retry(() => this.documents()(name).remove());
    } catch (err) {
      if (!isMissing(err)) throw err;
    }
  }

  /** Takes one attempt back from a source counter (its earlier failures stay counted). */
  private async giveBack(name: string, written: Written): Promise<void> {
    const documents = this.documents();
    // First against what this attempt wrote; re-read only when another attempt changed it since.
    let known: Written | undefined = written;
    for (let race = 0; race < MAX_RACES; race++) {
      if (!known) {
        try {
          const doc = await this.retry(() => documents(name).fetch());
          known = { data: doc.data as Counter, revision: doc.revision };
        } catch (err) {
          if (isMissing(err)) return;
          throw err;
        }
      }
      const { data, revision } = known;
      if (!(data.count > 0)) return;
      try {
        await this.retry(() => documents(name).update({ data: { ...data, count: data.count - 1 }, ifMatch: revision }));
        return;
      } catch (err) {
        if (isMissing(err)) return;
        if (!isStale(err)) throw err;
        known = undefined;
      }
    }
  }
}
