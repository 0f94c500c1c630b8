// The box that sends a message server → SDK on the open leg (/operator-send): disabled, with the
// reason beside it, when that leg has ended.

import { checkJsonObject, MAX_CONTENT_TEXT } from '../shared/json-draft';
import { type ApiError, api } from './api';
import { el } from './elements';
import { state } from './state';

let legLive = false;
let sending = false;

function draft(): { ok: true; text: string } | { ok: false; error: string; size: number } {
  const d = checkJsonObject(el.sendContent.value.trim(), 'The message must be a JSON object.');
  return d.ok ? { ok: true, text: d.compact } : d;
}

export function updateSendSize() {
  const d = draft();
  const size = d.ok ? d.text.length : d.size;
  el.sendSize.textContent = `${size.toLocaleString('en-US')} / ${MAX_CONTENT_TEXT} characters${d.ok ? '' : ` — ${d.error}`}`;
  el.sendSize.className = d.ok ? 'muted' : 'bad';
  el.sendContent.setAttribute('aria-invalid', String(!d.ok));
}

/** Whether the open leg can take a message: Send is disabled with its reason when not. */
export function updateSendState(live: boolean, endUnknown = false) {
  legLive = live;
  el.send.disabled = sending || !live;
  el.sendDisabledReason.textContent = live
    ? ''
    : endUnknown
      ? 'Send is off: this call’s end was never reported and it is past its time to live.'
      : 'Send is off: this call has ended, so the softphone can no longer receive messages.';
  updateSendSize();
}

/** Sends the box's content to the open leg; `refresh` (reading its messages) runs once an attempt is over. */
export async function send(event: SubmitEvent, refresh: () => Promise<void>) {
  event.preventDefault();
  if (!state.selected || !legLive) return;
  const d = draft();
  updateSendSize();
  if (!d.ok) {
    el.sendResult.textContent = `Not sent: ${d.error}`;
    el.sendResult.className = 'bad';
    return;
  }
  sending = true;
  el.send.disabled = true;
  el.sendResult.textContent = 'Sending…';
  el.sendResult.className = '';
  try {
    const sent = await api<{ sid: string }>('operator-send', {
      method: 'POST',
      params: { callSid: state.selected, content: d.text, idempotencyKey: `console-${crypto.randomUUID()}` },
    });
    el.sendResult.textContent = `Sent ${sent.sid}.`;
    el.sendResult.className = 'ok';
  } catch (err) {
    const e = err as ApiError;
    el.sendResult.textContent = `Not sent (${e.status ?? ''} ${e.code ?? ''}): ${e.message}`;
    el.sendResult.className = 'bad';
  } finally {
    sending = false;
    el.send.disabled = !legLive;
    void refresh();
  }
}
