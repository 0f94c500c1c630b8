// The box that sends a message server → SDK on the open call (/operator-send).

import { checkJsonObject, MAX_CONTENT_TEXT } from '../shared/json-draft';
import { type ApiError, api } from './api';
import { el } from './elements';
import { state } from './state';

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

/** Sends the box's content to the open call; `refresh` (the poll) runs once an attempt is over. */
export async function send(event: SubmitEvent, refresh: () => Promise<void>) {
  event.preventDefault();
  if (!state.selected) return;
  const d = draft();
  updateSendSize();
  if (!d.ok) {
    el.sendResult.textContent = `Not sent: ${d.error}`;
    el.sendResult.className = 'bad';
    return;
  }
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
    el.send.disabled = false;
    void refresh();
  }
}
