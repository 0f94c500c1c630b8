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

export const time = (iso: string) => new Date(iso).toLocaleTimeString([], { hour12: false });

export function cell(text: string, className = '') {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}
