// The operator console: recent Voice SDK calls and their messages both ways (polling the
// /operator-* functions), a box to send server → SDK, and the agents who may sign in to the
// softphone (list, add, disable/enable, reset a password). The operator secret is exchanged for a
// one-hour session token; the Auth Token never reaches the browser.

import { compactJson, displayJson } from '../../lib/json-text';
import { refuseFraming } from './frame-guard';
import type { CallMessagePageItem, CallMessagesPage, LegState } from '../../lib/api-types';
import { MAX_CONTENT_CHARS, MAX_PARSED_DEPTH } from '../../lib/limits';

interface CallRow {
  callSid: string;
  createdAt: string;
  status: string;
  active: boolean;
  state: LegState | null;
}
type Message = CallMessagePageItem & { data?: unknown };
type CallHistory = CallMessagesPage & { messages: Message[] };

/** The open call's history as read so far: later polls ask only for what came after `cursor`. */
interface OpenHistory {
  callSid: string;
  state?: LegState | null;
  messages: Message[];
  cursor?: string;
}

/** Pages read when a call is opened (100 messages each): older history is there through /call-messages. */
const MAX_FIRST_PAGES = 10;

const POLL_MS = 2000;
const STORAGE_KEY = 'cme.operator.session';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const el = {
  sessionStatus: $<HTMLParagraphElement>('session-status'),
  loginCard: $<HTMLElement>('login-card'),
  loginForm: $<HTMLFormElement>('login-form'),
  secret: $<HTMLInputElement>('operator-secret'),
  loginError: $<HTMLParagraphElement>('login-error'),
  console: $<HTMLDivElement>('console'),
  logout: $<HTMLButtonElement>('logout'),
  callsStatus: $<HTMLParagraphElement>('calls-status'),
  calls: $<HTMLTableSectionElement>('calls'),
  callCard: $<HTMLElement>('call-card'),
  callHeading: $<HTMLHeadingElement>('call-heading'),
  callSummary: $<HTMLParagraphElement>('call-summary'),
  sendForm: $<HTMLFormElement>('send-form'),
  sendContent: $<HTMLTextAreaElement>('send-content'),
  sendSize: $<HTMLParagraphElement>('send-size'),
  send: $<HTMLButtonElement>('send'),
  sendResult: $<HTMLParagraphElement>('send-result'),
  historyStatus: $<HTMLParagraphElement>('history-status'),
  history: $<HTMLOListElement>('history'),
};

let session: { session: string; expiresAt: string } | undefined;
let selected: string | undefined;
let timer: number | undefined;
let polling = false;
let open: OpenHistory | undefined;

const time = (iso: string) => new Date(iso).toLocaleTimeString([], { hour12: false });

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function api<T>(
  path: string,
  init: { method?: 'GET' | 'POST'; params?: Record<string, string> } = {},
): Promise<T> {
  const method = init.method ?? 'GET';
  const query = method === 'GET' && init.params ? `?${new URLSearchParams(init.params)}` : '';
  const res = await fetch(`${path}${query}`, {
    method,
    headers: {
      ...(session ? { Authorization: `Bearer ${session.session}` } : {}),
      ...(method === 'POST' ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {}),
    },
    body: method === 'POST' ? new URLSearchParams(init.params ?? {}).toString() : undefined,
    cache: 'no-store',
  });
  const body = (await res.json().catch(() => ({}))) as T & { code?: string; message?: string };
  if (!res.ok) {
    if (res.status === 401 && session) logout('Your session expired; log in again.');
    throw new ApiError(res.status, body.code ?? 'error', body.message ?? `HTTP ${res.status}`);
  }
  return body;
}

// ---- session -----------------------------------------------------------------------------------

async function login(event: SubmitEvent) {
  event.preventDefault();
  el.loginError.textContent = '';
  if (!el.secret.value) {
    el.loginError.textContent = 'Type the operator secret.';
    el.secret.focus();
    return;
  }
  try {
    session = await api<{ session: string; expiresAt: string }>('operator-session', {
      method: 'POST',
      params: { secret: el.secret.value },
    });
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
    el.secret.value = '';
    showConsole();
  } catch (err) {
    el.loginError.textContent = (err as Error).message;
    el.secret.focus();
  }
}

function logout(reason = 'Logged out.') {
  session = undefined;
  selected = undefined;
  sessionStorage.removeItem(STORAGE_KEY);
  window.clearInterval(timer);
  timer = undefined;
  el.console.hidden = true;
  el.loginCard.hidden = false;
  el.calls.replaceChildren();
  el.history.replaceChildren();
  el.callCard.hidden = true;
  agentEl.rows.replaceChildren();
  agentStatus('');
  el.sessionStatus.textContent = reason;
  el.secret.focus();
}

function showConsole() {
  if (!session) return;
  el.loginCard.hidden = true;
  el.console.hidden = false;
  el.sessionStatus.textContent = `Logged in until ${time(session.expiresAt)}.`;
  window.clearInterval(timer);
  timer = window.setInterval(() => void poll(), POLL_MS);
  void poll();
  void loadAgents();
}

// ---- calls -------------------------------------------------------------------------------------

function cell(text: string, className = '') {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

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
        const old = tr.children[i] as HTMLTableCellElement;
        if (old.textContent !== td.textContent || old.className !== td.className) old.replaceWith(td);
      }
    }
    tr.dataset.status = status;
    const button = tr.querySelector('button')!;
    button.setAttribute('aria-label', `Messages of the call with ${identity} (${status})`);
    if (c.callSid === selected) tr.setAttribute('aria-current', 'true');
    else tr.removeAttribute('aria-current');
    rows.delete(c.callSid);
    previous = tr;
  }
  for (const tr of rows.values()) if (tr.dataset.callSid !== selected) tr.remove();
  el.callsStatus.textContent = calls.length ? '' : 'No calls yet. Place or receive a call with the softphone.';
}

function select(callSid: string) {
  selected = callSid;
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

// ---- one call's messages ----------------------------------------------------------------------

/**
 * Brings the open call's history up to date: its first pages when it is opened, then only what
 * came after the last message seen (one request, whatever the history's length).
 */
async function refreshHistory(callSid: string): Promise<OpenHistory> {
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
function renderHistory(history: OpenHistory, state: LegState | null | undefined) {
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

async function poll() {
  if (!session || polling || document.hidden) return;
  polling = true;
  try {
    const { calls } = await api<{ calls: CallRow[] }>('operator-calls', { params: { limit: '20' } });
    renderCalls(calls);
    if (selected) {
      const callSid = selected;
      try {
        const history = await refreshHistory(callSid);
        if (selected === callSid) {
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
    if (session) el.callsStatus.textContent = `Could not refresh: ${(err as Error).message}`;
  } finally {
    polling = false;
  }
}

// ---- sending -----------------------------------------------------------------------------------

function draft(): { ok: true; text: string } | { ok: false; error: string; size: number } {
  const text = el.sendContent.value.trim();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `Not valid JSON: ${(err as Error).message}`, size: text.length };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { ok: false, error: 'The message must be a JSON object.', size: text.length };
  const compact = compactJson(value); // the operator's own text may nest deeper than JSON.stringify can go
  if (compact.length > MAX_CONTENT_CHARS)
    return {
      ok: false,
      error: `Too long: ${compact.length.toLocaleString('en-US')} characters; the limit is 10,000.`,
      size: compact.length,
    };
  return { ok: true, text: compact };
}

function updateSendSize() {
  const d = draft();
  const size = d.ok ? d.text.length : d.size;
  el.sendSize.textContent = `${size.toLocaleString('en-US')} / 10,000 characters${d.ok ? '' : ` — ${d.error}`}`;
  el.sendSize.className = d.ok ? 'muted' : 'bad';
  el.sendContent.setAttribute('aria-invalid', String(!d.ok));
}

async function send(event: SubmitEvent) {
  event.preventDefault();
  if (!selected) return;
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
      params: { callSid: selected, content: d.text, idempotencyKey: `console-${crypto.randomUUID()}` },
    });
    el.sendResult.textContent = `Sent ${sent.sid}.`;
    el.sendResult.className = 'ok';
  } catch (err) {
    const e = err as ApiError;
    el.sendResult.textContent = `Not sent (${e.status ?? ''} ${e.code ?? ''}): ${e.message}`;
    el.sendResult.className = 'bad';
  } finally {
    el.send.disabled = false;
    void poll();
  }
}

// ---- agents ------------------------------------------------------------------------------------

interface AgentRow {
  identity: string;
  displayName: string;
  enabled: boolean;
}

/** Agent identities: what every Voice SDK accepts (lib/agents.ts). */
const AGENT_IDENTITY = /^[A-Za-z0-9_]{1,121}$/;

const agentEl = {
  status: $<HTMLParagraphElement>('agents-status'),
  rows: $<HTMLTableSectionElement>('agents'),
  form: $<HTMLFormElement>('agent-form'),
  identity: $<HTMLInputElement>('agent-identity'),
  name: $<HTMLInputElement>('agent-name'),
  password: $<HTMLInputElement>('agent-password'),
};

function agentStatus(text: string, tone: '' | 'ok' | 'bad' = '') {
  agentEl.status.textContent = text;
  agentEl.status.className = tone;
}

/** A generated password is shown once, here; only its hash is stored. */
function announcePassword(identity: string, password?: string) {
  if (password) agentStatus(`New password for ${identity}: ${password} (shown once: give it to the agent now).`, 'ok');
}

async function loadAgents() {
  try {
    const { agents } = await api<{ agents: AgentRow[] }>('operator-agents');
    renderAgents(agents);
  } catch (err) {
    if (session) agentStatus(`Could not list agents: ${(err as Error).message}`, 'bad');
  }
}

function renderAgents(agents: AgentRow[]) {
  agentEl.rows.replaceChildren(
    ...agents.map((a) => {
      const tr = document.createElement('tr');
      tr.dataset.identity = a.identity;
      tr.dataset.enabled = String(a.enabled);
      const actions = document.createElement('td');
      const toggle = document.createElement('button');
      toggle.type = 'button';
      toggle.className = a.enabled ? 'danger' : 'secondary';
      toggle.textContent = a.enabled ? 'Disable' : 'Enable';
      toggle.setAttribute('aria-label', `${toggle.textContent} ${a.identity}`);
      toggle.addEventListener('click', () => void changeAgent(a.identity, a.enabled ? 'disable' : 'enable'));
      const reset = document.createElement('button');
      reset.type = 'button';
      reset.className = 'secondary';
      reset.textContent = 'Reset password';
      reset.setAttribute('aria-label', `Reset the password of ${a.identity}`);
      reset.addEventListener('click', () => void changeAgent(a.identity, 'reset-password'));
      actions.append(toggle, ' ', reset);
      tr.append(
        cell(a.identity, 'mono'),
        cell(a.displayName),
        cell(a.enabled ? 'enabled' : 'disabled', a.enabled ? 'ok' : 'muted'),
        actions,
      );
      return tr;
    }),
  );
  if (!agents.length) agentStatus('No agents yet: add one below.');
}

async function changeAgent(identity: string, action: 'disable' | 'enable' | 'reset-password') {
  try {
    const res = await api<{ agent: AgentRow; password?: string }>('operator-agents-update', {
      method: 'POST',
      params: { identity, action },
    });
    if (action === 'reset-password') announcePassword(identity, res.password);
    else agentStatus(`${identity} ${res.agent.enabled ? 'enabled' : 'disabled'}.`, 'ok');
  } catch (err) {
    agentStatus(`Could not change ${identity}: ${(err as Error).message}`, 'bad');
  }
  await loadAgents();
}

async function addAgent(event: SubmitEvent) {
  event.preventDefault();
  const identity = agentEl.identity.value.trim();
  if (!AGENT_IDENTITY.test(identity)) {
    agentStatus('Identity: letters, digits and _ only (no . or -), up to 121 characters.', 'bad');
    agentEl.identity.focus();
    return;
  }
  const password = agentEl.password.value;
  if (password && password.length < 12) {
    agentStatus('Password: at least 12 characters, or leave it empty to generate one.', 'bad');
    agentEl.password.focus();
    return;
  }
  try {
    const res = await api<{ agent: AgentRow; password?: string }>('operator-agents-add', {
      method: 'POST',
      params: { identity, displayName: agentEl.name.value.trim(), password },
    });
    agentEl.form.reset();
    agentStatus(`Added ${identity}.`, 'ok');
    announcePassword(identity, res.password);
  } catch (err) {
    agentStatus(`Not added: ${(err as Error).message}`, 'bad');
  }
  await loadAgents();
}

// ---- start -------------------------------------------------------------------------------------

function start() {
  el.loginForm.addEventListener('submit', login);
  el.logout.addEventListener('click', () => logout());
  el.sendForm.addEventListener('submit', send);
  agentEl.form.addEventListener('submit', addAgent);
  el.sendContent.addEventListener('input', updateSendSize);
  document.addEventListener('visibilitychange', () => void poll());
  const saved = sessionStorage.getItem(STORAGE_KEY);
  if (saved) {
    try {
      const parsed = JSON.parse(saved) as { session: string; expiresAt: string };
      if (Date.parse(parsed.expiresAt) > Date.now()) session = parsed;
    } catch {
      sessionStorage.removeItem(STORAGE_KEY);
    }
  }
  if (session) showConsole();
  document.body.dataset.ready = 'true';
}

if (!refuseFraming()) start();
