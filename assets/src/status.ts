// The status page: after the operator logs in (the same one-hour session as the console, kept in
// this tab's sessionStorage, so coming from the console asks for nothing), one read of
// /operator-status, shown as it answers: each variable set or missing (the page never sees a
// value), Sync, the TwiML App, the numbers, the version. Every failure is shown as text.
import { refuseFraming } from './frame-guard';
import { $ } from './shared/dom';
import {
  clearOperatorSession,
  loadOperatorSession,
  saveOperatorSession,
  type OperatorSession,
} from './shared/operator-session';
import type { OperatorStatus, StatusLevel } from '../../lib/shared/api-types';

const el = {
  sessionStatus: $<HTMLParagraphElement>('session-status'),
  loginCard: $<HTMLElement>('login-card'),
  loginForm: $<HTMLFormElement>('login-form'),
  secret: $<HTMLInputElement>('operator-secret'),
  loginError: $<HTMLParagraphElement>('login-error'),
  report: $<HTMLDivElement>('report'),
  summary: $<HTMLParagraphElement>('summary'),
  version: $<HTMLSpanElement>('version'),
  checkedAt: $<HTMLSpanElement>('checked-at'),
  voiceUrl: $<HTMLSpanElement>('voice-url'),
  refresh: $<HTMLButtonElement>('refresh'),
  reportError: $<HTMLParagraphElement>('report-error'),
  configurationDetail: $<HTMLParagraphElement>('configuration-detail'),
  variables: $<HTMLTableElement>('variables'),
  syncDetail: $<HTMLParagraphElement>('sync-detail'),
  appDetail: $<HTMLParagraphElement>('app-detail'),
  numbersDetail: $<HTMLParagraphElement>('numbers-detail'),
  numbers: $<HTMLTableElement>('numbers'),
};

let session: OperatorSession | undefined;

const LEVEL_CLASS: Record<StatusLevel, string> = { ok: 'ok', warn: 'warn', error: 'bad' };
const LEVEL_WORD: Record<StatusLevel, string> = { ok: 'OK', warn: 'Check', error: 'Problem' };

/** A JSON answer, or an Error carrying the answer's message (or what went wrong on the way). */
async function call<T>(path: string, init: RequestInit): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, { ...init, cache: 'no-store' });
  } catch {
    throw new Error(`The functions did not answer (${path}).`);
  }
  const body = (await res.json().catch(() => ({}))) as T & { code?: string; message?: string };
  if (!res.ok) throw Object.assign(new Error(body.message ?? `HTTP ${res.status}`), { status: res.status });
  return body;
}

function showLevel(target: HTMLElement, level: StatusLevel, detail: string) {
  const badge = document.createElement('strong');
  badge.className = LEVEL_CLASS[level];
  badge.textContent = `${LEVEL_WORD[level]}: `;
  target.replaceChildren(badge, document.createTextNode(detail));
  target.dataset.level = level;
}

function cell(row: HTMLTableRowElement, text: string, className?: string) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
}

function render(status: OperatorStatus) {
  el.version.textContent = status.version;
  el.checkedAt.textContent = new Date(status.checkedAt).toLocaleString();
  el.voiceUrl.textContent = status.voiceUrl;
  const parts = [status.configuration, status.sync, status.twimlApp, status.numbers];
  const worst: StatusLevel = parts.some((p) => p.level === 'error')
    ? 'error'
    : parts.some((p) => p.level === 'warn')
      ? 'warn'
      : 'ok';
  showLevel(
    el.summary,
    worst,
    worst === 'ok' ? 'configured and wired: calls reach this deployment.' : 'see the parts marked below.',
  );
  showLevel(el.configurationDetail, status.configuration.level, status.configuration.detail);
  const vars = el.variables.tBodies[0]!;
  vars.replaceChildren();
  for (const v of status.configuration.variables) {
    const row = vars.insertRow();
    row.dataset.variable = v.name;
    cell(row, v.name, 'mono');
    cell(row, v.need);
    cell(
      row,
      v.problem ? `set, but ${v.problem}` : v.set ? 'set' : 'missing',
      v.problem || (!v.set && v.need === 'required') ? 'bad' : v.set ? 'ok' : 'muted',
    );
    cell(row, v.purpose);
  }
  showLevel(el.syncDetail, status.sync.level, `${status.sync.detail} (service ${status.sync.service})`);
  const app = status.twimlApp;
  showLevel(
    el.appDetail,
    app.level,
    app.sid
      ? `${app.detail} ${app.friendlyName ?? ''} ${app.sid}${app.voiceUrl !== undefined ? `, voice URL ${app.voiceUrl || '(empty)'}` : ''}`
      : app.detail,
  );
  showLevel(
    el.numbersDetail,
    status.numbers.level,
    `${status.numbers.detail}${status.numbers.more ? ' (the first 50 shown)' : ''}`,
  );
  const nums = el.numbers.tBodies[0]!;
  nums.replaceChildren();
  for (const n of status.numbers.numbers) {
    const row = nums.insertRow();
    row.dataset.number = n.phoneNumber;
    cell(row, n.phoneNumber, 'mono');
    cell(row, n.voiceApplicationSid ? `TwiML App ${n.voiceApplicationSid}` : n.voiceUrl || '(nothing)', 'mono');
    cell(row, n.pointsHere ? 'yes' : 'no', n.pointsHere ? 'ok' : 'muted');
  }
}

async function check() {
  if (!session) return;
  el.reportError.textContent = '';
  el.refresh.disabled = true;
  try {
    render(await call<OperatorStatus>('operator-status', { headers: { Authorization: `Bearer ${session.session}` } }));
    document.body.dataset.checked = 'true';
  } catch (err) {
    if ((err as { status?: number }).status === 401) logout('Your session expired; log in again.');
    else el.reportError.textContent = (err as Error).message;
  } finally {
    el.refresh.disabled = false;
  }
}

function showReport() {
  if (!session) return;
  el.loginCard.hidden = true;
  el.report.hidden = false;
  el.sessionStatus.textContent = `Logged in until ${new Date(session.expiresAt).toLocaleTimeString()}.`;
  void check();
}

function logout(reason: string) {
  session = undefined;
  clearOperatorSession();
  el.report.hidden = true;
  el.loginCard.hidden = false;
  el.sessionStatus.textContent = reason;
}

async function login(event: SubmitEvent) {
  event.preventDefault();
  el.loginError.textContent = '';
  if (!el.secret.value) {
    el.loginError.textContent = 'Type the operator secret.';
    el.secret.focus();
    return;
  }
  try {
    session = await call<OperatorSession>('operator-session', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ secret: el.secret.value }).toString(),
    });
    saveOperatorSession(session);
    el.secret.value = '';
    showReport();
  } catch (err) {
    el.loginError.textContent = (err as Error).message;
    el.secret.focus();
  }
}

function start() {
  el.loginForm.addEventListener('submit', (e) => void login(e));
  el.refresh.addEventListener('click', () => void check());
  session = loadOperatorSession();
  showReport();
  document.body.dataset.ready = 'true';
}

if (!refuseFraming()) start();
