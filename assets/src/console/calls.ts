// Recent calls (polled from /operator-calls) and the one whose messages are open.

import type { OperatorCallsPage } from '../../../lib/shared/api-types';
import { ApiError, api } from './api';
import { cell, el, time } from './elements';
import { refreshHistory, renderHistory } from './history';
import { updateSendSize } from './sending';
import { state, type CallRow, type OpenHistory } from './state';

let polling = false;
let open: OpenHistory | undefined;

function renderCalls(calls: CallRow[]) {
  const rows = new Map([...el.calls.querySelectorAll<HTMLTableRowElement>('tr')].map((tr) => [tr.dataset.callSid, tr]));
  let previous: HTMLTableRowElement | undefined;
  for (const c of calls) {
    let tr = rows.get(c.callSid);
    const identity = c.state?.identity ?? '(starting)';
    const status = c.state ? c.state.status : 'ringing';
    const cells = [
      cell(identity),
      cell(c.state?.peer ?? ''),
      cell(c.active ? `${status} (active)` : status, c.active ? 'ok' : 'muted'),
      cell(time(c.createdAt), 'optional'),
      cell(c.callSid, 'optional mono'),
    ];
    if (!tr) {
      tr = document.createElement('tr');
      tr.dataset.callSid = c.callSid;
      const action = document.createElement('td');
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'secondary';
      button.textContent = 'Messages';
      button.addEventListener('click', () => select(c.callSid));
      action.append(button);
      tr.append(...cells, action);
      if (previous) previous.after(tr);
      else el.calls.prepend(tr);
    } else {
      for (const [i, td] of cells.entries()) {
        const old = tr.children.item(i);
        if (old && (old.textContent !== td.textContent || old.className !== td.className)) old.replaceWith(td);
      }
    }
    tr.dataset.status = status;
    const button = tr.querySelector('button')!;
    button.setAttribute('aria-label', `Messages of the call with ${identity} (${status})`);
    if (c.callSid === state.selected) tr.setAttribute('aria-current', 'true');
    else tr.removeAttribute('aria-current');
    rows.delete(c.callSid);
    previous = tr;
  }
  for (const tr of rows.values()) if (tr.dataset.callSid !== state.selected) tr.remove();
  el.callsStatus.textContent = calls.length ? '' : 'No calls yet. Place or receive a call with the softphone.';
}

function select(callSid: string) {
  state.selected = callSid;
  open = undefined;
  el.history.replaceChildren();
  el.sendResult.textContent = '';
  el.callCard.hidden = false;
  el.callHeading.textContent = `Call ${callSid}`;
  for (const tr of el.calls.querySelectorAll('tr')) {
    if (tr.dataset.callSid === callSid) tr.setAttribute('aria-current', 'true');
    else tr.removeAttribute('aria-current');
  }
  updateSendSize();
  void poll();
  el.sendContent.focus();
}

export async function poll() {
  if (!state.session || polling || document.hidden) return;
  polling = true;
  try {
    const { calls, partial } = await api<OperatorCallsPage>('operator-calls', { params: { limit: '20' } });
    renderCalls(calls);
    // The server ran short of time before reading every call's state: the newest are shown.
    if (partial) el.callsStatus.textContent = 'Showing the newest calls only; the rest on the next refresh.';
    if (state.selected) {
      const callSid = state.selected;
      try {
        const history = await refreshHistory(callSid, open);
        if (state.selected === callSid) {
          open = history;
          renderHistory(history, calls.find((c) => c.callSid === callSid)?.state);
        }
      } catch (err) {
        if (err instanceof ApiError && err.status === 404)
          el.historyStatus.textContent = 'No messages stored for this call yet.';
        else throw err;
      }
    }
  } catch (err) {
    if (state.session) el.callsStatus.textContent = `Could not refresh: ${(err as Error).message}`;
  } finally {
    polling = false;
  }
}
