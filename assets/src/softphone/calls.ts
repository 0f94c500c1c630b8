// Placing, taking and following one call at a time.

import { Call } from '@twilio/voice-sdk';
import { el, log, setStatus } from './elements';
import { addMessage, findMessage, markMessage, refreshControls } from './messages';
import { state } from './state';
import { customParameterProblem, MAX_CUSTOM_PARAMETERS } from '../../../lib/shared/limits';

/**
 * `key=value` lines, checked as /voice checks them (lib/shared/limits.ts) so nothing typed here is
 * dropped on the way to the callee without the caller knowing.
 */
function parseCustomParams(text: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line) continue;
    const at = line.indexOf('=');
    if (at < 1) throw new Error(`Line ${i + 1}: write key=value.`);
    const key = line.slice(0, at).trim();
    const value = line.slice(at + 1).trim();
    const problem = customParameterProblem(key, value);
    if (problem) throw new Error(`Line ${i + 1}: ${problem}.`);
    params[key] = value;
  }
  if (Object.keys(params).length > MAX_CUSTOM_PARAMETERS) {
    throw new Error(`At most ${MAX_CUSTOM_PARAMETERS} parameters.`);
  }
  return params;
}

export async function placeCall(event: SubmitEvent) {
  event.preventDefault();
  const device = state.device;
  if (!device || state.call) return;
  const to = el.to.value.trim();
  if (!to) {
    el.paramsError.textContent = 'Type a number (+15551234567) or a client identity.';
    el.to.focus();
    return;
  }
  let params: Record<string, string>;
  try {
    params = parseCustomParams(el.params.value);
  } catch (err) {
    el.paramsError.textContent = (err as Error).message;
    el.params.focus();
    return;
  }
  el.paramsError.textContent = '';
  try {
    const c = await device.connect({ params: { To: to, ...params } });
    log(`calling ${to}`);
    useCall(c, `Calling ${to}…`);
  } catch (err) {
    setStatus(el.callStatus, `Could not call: ${(err as Error).message}`, 'bad');
  }
}

export function showIncoming(c: Call) {
  if (state.call || state.incoming) {
    c.reject();
    return;
  }
  state.incoming = c;
  const from = c.parameters.From ?? 'unknown';
  el.incomingText.textContent = `Incoming call from ${from}`;
  el.incomingParams.replaceChildren();
  for (const [key, value] of c.customParameters) {
    const dt = document.createElement('dt');
    dt.textContent = key;
    const dd = document.createElement('dd');
    dd.textContent = value;
    el.incomingParams.append(dt, dd);
  }
  el.incoming.hidden = false;
  el.accept.focus();
  log(`incoming call from ${from} (${c.parameters.CallSid})`);
  const gone = (why: string) => () => {
    if (state.incoming !== c) return;
    state.incoming = undefined;
    el.incoming.hidden = true;
    log(`incoming call ${why}`);
    if (!state.call) setStatus(el.callStatus, `Missed call from ${from} (${why}).`);
    refreshControls();
  };
  c.on('cancel', gone('canceled by the caller'));
  c.on('reject', gone('rejected'));
  c.on('disconnect', gone('ended'));
}

export function accept() {
  const c = state.incoming;
  if (!c) return;
  state.incoming = undefined;
  el.incoming.hidden = true;
  c.accept();
  useCall(c, `Answering ${c.parameters.From ?? ''}…`);
}

export function reject() {
  const c = state.incoming;
  if (!c) return;
  c.reject();
}

/** Follows one call: status, SID, messages both ways. */
function useCall(c: Call, status: string) {
  state.call = c;
  setStatus(el.callStatus, status);
  const update = () => {
    if (state.call !== c) return;
    el.callSid.textContent = c.parameters.CallSid ?? '—';
    refreshControls();
  };
  c.on('ringing', () => {
    setStatus(el.callStatus, 'Ringing…');
    log(`ringing (${c.parameters.CallSid})`);
    update();
  });
  c.on('accept', () => {
    setStatus(
      el.callStatus,
      `In call (${c.direction === Call.CallDirection.Incoming ? c.parameters.From : el.to.value.trim()}).`,
      'ok',
    );
    log(`call open (${c.parameters.CallSid})`);
    update();
  });
  const ended = (why: string) => () => {
    if (state.call !== c) return;
    log(`call ${why} (${c.parameters.CallSid ?? 'no CallSid'})`);
    state.call = undefined;
    setStatus(el.callStatus, `Call ${why}.`);
    for (const li of el.messages.querySelectorAll<HTMLLIElement>('li[data-status="pending"]'))
      markMessage(li, 'failed', 'the call ended');
    refreshControls();
  };
  c.on('disconnect', ended('ended'));
  c.on('cancel', ended('canceled'));
  c.on('reject', ended('rejected'));
  c.on('error', (err: { code?: number; message?: string; originalError?: { voiceeventsid?: string } }) => {
    log(`call error ${err.code ?? ''}: ${err.message ?? ''}`);
    // A refused message: fail it (the oldest pending one, as the gateway answers in order).
    const pending = el.messages.querySelector<HTMLLIElement>('li[data-direction="out"][data-status="pending"]');
    if (pending) markMessage(pending, 'failed', err.message ?? `error ${err.code}`);
  });
  c.on('messageSent', (m: Call.Message) => {
    const li = m.voiceEventSid ? findMessage(m.voiceEventSid) : undefined;
    if (li) markMessage(li, 'sent');
  });
  c.on('messageReceived', (m: Call.Message) => {
    addMessage({ direction: 'in', voiceEventSid: m.voiceEventSid ?? '', content: m.content, status: 'received' });
    log(`message received (${m.voiceEventSid})`);
  });
  update();
}

export function hangup() {
  state.call?.disconnect();
}
