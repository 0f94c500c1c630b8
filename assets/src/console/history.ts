// One call's messages both ways: read page by page from /operator-messages and rendered as a list.

import { displayJson } from '../../../lib/json-text';
import type { LegState } from '../../../lib/api-types';
import { MAX_PARSED_DEPTH } from '../../../lib/limits';
import { api } from './api';
import { el, time } from './elements';
import type { CallHistory, Message, OpenHistory } from './state';

/** Pages read when a call is opened (100 messages each): older history is there through /call-messages. */
const MAX_FIRST_PAGES = 10;

/**
 * Brings the open call's history up to date: its first pages when it is opened, then only what
 * came after the last message seen (one request, whatever the history's length).
 */
export async function refreshHistory(callSid: string, open: OpenHistory | undefined): Promise<OpenHistory> {
  const known = open?.callSid === callSid ? open : { callSid, messages: [] };
  let pages = 0;
  let token: string | null | undefined;
  do {
    const params: Record<string, string> = { callSid, pageSize: '100' };
    if (token) params.pageToken = token;
    else if (known.cursor) params.after = known.cursor;
    const page = await api<CallHistory>('operator-messages', { params });
    if (page.state !== undefined) known.state = page.state;
    known.messages.push(...page.messages);
    known.cursor = page.messages.at(-1)?.cursor ?? known.cursor;
    token = page.nextPageToken;
  } while (token && ++pages < MAX_FIRST_PAGES);
  return known;
}

function messageItem(m: Message): HTMLLIElement {
  const li = document.createElement('li');
  li.className = m.direction === 'from-sdk' ? 'in' : 'out';
  li.dataset.sid = m.sid ?? '';
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

/** Shows the history: only messages not on screen yet are rendered, so a refresh stays cheap. */
export function renderHistory(history: OpenHistory, state: LegState | null | undefined) {
  const s = state ?? history.state;
  el.callSummary.textContent = s
    ? `${s.identity} (${s.role === 'parent' ? 'placed the call' : 'took the call'}) with ${s.peer || 'unknown'} · ${s.status}${s.endedAt ? ` · ended ${time(s.endedAt)}` : ''}`
    : 'The call is ringing; its state appears when it is answered.';
  const shown = el.history.children.length;
  if (history.messages.length > shown) el.history.append(...history.messages.slice(shown).map(messageItem));
  el.historyStatus.textContent = history.messages.length
    ? `${history.messages.length} message(s).`
    : 'No messages yet.';
}
