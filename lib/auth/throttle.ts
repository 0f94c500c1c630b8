// Sign-in throttling (agents and the operator): failed attempts counted per identity and per source
// in Sync, each counter its own Document (`cme.throttle.<kind>.<digest>`) with a TTL, so counters
// never share Sync's per-object write rate and vanish on their own.
//
// An attempt is counted *before* the credential is checked and given back when it succeeds: a
// burst of parallel guesses is counted as it arrives, not after every guess has been answered.
// Revision checks (If-Match) make concurrent attempts count one by one. A counter's window starts
// at its first attempt and is not extended; past the limit every attempt (right or wrong) gets 429
// with Retry-After until the window ends. A counter that does not parse (lib/store/records.ts)
// counts as none: the next attempt starts a fresh window over it.
import { createHash } from 'node:crypto';
import type { Config } from '../platform/config';
import { apiError, HttpError } from '../shared/error-catalogue';
import { routeLog } from '../platform/log';
import type { TwilioClient } from '../platform/twilio-client';
import { logUnreadable, parseThrottleCounter, type ThrottleCounter } from '../store/records';
import { isDocumentRevisionMismatch, isNameTaken, isNotFound, SyncAccess } from '../store/sync';

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

/** A counter as one attempt left it: its data and the revision that write produced. */
interface Written {
  data: ThrottleCounter;
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

export class SignInThrottle extends SyncAccess {
  constructor(
    client: TwilioClient,
    config: Pick<Config, 'syncServiceSid'>,
    deadline?: number,
    private readonly now: () => number = Date.now,
  ) {
    super(client, config, deadline);
  }

  /** A counter's data; undefined (and logged) when it does not parse. */
  private parsed(name: string, data: unknown): ThrottleCounter | undefined {
    const counter = parseThrottleCounter(data);
    if (!counter) logUnreadable(name);
    return counter;
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
      const isThrottled = (e: unknown): e is HttpError => e instanceof HttpError && e.code === 'sign-in-throttled';
      const waits = refusals.filter(isThrottled);
      if (waits.length < refusals.length) throw refusals.find((e) => !isThrottled(e));
      const [longest] = waits.sort((a, b) => Number(b.details?.retryAfter) - Number(a.details?.retryAfter));
      if (longest === undefined) throw new Error('every refusal is a 429 here, and there is at least one');
      throw longest;
    }
    const sourceWritten = (bySource as PromiseFulfilledResult<Written>).value;
    return {
      succeeded: async () => {
        // Best effort: the sign-in has succeeded, a counter left behind only expires later.
        const results = await Promise.allSettled([this.clear(identityName), this.giveBack(sourceName, sourceWritten)]);
        for (const r of results) if (r.status === 'rejected') routeLog('throttle').info({ error: 'release-failed' });
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
    const fresh = (): ThrottleCounter => ({
      count: 1,
      until: new Date(this.now() + limit.windowSeconds * 1000).toISOString(),
    });
    for (let race = 0; race < MAX_RACES; race++) {
      const data = fresh();
      try {
        const doc = await this.retry(() => documents.create({ uniqueName: name, data, ttl: limit.windowSeconds }));
        return { data, revision: doc.revision };
      } catch (err) {
        if (!isNameTaken(err)) throw err;
      }
      const doc = await this.fetchDocument(name);
      if (!doc) continue; // expired meanwhile: create it again
      const stored = this.parsed(name, doc.data);
      const until = Date.parse(String(stored?.until));
      const current = stored && Number.isFinite(until) && until > this.now() ? stored.count : 0;
      if (current >= limit.attempts) throw throttled((until - this.now()) / 1000);
      const next = !stored || current === 0 ? fresh() : { count: current + 1, until: stored.until };
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
        if (!isDocumentRevisionMismatch(err) && !isNotFound(err)) throw err;
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
      if (!isNotFound(err)) throw err;
    }
  }

  /** Takes one attempt back from a source counter (its earlier failures stay counted). */
  private async giveBack(name: string, written: Written): Promise<void> {
    const documents = this.documents();
    // First against what this attempt wrote; re-read only when another attempt changed it since.
    let known: Written | undefined = written;
    for (let race = 0; race < MAX_RACES; race++) {
      if (!known) {
        const doc = await this.fetchDocument(name);
        const data = doc && this.parsed(name, doc.data);
        if (!doc || !data) return; // gone, or unreadable: nothing to give back
        known = { data, revision: doc.revision };
      }
      const { data, revision } = known;
      if (!(data.count > 0)) return;
      try {
        await this.retry(() => documents(name).update({ data: { ...data, count: data.count - 1 }, ifMatch: revision }));
        return;
      } catch (err) {
        if (isNotFound(err)) return;
        if (!isDocumentRevisionMismatch(err)) throw err;
        known = undefined;
      }
    }
  }
}
