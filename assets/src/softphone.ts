// The browser softphone: the real @twilio/voice-sdk, against Twilio or against the local sandbox
// (same code; /client-config says which). The agent signs in (/agent-session), registers with a token
// from /token for its own identity, places and takes calls, and sends/receives Call Message Events on
// the open call. The agent session lives in this page's memory only.
import { Call, Device } from '@twilio/voice-sdk';
import { compactJson, displayJson } from '../../lib/json-text';
import { MAX_CONTENT_CHARS, MAX_PARSED_DEPTH } from '../../lib/limits';
import { refuseFraming } from './frame-guard';

type ClientConfig =
  { sandbox: false } | { sandbox: true; chunderw: string; certificateUrl: string; sounds: Record<string, string> };

/** Agent identities: what every Voice SDK accepts (lib/agents.ts). */
const IDENTITY = /^[A-Za-z0-9_]{1,121}$/;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const el = {
  mode: $<HTMLParagraphElement>('mode'),
  certHint: $<HTMLParagraphElement>('certificate-hint'),
  certLink: $<HTMLAnchorElement>('certificate-link'),
  registerForm: $<HTMLFormElement>('register-form'),
  identity: $<HTMLInputElement>('identity'),
  password: $<HTMLInputElement>('password'),
  register: $<HTMLButtonElement>('register'),
  unregister: $<HTMLButtonElement>('unregister'),
  deviceStatus: $<HTMLParagraphElement>('device-status'),
  callForm: $<HTMLFormElement>('call-form'),
  to: $<HTMLInputElement>('to'),
  params: $<HTMLTextAreaElement>('params'),
  paramsError: $<HTMLParagraphElement>('params-error'),
  callButton: $<HTMLButtonElement>('call-button'),
  incoming: $<HTMLDivElement>('incoming'),
  incomingText: $<HTMLParagraphElement>('incoming-text'),
  incomingParams: $<HTMLDListElement>('incoming-params'),
  accept: $<HTMLButtonElement>('accept'),
  reject: $<HTMLButtonElement>('reject'),
  callStatus: $<HTMLParagraphElement>('call-status'),
  callSid: $<HTMLElement>('call-sid'),
  hangup: $<HTMLButtonElement>('hangup'),
  messageForm: $<HTMLFormElement>('message-form'),
  messageContent: $<HTMLTextAreaElement>('message-content'),
  messageSize: $<HTMLParagraphElement>('message-size'),
  messageError: $<HTMLParagraphElement>('message-error'),
  send: $<HTMLButtonElement>('send-message'),
  sendNote: $<HTMLSpanElement>('send-note'),
  messages: $<HTMLOListElement>('messages'),
  log: $<HTMLOListElement>('log'),
};

let config: ClientConfig = { sandbox: false };
let device: Device | undefined;
let call: Call | undefined;
let incoming: Call | undefined;
/** The signed-in agent's session (from /agent-session): what /token asks for. */
let agentSession = '';

const time = (d = new Date()) => d.toLocaleTimeString([], { hour12: false });

function log(text: string) {
  const li = document.createElement('li');
  li.textContent = `${time()} ${text}`;
  el.log.prepend(li);
  while (el.log.children.length > 200) el.log.lastElementChild?.remove();
}

function setStatus(target: HTMLElement, text: string, tone: '' | 'ok' | 'bad' | 'warn' = '') {
  target.textContent = text;
  target.className = `status ${tone}`;
}

// ---- access token and Device ------------------------------------------------------------------

async function postForm<T>(path: string, params: Record<string, string>, bearer?: string) {
  const res = await fetch(path, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      ...(bearer ? { Authorization: `Bearer ${bearer}` } : {}),
    },
    body: new URLSearchParams(params).toString(),
  });
  const body = (await res.json().catch(() => ({}))) as Partial<T> & { message?: string };
  if (!res.ok) throw new Error(body.message ?? `${path} answered ${res.status}`);
  return body;
}

/** Signs the agent in; the session stays in memory (a reload signs out). */
async function signIn(identity: string, password: string): Promise<{ identity: string; displayName: string }> {
  const body = await postForm<{ session: string; identity: string; displayName: string }>('agent-session', {
    identity,
    password,
  });
  if (!body.session || !body.identity) throw new Error('/agent-session answered without a session');
  agentSession = body.session;
  return { identity: body.identity, displayName: body.displayName ?? body.identity };
}

/** A Voice token for the signed-in agent's own identity. */
async function fetchToken(): Promise<string> {
  const body = await postForm<{ token: string }>('token', {}, agentSession);
  if (!body.token) throw new Error('/token answered without a token');
  return body.token;
}

function deviceOptions(): Device.Options {
  if (!config.sandbox) return { closeProtection: true };
  // Sandbox: signaling to the local gateway, no insights, sounds from this server. Nothing leaves the machine.
  const sounds = Object.fromEntries(
    Object.entries(config.sounds).map(([name, path]) => [name, new URL(path, location.href).href]),
  );
  const options: Device.Options & { chunderw: string; publishEvents: boolean } = {
    chunderw: config.chunderw,
    publishEvents: false,
    sounds: sounds,
    closeProtection: false,
  };
  return options;
}

async function register(event: SubmitEvent) {
  event.preventDefault();
  const identity = el.identity.value.trim();
  if (!IDENTITY.test(identity)) {
    setStatus(el.deviceStatus, 'Identity: 1-121 letters, digits or _.', 'bad');
    el.identity.focus();
    return;
  }
  const password = el.password.value;
  if (!password) {
    setStatus(el.deviceStatus, 'Type your password.', 'bad');
    el.password.focus();
    return;
  }
  el.register.disabled = true;
  setStatus(el.deviceStatus, `Signing in as ${identity}…`);
  try {
    const agent = await signIn(identity, password);
    el.password.value = '';
    setStatus(el.deviceStatus, `Registering ${identity}…`);
    const token = await fetchToken();
    device?.destroy();
    device = new Device(token, deviceOptions());
    wireDevice(
      device,
      agent.displayName === agent.identity ? agent.identity : `${agent.identity} (${agent.displayName})`,
    );
    await device.register();
  } catch (err) {
    setStatus(el.deviceStatus, `Could not sign in: ${(err as Error).message}`, 'bad');
    el.register.disabled = false;
  }
}

function wireDevice(d: Device, identity: string) {
  d.on('registered', () => {
    setStatus(el.deviceStatus, `Registered as ${identity}.`, 'ok');
    el.certHint.hidden = true;
    log(`registered as ${identity}`);
    el.register.disabled = false;
    el.unregister.disabled = false;
    refreshControls();
  });
  d.on('unregistered', () => {
    setStatus(el.deviceStatus, 'Not registered.');
    log('unregistered');
    el.unregister.disabled = true;
    refreshControls();
  });
  d.on('error', (err: { code?: number; message?: string }) => {
    log(`device error ${err.code ?? ''}: ${err.message ?? ''}`);
    if (config.sandbox && (err.code === 31000 || err.code === 31005 || err.code === 31009)) {
      el.certLink.href = config.certificateUrl;
      el.certHint.hidden = false;
    }
    if (d.state !== Device.State.Registered) {
      setStatus(el.deviceStatus, `Not registered: ${err.message ?? 'signaling error'}`, 'bad');
      el.register.disabled = false;
    }
  });
  d.on('incoming', (c: Call) => showIncoming(c));
  d.on('tokenWillExpire', async () => {
    try {
      d.updateToken(await fetchToken());
      log('access token renewed');
    } catch (err) {
      // Session expired, agent disabled or password reset: only a new sign-in brings a token.
      log(`could not renew the access token: ${(err as Error).message}`);
      setStatus(el.deviceStatus, `Sign in again: ${(err as Error).message}`, 'warn');
      el.register.disabled = false;
    }
  });
}

/** Signs out: unregisters and forgets the session. */
async function unregister() {
  agentSession = '';
  await device?.unregister().catch(() => undefined);
}

// ---- calls -------------------------------------------------------------------------------------

function parseCustomParams(text: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line) continue;
    const at = line.indexOf('=');
    if (at < 1) throw new Error(`Line ${i + 1}: write key=value.`);
    const key = line.slice(0, at).trim();
    if (key === 'To') throw new Error(`Line ${i + 1}: To is set by the field above.`);
    params[key] = line.slice(at + 1).trim();
  }
  return params;
}

async function placeCall(event: SubmitEvent) {
  event.preventDefault();
  if (!device || call) return;
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

function showIncoming(c: Call) {
  if (call || incoming) {
    c.reject();
    return;
  }
  incoming = c;
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
    if (incoming !== c) return;
    incoming = undefined;
    el.incoming.hidden = true;
    log(`incoming call ${why}`);
    if (!call) setStatus(el.callStatus, `Missed call from ${from} (${why}).`);
    refreshControls();
  };
  c.on('cancel', gone('canceled by the caller'));
  c.on('reject', gone('rejected'));
  c.on('disconnect', gone('ended'));
}

function accept() {
  const c = incoming;
  if (!c) return;
  incoming = undefined;
  el.incoming.hidden = true;
  c.accept();
  useCall(c, `Answering ${c.parameters.From ?? ''}…`);
}

function reject() {
  const c = incoming;
  if (!c) return;
  c.reject();
}

/** Follows one call: status, SID, messages both ways. */
function useCall(c: Call, status: string) {
  call = c;
  setStatus(el.callStatus, status);
  const update = () => {
    if (call !== c) return;
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
    if (call !== c) return;
    log(`call ${why} (${c.parameters.CallSid ?? 'no CallSid'})`);
    call = undefined;
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

function hangup() {
  call?.disconnect();
}

// ---- messages ----------------------------------------------------------------------------------

type Draft = { ok: true; content: Record<string, unknown>; size: number } | { ok: false; error: string; size: number };

/** The composer's content: a JSON object whose compact form (what is sent) fits in 10,000 characters. */
function readDraft(): Draft {
  const text = el.messageContent.value;
  if (!text.trim()) return { ok: false, error: 'Write a JSON object, e.g. {"hello": "server"}.', size: 0 };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `Not valid JSON: ${(err as Error).message}`, size: text.length };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, error: 'The message must be a JSON object, e.g. {"hello": "server"}.', size: text.length };
  }
  const size = compactJson(value).length; // iterative: typed text may nest deeper than JSON.stringify can go
  if (size > MAX_CONTENT_CHARS)
    return { ok: false, error: `Too long: ${size.toLocaleString('en-US')} characters; the limit is 10,000.`, size };
  return { ok: true, content: value as Record<string, unknown>, size };
}

const callCanMessage = () =>
  !!call && !!call.parameters.CallSid && (call.status() === Call.State.Open || call.status() === Call.State.Ringing);

function refreshControls() {
  const registered = device?.state === Device.State.Registered;
  el.callButton.disabled = !device || !!call || !!incoming || !registered;
  el.hangup.disabled = !call;
  const draft = readDraft();
  el.messageSize.textContent = `${draft.size.toLocaleString('en-US')} / 10,000 characters`;
  el.messageSize.className = draft.size > MAX_CONTENT_CHARS ? 'bad' : 'muted';
  el.messageError.textContent = draft.ok ? '' : draft.error;
  el.messageContent.setAttribute('aria-invalid', String(!draft.ok));
  const canMessage = callCanMessage();
  el.send.disabled = !draft.ok || !canMessage;
  el.sendNote.textContent = canMessage ? '' : 'Sending needs an open or ringing call.';
  if (!call) el.callSid.textContent = '—';
}

function findMessage(voiceEventSid: string) {
  return [...el.messages.querySelectorAll<HTMLLIElement>('li')].find(
    (li) => li.dataset.voiceEventSid === voiceEventSid,
  );
}

function addMessage(m: { direction: 'in' | 'out'; voiceEventSid: string; content: unknown; status: string }) {
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
  el.messages.prepend(li);
  markMessage(li, m.status);
  return li;
}

function markMessage(li: HTMLLIElement, status: string, reason?: string) {
  li.dataset.status = status;
  const span = li.querySelector<HTMLSpanElement>('.message-status');
  if (span) {
    span.textContent = reason ? `${status}: ${reason}` : status;
    span.className = `message-status ${status === 'failed' ? 'bad' : status === 'pending' ? 'warn' : 'ok'}`;
  }
}

function sendMessage(event: SubmitEvent) {
  event.preventDefault();
  const draft = readDraft();
  if (!draft.ok || !call || !callCanMessage()) {
    refreshControls();
    return;
  }
  try {
    const voiceEventSid = call.sendMessage({
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

// ---- start -------------------------------------------------------------------------------------

async function start() {
  try {
    const res = await fetch('client-config');
    if (res.ok) config = (await res.json()) as ClientConfig;
  } catch {
    // no /client-config: Twilio defaults
  }
  el.mode.textContent = config.sandbox
    ? `Sandbox mode: the Voice SDK talks to the local gateway (${config.chunderw}).`
    : 'Twilio mode: the Voice SDK talks to Twilio.';
  if (!Device.isSupported) setStatus(el.deviceStatus, 'This browser does not support WebRTC calls.', 'bad');
  el.registerForm.addEventListener('submit', register);
  el.unregister.addEventListener('click', unregister);
  el.callForm.addEventListener('submit', placeCall);
  el.accept.addEventListener('click', accept);
  el.reject.addEventListener('click', reject);
  el.hangup.addEventListener('click', hangup);
  el.messageForm.addEventListener('submit', sendMessage);
  el.messageContent.addEventListener('input', refreshControls);
  refreshControls();
  document.body.dataset.ready = 'true';
}

if (!refuseFraming()) void start();
