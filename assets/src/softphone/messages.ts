// Call Message Events on the open call: the composer, the list of messages both ways, and the
// controls whose state follows the Device, the call and the draft.

import { Call, Device } from '@twilio/voice-sdk';
import { compactJson, displayJson } from '../../../lib/shared/json-text';
import { MAX_CONTENT_CHARS, MAX_PARSED_DEPTH } from '../../../lib/shared/limits';
import { checkJsonObject, MAX_CONTENT_TEXT } from '../shared/json-draft';
import { el, log, time } from './elements';
import { state } from './state';

type Draft = { ok: true; content: Record<string, unknown>; size: number } | { ok: false; error: string; size: number };

/** The composer's content: a JSON object whose compact form (what is sent) fits in 10,000 characters. */
function readDraft(): Draft {
  const text = el.messageContent.value;
  if (!text.trim()) return { ok: false, error: 'Write a JSON object, e.g. {"hello": "server"}.', size: 0 };
  const d = checkJsonObject(text, 'The message must be a JSON object, e.g. {"hello": "server"}.');
  return d.ok ? { ok: true, content: d.content, size: d.compact.length } : d;
}

const callCanMessage = () =>
  !!state.call &&
  !!state.call.parameters.CallSid &&
  (state.call.status() === Call.State.Open || state.call.status() === Call.State.Ringing);

export function refreshControls() {
  const { device, call, incoming } = state;
  const registered = device?.state === Device.State.Registered;
  el.callButton.disabled = !device || !!call || !!incoming || !registered;
  el.hangup.disabled = !call;
  const draft = readDraft();
  el.messageSize.textContent = `${draft.size.toLocaleString('en-US')} / ${MAX_CONTENT_TEXT} characters`;
  el.messageSize.className = draft.size > MAX_CONTENT_CHARS ? 'bad' : 'muted';
  el.messageError.textContent = draft.ok ? '' : draft.error;
  el.messageContent.setAttribute('aria-invalid', String(!draft.ok));
  const canMessage = callCanMessage();
  el.send.disabled = !draft.ok || !canMessage;
  el.sendNote.textContent = canMessage ? '' : 'Sending needs an open or ringing call.';
  if (!call) el.callSid.textContent = '—';
}

export function findMessage(voiceEventSid: string) {
  return [...el.messages.querySelectorAll<HTMLLIElement>('li')].find(
    (li) => li.dataset.voiceEventSid === voiceEventSid,
  );
}

export function addMessage(m: { direction: 'in' | 'out'; voiceEventSid: string; content: unknown; status: string }) {
  const li = document.createElement('li');
  li.className = m.direction;
  li.dataset.direction = m.direction;
  li.dataset.voiceEventSid = m.voiceEventSid;
  const head = document.createElement('div');
  const what = document.createElement('strong');
  what.textContent = m.direction === 'out' ? 'Sent to server' : 'Received from server';
  const status = document.createElement('span');
  status.className = 'message-status';
  head.append(what, ` · ${time()} · `, status, ' · ');
  const sid = document.createElement('code');
  sid.textContent = m.voiceEventSid;
  head.append(sid);
  const pre = document.createElement('pre');
  // What the SDK hands over is already parsed and may nest thousands of levels: serialised without recursion.
  pre.textContent = displayJson(compactJson(m.content), MAX_PARSED_DEPTH);
  li.append(head, pre);
  el.messages.append(li);
  markMessage(li, m.status);
  return li;
}

export function markMessage(li: HTMLLIElement, status: string, reason?: string) {
  li.dataset.status = status;
  const span = li.querySelector<HTMLSpanElement>('.message-status');
  if (span) {
    span.textContent = reason ? `${status}: ${reason}` : status;
    span.className = `message-status ${status === 'failed' ? 'bad' : status === 'pending' ? 'warn' : 'ok'}`;
  }
}

export function sendMessage(event: SubmitEvent) {
  event.preventDefault();
  const draft = readDraft();
  if (!draft.ok || !state.call || !callCanMessage()) {
    refreshControls();
    return;
  }
  try {
    const voiceEventSid = state.call.sendMessage({
      content: draft.content,
      contentType: 'application/json',
      messageType: 'user-defined-message',
    });
    addMessage({ direction: 'out', voiceEventSid, content: draft.content, status: 'pending' });
    log(`message sent (${voiceEventSid}), waiting for the ack`);
  } catch (err) {
    el.messageError.textContent = `Not sent: ${(err as Error).message}`;
  }
}
