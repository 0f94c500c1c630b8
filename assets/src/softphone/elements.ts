// The softphone's elements, its event log and its status lines.

import { $ } from '../shared/dom';

export const el = {
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

export const time = (d = new Date()) => d.toLocaleTimeString([], { hour12: false });

export function log(text: string) {
  const li = document.createElement('li');
  li.textContent = `${time()} ${text}`;
  el.log.prepend(li);
  while (el.log.children.length > 200) el.log.lastElementChild?.remove();
}

export function setStatus(target: HTMLElement, text: string, tone: '' | 'ok' | 'bad' | 'warn' = '') {
  target.textContent = text;
  target.className = `status ${tone}`;
}
