// What a warm Function container remembers of each leg between invocations, to spare Sync reads of
// facts that cannot change back (a leg's parent and identity; that it was live at some time). One
// per fact, module-wide: it lives as long as the container, and is only ever a shortcut (a
// container that has forgotten reads Sync again).

/** Legs remembered at most: past it, everything is forgotten at once (cheaper than tracking age). */
export const MAX_REMEMBERED_LEGS = 10_000;

export class LegCache<T> {
  private readonly byCallSid = new Map<string, T>();

  get(callSid: string): T | undefined {
    return this.byCallSid.get(callSid);
  }

  remember(callSid: string, value: T): void {
    if (this.byCallSid.size >= MAX_REMEMBERED_LEGS) this.byCallSid.clear();
    this.byCallSid.set(callSid, value);
  }
}
