// The operator console's elements (the agents' are in agents.ts) and the small DOM helpers its parts share.

import { $ } from '../shared/dom';

export const el = {
  sessionStatus: $<HTMLParagraphElement>('session-status'),
  loginCard: $<HTMLElement>('login-card'),
  loginForm: $<HTMLFormElement>('login-form'),
  secret: $<HTMLInputElement>('operator-secret'),
  loginError: $<HTMLParagraphElement>('login-error'),
  console: $<HTMLDivElement>('console'),
  logout: $<HTMLButtonElement>('logout'),
  tabCalls: $<HTMLButtonElement>('tab-calls'),
  tabAgents: $<HTMLButtonElement>('tab-agents'),
  callsView: $<HTMLDivElement>('calls-view'),
  agentsView: $<HTMLElement>('agents-view'),
  liveStatus: $<HTMLParagraphElement>('live-status'),
  callsStatus: $<HTMLParagraphElement>('calls-status'),
  calls: $<HTMLTableSectionElement>('calls'),
  callCard: $<HTMLElement>('call-card'),
  callHeading: $<HTMLHeadingElement>('call-heading'),
  callPlaceholder: $<HTMLParagraphElement>('call-placeholder'),
  callDetail: $<HTMLDivElement>('call-detail'),
  callSummary: $<HTMLParagraphElement>('call-summary'),
  legSelect: $<HTMLSelectElement>('leg-select'),
  sendForm: $<HTMLFormElement>('send-form'),
  sendContent: $<HTMLTextAreaElement>('send-content'),
  sendSize: $<HTMLParagraphElement>('send-size'),
  sendDisabledReason: $<HTMLParagraphElement>('send-disabled-reason'),
  send: $<HTMLButtonElement>('send'),
  sendResult: $<HTMLParagraphElement>('send-result'),
  historyStatus: $<HTMLParagraphElement>('history-status'),
  historyAnnounce: $<HTMLParagraphElement>('history-announce'),
  history: $<HTMLOListElement>('history'),
  confirmDialog: $<HTMLDialogElement>('confirm-dialog'),
  confirmText: $<HTMLParagraphElement>('confirm-text'),
  confirmOk: $<HTMLButtonElement>('confirm-ok'),
  confirmCancel: $<HTMLButtonElement>('confirm-cancel'),
  renameLabel: $<HTMLLabelElement>('rename-label'),
  renameInput: $<HTMLInputElement>('rename-input'),
};

export const time = (iso: string) => new Date(iso).toLocaleTimeString([], { hour12: false });
/** Date and time, as a shift reads them: `2026-12-06 17:05:09` in the browser's time zone. */
export function dateTime(ms: number) {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${d.toLocaleTimeString([], { hour12: false })}`;
}
export function duration(seconds: number) {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, '0');
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

export function cell(text: string, className = '', label = '') {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  // The column's name, shown before the value where the table is laid out as cards (narrow screens).
  if (label) td.dataset.label = label;
  return td;
}

/**
 * Asks before an action (a modal <dialog>: focus stays in it, Escape cancels). With `rename`, it
 * also asks for a text (prefilled): the answer is that text, or undefined when cancelled.
 */
export function confirmAction(text: string, ok: string, rename?: string): Promise<string | undefined> {
  const d = el.confirmDialog;
  el.confirmText.textContent = text;
  el.confirmOk.textContent = ok;
  el.confirmOk.className = rename === undefined ? 'danger' : '';
  el.renameLabel.hidden = rename === undefined;
  el.renameInput.hidden = rename === undefined;
  el.renameInput.value = rename ?? '';
  d.returnValue = '';
  d.showModal();
  // A destructive action starts on Cancel: Enter alone never disables an agent.
  if (rename !== undefined) el.renameInput.focus();
  else el.confirmCancel.focus();
  return new Promise((resolve) => {
    d.addEventListener(
      'close',
      () => resolve(d.returnValue === 'ok' ? (rename === undefined ? '' : el.renameInput.value.trim()) : undefined),
      { once: true },
    );
  });
}
