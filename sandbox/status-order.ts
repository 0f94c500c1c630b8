// Deliberate reordering of one call's status callbacks, as Twilio allows ("no guarantee they will
// arrive in the same order"): a callback may be held back until the call's next status callback has
// been delivered, so ringing lands before initiated, in-progress before initiated or ringing,
// completed before in-progress. A final status is never held (nothing comes after it); a held
// callback goes anyway after `maxHoldMs`, so nothing waits forever.

const FINAL = new Set(['completed', 'busy', 'failed', 'no-answer', 'canceled']);

interface Held {
  release(): void;
}

/** mulberry32: a small seeded PRNG; numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export class StatusCallbackOrder {
  /** The callback held back per call (CallSid), waiting for the next one to be delivered. */
  private readonly held = new Map<string, Held>();
  /** How many callbacks were held back, and how many of those went out only after their timeout. */
  readonly counts = { held: 0, timedOut: 0 };

  /**
   * Delivers one status callback of `callSid`: right away, after the held one of that call (which
   * goes once this one was delivered), or, with probability `rate`, held back itself.
   */
  schedule<T>(
    callSid: string | undefined,
    callStatus: string | undefined,
    opts: { rate: number; maxHoldMs: number; random: () => number },
    deliver: () => Promise<T>,
  ): Promise<T> {
    if (!callSid) return deliver();
    const earlier = this.held.get(callSid);
    if (earlier) {
      this.held.delete(callSid);
      const delivered = deliver();
      void delivered.finally(() => earlier.release());
      return delivered;
    }
    if (FINAL.has(callStatus ?? '') || opts.rate <= 0 || opts.random() >= opts.rate) return deliver();
    this.counts.held++;
    return new Promise<void>((resolve) => {
      const entry: Held = {
        release: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        if (this.held.get(callSid) === entry) this.held.delete(callSid);
        this.counts.timedOut++;
        resolve();
      }, opts.maxHoldMs);
      this.held.set(callSid, entry);
    }).then(deliver);
  }

  /** Lets every held callback go and zeroes the counts (the sandbox's reset). */
  reset(): void {
    for (const entry of this.held.values()) entry.release();
    this.held.clear();
    this.counts.held = 0;
    this.counts.timedOut = 0;
  }
}
