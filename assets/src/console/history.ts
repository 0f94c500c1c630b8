// One call's messages both ways: read page by page from /operator-messages and rendered as a list.

import { displayJson } from '../../../lib/shared/json-text';
import { MAX_PARSED_DEPTH } from '../../../lib/shared/limits';
import { ApiError, api } from './api';
import { el, time } from './elements';
import type { CallHistory, Message, OpenHistory } from './state';

/** Pages read in one refresh: 100 messages each when a call is opened (more on the next refreshes). */
const MAX_PAGES_PER_REFRESH = 10;
/** A refresh asks for this many new messages at a time: the server's one read holds them, the state and the last seen. */
const CATCH_UP_PAGE_SIZE = 20;
/**
 * A refresh re-reads the last few messages it has: a message stored after a later one (two sends
 * whose answers came back out of order, two callbacks handled at once) lands before the cursor of
 * the later one, and is still shown.
 */
const REREAD = 10;

/** A message's identity across reads (its cursor can change when a late one is stored before it). */
export const messageId = (m: Message) => `${m.direction}:${m.sid ?? `${m.timestamp}:${m.content}`}`;

/**
 * Brings the open call's history up to date: its first pages when it is opened, then only what
 * came after the last few messages seen (one Sync request while that fits in a page, whatever the
 * history's length). The messages re-read replace those held, in the order the server gives.
 */
export async function refreshHistory(callSid: string, open: OpenHistory | undefined): Promise<OpenHistory> {
  try {
    return await readAfter(callSid, open);
  } catch (err) {
    // A cursor this deploy no longer reads (its key scheme changed): read the call again from the start.
    if (err instanceof ApiError && err.status === 400 && open?.messages.length) return readAfter(callSid, undefined);
    throw err;
  }
}

async function readAfter(callSid: string, open: OpenHistory | undefined): Promise<OpenHistory> {
  const known: OpenHistory = open?.callSid === callSid ? open : { callSid, messages: [] };
  // The first message is always kept: a catch-up needs a cursor to start after.
  const kept = known.messages.length ? Math.max(1, known.messages.length - REREAD) : 0;
  const after = known.messages[kept - 1]?.cursor;
  const read: Message[] = [];
  let pages = 0;
  let token: string | null | undefined;
  do {
    const params: Record<string, string> = { callSid, pageSize: after ? String(CATCH_UP_PAGE_SIZE) : '100' };
    if (token) params.pageToken = token;
    else if (after) params.after = after;
    const page = await api<CallHistory>('operator-messages', { params });
    if (page.state !== undefined) known.state = page.state;
    read.push(...page.messages);
    token = page.nextPageToken;
  } while (token && ++pages < MAX_PAGES_PER_REFRESH);
  const reread = new Set(read.map(messageId));
  // A message held but not read again (the page limit cut the read short) stays, after what was read.
  const unread = known.messages.slice(kept).filter((m) => !reread.has(messageId(m)));
  known.messages = [...known.messages.slice(0, kept), ...read, ...unread];
  // Each read runs from the start or from a cursor in what is held, so a read to the end holds it all.
  known.complete = !token;
  return known;
}

function messageItem(m: Message): HTMLLIElement {
  const li = document.createElement('li');
  li.className = m.direction === 'from-sdk' ? 'in' : 'out';
  li.dataset.sid = m.sid ?? '';
  li.dataset.id = messageId(m);
  li.dataset.direction = m.direction;
  const head = document.createElement('div');
  const what = document.createElement('strong');
  what.textContent =
    m.direction === 'from-sdk'
      ? `From the softphone${m.sequence !== undefined ? ` (#${m.sequence})` : ''}`
      : 'To the softphone';
  const sid = document.createElement('code');
  sid.textContent = m.sid ?? '(sid not returned by Twilio)';
  head.append(what, ` · ${time(m.timestamp)} · `, sid);
  // Forwarding to the app's backend (APP_WEBHOOK_URL): shown as it was when the message was read.
  if (m.forwarded !== undefined) {
    li.dataset.forwarded = String(m.forwarded);
    head.append(m.forwarded ? ' · forwarded to the app' : ' · NOT forwarded to the app (yet)');
  }
  if (m.valid === false) head.append(` · violates the message schemas: ${m.validationError ?? ''}`);
  const pre = document.createElement('pre');
  pre.textContent = displayJson(m.content, MAX_PARSED_DEPTH);
  li.append(head, pre);
  return li;
}

/**
 * Shows the history, oldest first (the softphone's order too). Only what changed is rendered: the
 * list on screen is kept up to the first message that differs (at most the few a read re-reads), so
 * an update stays cheap however long the history. New messages after the first read are announced
 * (a polite live region). Each render is measured (`cme.console.render`, User Timing) for the benchmark.
 */
export function renderHistory(history: OpenHistory, before: number | undefined) {
  performance.mark('cme.console.render.start');
  const s = history.state;
  el.callSummary.textContent = s
    ? `${s.identity} (${s.role === 'parent' ? 'placed the call' : 'took the call'}) with ${s.peer || 'unknown'} · ${s.status}${s.endedAt ? ` · ended ${time(s.endedAt)}` : ''}`
    : 'The call is ringing; its state appears when it is answered.';
  const shown = el.history.children;
  let same = Math.max(0, Math.min(shown.length, history.messages.length) - REREAD - 1);
  while (
    same < shown.length &&
    same < history.messages.length &&
    (shown.item(same) as HTMLElement).dataset.id === messageId(history.messages[same]!)
  )
    same++;
  while (shown.length > same) shown.item(shown.length - 1)?.remove();
  el.history.append(...history.messages.slice(same).map(messageItem));
  el.historyStatus.textContent = history.messages.length
    ? `${history.messages.length} message(s).`
    : 'No messages yet.';
  const added = before === undefined ? 0 : history.messages.length - before;
  if (added > 0) {
    const last = history.messages[history.messages.length - 1];
    el.historyAnnounce.textContent = `${added} new message${added > 1 ? 's' : ''}${
      last ? `, the last ${last.direction === 'from-sdk' ? 'from' : 'to'} the softphone` : ''
    }.`;
  }
  void el.history.offsetHeight; // the layout the next paint would do anyway: the measure includes it
  // Only the latest is kept: a console stays open for hours.
  performance.clearMeasures('cme.console.render');
  performance.measure('cme.console.render', 'cme.console.render.start');
  performance.clearMarks('cme.console.render.start');
}
