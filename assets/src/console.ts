// The operator console: recent Voice SDK calls and their messages both ways (polling the
// /operator-* functions), a box to send server → SDK, and the agents who may sign in to the
// softphone (list, add, disable/enable, reset a password). The operator secret is exchanged for a
// one-hour session token; the Auth Token never reaches the browser.
//
// This file is the bundle's entry (scripts/build-browser.mjs): the session and the start; the
// parts are in console/.

import { refuseFraming } from './frame-guard';
import { clearAgents, loadAgents, wireAgents } from './console/agents';
import { api, onSessionExpired } from './console/api';
import { poll } from './console/calls';
import { el, time } from './console/elements';
import { send, updateSendSize } from './console/sending';
import { state, type Session } from './console/state';

const POLL_MS = 2000;
const STORAGE_KEY = 'cme.operator.session';

let timer: number | undefined;

async function login(event: SubmitEvent) {
  event.preventDefault();
  el.loginError.textContent = '';
  if (!el.secret.value) {
    el.loginError.textContent = 'Type the operator secret.';
    el.secret.focus();
    return;
  }
  try {
    state.session = await api<Session>('operator-session', {
      method: 'POST',
      params: { secret: el.secret.value },
    });
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(state.session));
    el.secret.value = '';
    showConsole();
  } catch (err) {
    el.loginError.textContent = (err as Error).message;
    el.secret.focus();
  }
}

function logout(reason = 'Logged out.') {
  state.session = undefined;
  state.selected = undefined;
  sessionStorage.removeItem(STORAGE_KEY);
  window.clearInterval(timer);
  timer = undefined;
  el.console.hidden = true;
  el.loginCard.hidden = false;
  el.calls.replaceChildren();
  el.history.replaceChildren();
  el.callCard.hidden = true;
  clearAgents();
  el.sessionStatus.textContent = reason;
  el.secret.focus();
}

function showConsole() {
  if (!state.session) return;
  el.loginCard.hidden = true;
  el.console.hidden = false;
  el.sessionStatus.textContent = `Logged in until ${time(state.session.expiresAt)}.`;
  window.clearInterval(timer);
  timer = window.setInterval(() => void poll(), POLL_MS);
  void poll();
  void loadAgents();
}

function start() {
  onSessionExpired(logout);
  el.loginForm.addEventListener('submit', login);
  el.logout.addEventListener('click', () => logout());
  el.sendForm.addEventListener('submit', (event) => send(event, poll));
  wireAgents();
  el.sendContent.addEventListener('input', updateSendSize);
  document.addEventListener('visibilitychange', () => void poll());
  const saved = sessionStorage.getItem(STORAGE_KEY);
  if (saved) {
    try {
      const parsed = JSON.parse(saved) as Session;
      if (Date.parse(parsed.expiresAt) > Date.now()) state.session = parsed;
    } catch {
      sessionStorage.removeItem(STORAGE_KEY);
    }
  }
  if (state.session) showConsole();
  document.body.dataset.ready = 'true';
}

if (!refuseFraming()) start();
