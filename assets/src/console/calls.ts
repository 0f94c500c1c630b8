// The calls, one row per call (its SDK legs grouped), read from /operator-calls when the live
// channel says something changed; and the call whose messages are open, beside the list (above it
// on narrow screens).

import type { OperatorCallsPage } from '../../../lib/shared/api-types';
import { isFinalStatus } from '../../../lib/shared/api-types';
import { ApiError, api } from './api';
import { cell, dateTime, duration, el } from './elements';
import { refreshHistory, renderHistory } from './history';
import { updateSendState } from './sending';
import { clearConference, roomOfPeer, showConference } from './conference';
import { isLive, watchLegs } from './live';
import { isMessageKey } from '../../../lib/shared/sync-names';
import { state, type CallGroup, type CallRow, type OpenHistory } from './state';

const LIMIT = '20';
/** Legs held in a final state: never read again (/operator-calls `final`). */
const finalLegs = new Map<string, CallRow>();
/** Legs whose count was read while final: it never changes, so it is never asked again. */
const finalCounts = new Set<string>();
/** Legs whose message count is to be read (again). */
const countsWanted = new Set<string>();
/** Legs counted in one request (the route's bound). */
const COUNTS_PER_REQUEST = 20;
let open: OpenHistory | undefined;
let filter: 'all' | 'live' | 'ended' = 'all';

/** Runs `job` now, or once more after the run under way: events never pile up requests. */
function coalesced(job: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  let again = false;
  const run = async (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await job();
      } while (again);
    })().finally(() => (running = undefined));
    return running;
  };
  return run;
}

const groupKeyOf = (c: CallRow) => c.state?.parentCallSid || c.callSid;
/** The last list read, and SYNC_ACTIVE_CALL_TTL_SECONDS: a live leg passing it is re-rendered without a request. */
let lastCalls: CallRow[] = [];
let activeTtlMs = Infinity;

/** A leg past the active-call TTL with no final state: its end was never reported (as the server says it). */
function pastTtl(c: CallRow): CallRow {
  if (c.endUnknown || !c.active || Date.now() - Date.parse(c.createdAt) <= activeTtlMs) return c;
  return { ...c, active: false, endUnknown: true };
}

function groupCalls(rows: CallRow[]): CallGroup[] {
  const calls = rows.map(pastTtl);
  const groups = new Map<string, CallRow[]>();
  for (const c of calls) {
    const key = groupKeyOf(c);
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  return [...groups.entries()].map(([key, legs]) => {
    legs.sort((a, b) => (a.state?.role === 'parent' ? -1 : b.state?.role === 'parent' ? 1 : 0));
    const parent = legs.find((l) => l.state?.role === 'parent')?.state;
    const child = legs.find((l) => l.state?.role === 'child')?.state;
    const caller = parent ? parent.identity : (child?.peer ?? '');
    const callee = child ? child.identity : (parent?.peer ?? '');
    const endUnknown = legs.every((l) => l.endUnknown);
    const live = legs.some((l) => l.active);
    const startedAt = Math.min(...legs.map((l) => Date.parse(l.createdAt)));
    const ended = legs.every((l) => isFinalStatus(l.status));
    const durations = legs.map((l) => l.state?.durationSeconds ?? 0);
    const status = live
      ? (legs.find((l) => l.active)?.status ?? 'in-progress')
      : endUnknown
        ? 'end not reported'
        : (legs.find((l) => isFinalStatus(l.status))?.status ?? legs[0]?.status ?? 'unknown');
    return {
      key,
      legs,
      caller: caller || '(starting)',
      callee: callee || '—',
      live,
      endUnknown,
      status,
      startedAt,
      durationSeconds: ended ? Math.max(...durations) : undefined,
    };
  });
}

const who = (id: string) => id.replace(/^client:/, '');
const callName = (g: CallGroup) => `${who(g.caller)} → ${who(g.callee)}`;

function messageCount(g: CallGroup): string {
  let total = 0;
  let atLeast = false;
  for (const l of g.legs) {
    const n = state.counts.get(l.callSid);
    if (n === undefined) return '—';
    total += n.count;
    atLeast ||= n.atLeast === true;
  }
  return atLeast ? `${total}+` : String(total);
}

/** A leg that will not change any more (ended, or its end never reported): counted once. */
const isSettled = (c: CallRow) => !c.active || c.endUnknown === true;

/**
 * The live channel says a listed leg (or the open one) changed: a message added is counted again; its Map just
 * opened (no change) is counted now, so no message stored between the count and the subscription
 * is missed. A settled leg already counted is not asked again, unless a message is added to it.
 */
export function legChanged(callSid: string, change?: { key: string; added: boolean }) {
  // The open leg's history, read to its end, counts it (refreshMessages): no request more.
  if (callSid === state.selected && open?.callSid === callSid && open.complete) return;
  if (change) {
    if (!change.added || !isMessageKey(change.key)) return;
    finalCounts.delete(callSid);
  } else if (finalCounts.has(callSid)) return;
  countsWanted.add(callSid);
  void refreshCounts();
}

/** The count cells, from state.counts (no request). */
function renderCounts() {
  for (const tr of el.calls.querySelectorAll<HTMLTableRowElement>('tr')) {
    const g = state.groups.get(tr.dataset.call ?? '');
    const td = tr.children.item(4);
    if (g && td) td.textContent = messageCount(g);
  }
}

/** Reads the counts wanted, 20 legs a request, and shows them. */
export const refreshCounts = coalesced(async () => {
  for (let round = 0; round < 3 && countsWanted.size && state.session; round++) {
    const asked = [...countsWanted].slice(0, COUNTS_PER_REQUEST);
    for (const sid of asked) countsWanted.delete(sid);
    // Settled when asked: a count read after the leg ended is its last.
    const settled = new Set(lastCalls.filter((c) => isSettled(c) && asked.includes(c.callSid)).map((c) => c.callSid));
    try {
      const { counts = [] } = await api<OperatorCallsPage>('operator-calls', {
        params: { limit: '0', count: asked.join(',') },
      });
      const answered = new Set<string>();
      for (const { callSid, count, atLeast } of counts) {
        answered.add(callSid);
        state.counts.set(callSid, { count, atLeast });
        if (settled.has(callSid) && !atLeast) finalCounts.add(callSid);
      }
      // Left out (time ran short): asked again in the next round.
      for (const sid of asked) if (!answered.has(sid)) countsWanted.add(sid);
    } catch {
      for (const sid of asked) countsWanted.add(sid); // asked again on the next change
      break;
    } finally {
      renderCounts();
    }
  }
});

/** Watches the open call's legs and the listed live ones (their Maps' events keep counts live). */
function rewatch() {
  const g = state.selectedCall ? state.groups.get(state.selectedCall) : undefined;
  const live = lastCalls.filter((c) => !isSettled(c)).map((c) => c.callSid);
  watchLegs([...new Set([...(g?.legs.map((l) => l.callSid) ?? []), ...live])]);
}

function durationText(g: CallGroup): string {
  if (g.durationSeconds !== undefined) return duration(g.durationSeconds);
  if (g.endUnknown) return '—';
  return duration((Date.now() - g.startedAt) / 1000);
}

function rowCells(g: CallGroup) {
  const name = cell(callName(g), '', 'Call');
  if (g.legs.length > 1) {
    const hint = document.createElement('span');
    hint.className = 'hint';
    hint.textContent = ` (${g.legs.length} legs)`;
    name.append(hint);
  }
  const statusText = g.live ? `${g.status} (live)` : g.status;
  return [
    name,
    cell(statusText, g.live ? 'ok' : g.endUnknown ? 'warn' : 'muted', 'Status'),
    cell(dateTime(g.startedAt), '', 'Started'),
    cell(durationText(g), 'duration', 'Duration'),
    cell(messageCount(g), '', 'Messages'),
  ];
}

function applyFilter(tr: HTMLTableRowElement) {
  const live = tr.dataset.live === 'true';
  tr.hidden = (filter === 'live' && !live) || (filter === 'ended' && live);
}

function renderCalls(groups: CallGroup[]) {
  const rows = new Map([...el.calls.querySelectorAll<HTMLTableRowElement>('tr')].map((tr) => [tr.dataset.call, tr]));
  let previous: HTMLTableRowElement | undefined;
  state.groups = new Map(groups.map((g) => [g.key, g]));
  for (const g of groups) {
    let tr = rows.get(g.key);
    const cells = rowCells(g);
    if (!tr) {
      tr = document.createElement('tr');
      tr.dataset.call = g.key;
      const action = document.createElement('td');
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'secondary';
      button.textContent = 'Open';
      const key = g.key;
      button.addEventListener('click', () => select(key));
      action.append(button);
      tr.append(...cells, action);
      if (previous) previous.after(tr);
      else el.calls.prepend(tr);
    } else {
      for (const [i, td] of cells.entries()) {
        const old = tr.children.item(i);
        if (old && (old.textContent !== td.textContent || old.className !== td.className)) old.replaceWith(td);
      }
      if (previous ? previous.nextElementSibling !== tr : el.calls.firstElementChild !== tr) {
        if (previous) previous.after(tr);
        else el.calls.prepend(tr);
      }
    }
    tr.dataset.callSid = g.legs[0]?.callSid ?? g.key;
    tr.dataset.legs = g.legs.map((l) => l.callSid).join(' ');
    tr.dataset.status = g.status;
    tr.dataset.live = String(g.live);
    tr.querySelector('button')!.setAttribute('aria-label', `Open the call ${callName(g)} (${g.status})`);
    if (g.key === state.selectedCall) tr.setAttribute('aria-current', 'true');
    else tr.removeAttribute('aria-current');
    applyFilter(tr);
    rows.delete(g.key);
    previous = tr;
  }
  for (const tr of rows.values()) if (tr.dataset.call !== state.selectedCall) tr.remove();
  const shown = [...el.calls.querySelectorAll('tr')].filter((tr) => !tr.hidden).length;
  el.callsStatus.textContent = groups.length
    ? shown
      ? ''
      : `No ${filter} calls.`
    : 'No calls yet. Place or receive a call with the softphone.';
}

/** Durations of live calls tick on screen (no request). */
export function tickDurations() {
  if (lastCalls.some((c) => pastTtl(c) !== c)) {
    renderCalls(groupCalls(lastCalls));
    if (state.selectedCall) showSelected();
  }
  for (const tr of el.calls.querySelectorAll<HTMLTableRowElement>('tr[data-live="true"]')) {
    const g = state.groups.get(tr.dataset.call ?? '');
    const td = tr.querySelector('td.duration');
    if (g && td) td.textContent = durationText(g);
  }
}

export function setFilter(value: string) {
  filter = value === 'live' || value === 'ended' ? value : 'all';
  for (const tr of el.calls.querySelectorAll<HTMLTableRowElement>('tr')) applyFilter(tr);
  renderCalls([...state.groups.values()]);
}

/** Reads the calls list (final legs are not read again), and renders it. */
export const refreshCalls = coalesced(async () => {
  if (!state.session) return;
  try {
    const final = [...finalLegs.keys()].slice(0, 50).join(',');
    const { calls, partial, activeTtlSeconds } = await api<OperatorCallsPage>('operator-calls', {
      params: { limit: LIMIT, ...(final ? { final } : {}) },
    });
    const merged = calls.map((c) => (c.unchanged ? (finalLegs.get(c.callSid) ?? c) : c));
    for (const c of merged) if (c.state && isFinalStatus(c.state.status) && !c.active) finalLegs.set(c.callSid, c);
    activeTtlMs = activeTtlSeconds * 1000;
    lastCalls = merged;
    renderCalls(groupCalls(merged));
    // Settled legs are counted once; live ones when their Map is open (legChanged), or here without the live channel.
    for (const c of merged) if (isSettled(c) ? !finalCounts.has(c.callSid) : !isLive()) countsWanted.add(c.callSid);
    rewatch();
    void refreshCounts();
    // The server ran short of time before reading every call's state: the newest are shown.
    if (partial) el.callsStatus.textContent = 'Showing the newest calls only; the rest on the next change.';
    if (state.selectedCall) showSelected();
  } catch (err) {
    if (state.session) el.callsStatus.textContent = `Could not refresh: ${(err as Error).message}`;
  }
});

/** Reads what is new on the open leg, and renders it. */
export const refreshMessages = coalesced(async () => {
  const callSid = state.selected;
  if (!state.session || !callSid) return;
  try {
    const before = open?.callSid === callSid ? open.messages.length : undefined;
    const history = await refreshHistory(callSid, open);
    if (state.selected !== callSid) return;
    open = history;
    if (history.complete) {
      state.counts.set(callSid, { count: history.messages.length });
      renderCounts();
    }
    renderHistory(history, before);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404)
      el.historyStatus.textContent = 'No messages stored for this call yet.';
    else if (state.session) el.historyStatus.textContent = `Could not read the messages: ${(err as Error).message}`;
  }
});

/** Everything once: after a login, a reconnect, or in the fallback's slow polling. */
export function refreshAll() {
  void refreshCalls();
  void refreshMessages();
}

function showSelected() {
  const g = state.selectedCall ? state.groups.get(state.selectedCall) : undefined;
  if (!g) return;
  el.callHeading.textContent = `Call ${callName(g)}`;
  const options = g.legs.map((l) => {
    const o = document.createElement('option');
    o.value = l.callSid;
    const s = l.state;
    o.textContent = s
      ? `${s.identity} (${s.role === 'parent' ? 'placed the call' : 'took the call'}) · ${l.callSid}`
      : l.callSid;
    return o;
  });
  const same =
    el.legSelect.options.length === options.length &&
    options.every(
      (o, i) => el.legSelect.options[i]?.value === o.value && el.legSelect.options[i]?.textContent === o.textContent,
    );
  if (!same) el.legSelect.replaceChildren(...options);
  el.legSelect.value = state.selected ?? '';
  el.legSelect.disabled = g.legs.length < 2;
  const leg = g.legs.find((l) => l.callSid === state.selected);
  updateSendState(leg ? leg.active : g.live, g.endUnknown);
  // The open leg's room, else any leg's: a conference call's panel shows whichever agent is chosen.
  showConference(roomOfPeer(leg?.state?.peer) ?? g.legs.map((l) => roomOfPeer(l.state?.peer)).find(Boolean));
  rewatch();
}

function openLeg(callSid: string) {
  state.selected = callSid;
  open = undefined;
  el.history.replaceChildren();
  el.historyStatus.textContent = 'Reading the messages…';
  el.sendResult.textContent = '';
  void refreshMessages();
}

export function select(key: string) {
  const g = state.groups.get(key);
  if (!g) return;
  state.selectedCall = key;
  el.callPlaceholder.hidden = true;
  el.callDetail.hidden = false;
  for (const tr of el.calls.querySelectorAll<HTMLTableRowElement>('tr')) {
    if (tr.dataset.call === key) tr.setAttribute('aria-current', 'true');
    else tr.removeAttribute('aria-current');
  }
  openLeg(g.legs[0]!.callSid);
  showSelected();
  // Beside the list (wide screens) the list stays where it is; above it (narrow), the detail is shown.
  const narrow = window.matchMedia('(max-width: 899px)').matches;
  el.callHeading.focus({ preventScroll: !narrow });
  if (narrow) el.callCard.scrollIntoView({ block: 'start' });
}

export function wireCalls() {
  el.legSelect.addEventListener('change', () => {
    openLeg(el.legSelect.value);
    showSelected();
  });
  for (const radio of document.querySelectorAll<HTMLInputElement>('input[name="calls-filter"]'))
    radio.addEventListener('change', () => setFilter(radio.value));
}

/** On logout: nothing of the calls is kept. */
export function clearCalls() {
  finalLegs.clear();
  finalCounts.clear();
  countsWanted.clear();
  lastCalls = [];
  open = undefined;
  state.groups.clear();
  state.counts.clear();
  state.selected = undefined;
  state.selectedCall = undefined;
  el.calls.replaceChildren();
  el.history.replaceChildren();
  clearConference();
  el.callDetail.hidden = true;
  el.callPlaceholder.hidden = false;
  el.callHeading.textContent = 'Call';
}
