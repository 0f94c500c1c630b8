import type { CallMessage, LegState } from '../../lib/shared/api-types';
import type { CallStore, HistoryCursor } from '../../lib/store/call-store';

/** A leg's whole history through the store's paged reads (undefined when its Map does not exist). */
export async function readLeg(
  store: CallStore,
  callSid: string,
): Promise<{ state?: LegState; messages: CallMessage[] } | undefined> {
  const messages: CallMessage[] = [];
  let state: LegState | undefined;
  let cursor: HistoryCursor | undefined = { order: 'asc' };
  while (cursor) {
    const page = await store.readHistory(callSid, cursor, 100);
    if (!page) return undefined;
    state ??= page.state;
    messages.push(...page.messages.map((m) => m.message));
    cursor = page.next;
  }
  return { ...(state ? { state } : {}), messages };
}
