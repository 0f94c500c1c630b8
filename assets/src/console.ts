// The operator console: recent calls (one row per call, its Voice SDK legs grouped) and their
// messages both ways, a box to send server → SDK, and the agents who may sign in to the softphone
// (list, add, rename, disable/enable, reset a password). Live: Sync's own channel says when
// something changed (console/live.ts), so an idle console makes no request. The operator secret is
// exchanged for a one-hour session token; the Auth Token never reaches the browser.
//
// This file is the bundle's entry (scripts/build-browser.mjs): the session, the tabs and the start;
// the parts are in console/.

import { refuseFraming } from './frame-guard';
import { clearAgents, loadAgents, wireAgents } from './console/agents';
import { api, onSessionExpired } from './console/api';
import {
  clearCalls,
  legChanged,
  refreshAll,
  refreshCalls,
  refreshMessages,
  tickDurations,
  wireCalls,
} from './console/calls';
import { conferenceShown, refreshConference, wireConference } from './console/conference';
import { el, time } from './console/elements';
import { startLive, stopLive } from './console/live';
import { send, updateSendSize } from './console/sending';
import { state, type Session } from './console/state';
import { clearOperatorSession, loadOperatorSession, saveOperatorSession } from './shared/operator-session';

/** Live calls' durations tick on screen: no request. */
const TICK_MS = 1000;

let ticker: number | undefined;
let sessionTimer: number | undefined;

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
    saveOperatorSession(state.session);
    el.secret.value = '';
    showConsole();
  } catch (err) {
    el.loginError.textContent = (err as Error).message;
    el.secret.focus();
  }
}

function logout(reason = 'Logged out.') {
  state.session = undefined;
  clearOperatorSession();
  stopLive();
  window.clearInterval(ticker);
  window.clearTimeout(sessionTimer);
  ticker = undefined;
  el.console.hidden = true;
  el.logout.hidden = true;
  el.loginCard.hidden = false;
  clearCalls();
  clearAgents();
  el.sessionStatus.textContent = reason;
  el.secret.focus();
}

function showConsole() {
  if (!state.session) return;
  el.loginCard.hidden = true;
  el.console.hidden = false;
  el.logout.hidden = false;
  el.sessionStatus.textContent = `Logged in until ${time(state.session.expiresAt)}.`;
  window.clearInterval(ticker);
  ticker = window.setInterval(tickDurations, TICK_MS);
  // The session ends on its own: the page says so rather than failing its next request.
  window.clearTimeout(sessionTimer);
  sessionTimer = window.setTimeout(
    () => logout('Your session expired; log in again.'),
    Math.max(0, Date.parse(state.session.expiresAt) - Date.now()),
  );
  // The live channel first (its subscriptions replay what is written after they open), then one read.
  void startLive({
    calls: () => void refreshCalls(),
    messages: (legSid, change) => {
      if (legSid === state.selected) void refreshMessages();
      const open = state.selectedCall ? state.groups.get(state.selectedCall) : undefined;
      if (conferenceShown() && open?.legs.some((l) => l.callSid === legSid)) void refreshConference();
      legChanged(legSid, change);
    },
    resync: refreshAll,
  });
  void refreshCalls();
  void loadAgents();
}

/** Tabs (WAI-ARIA tabs pattern): click, or arrow keys / Home / End on the tab list. */
function wireTabs() {
  const tabs = [el.tabCalls, el.tabAgents];
  const panels = [el.callsView, el.agentsView];
  const choose = (i: number, focus: boolean) => {
    tabs.forEach((tab, j) => {
      tab.setAttribute('aria-selected', String(i === j));
      tab.tabIndex = i === j ? 0 : -1;
      panels[j]!.hidden = i !== j;
    });
    if (focus) tabs[i]!.focus();
  };
  tabs.forEach((tab, i) => {
    tab.addEventListener('click', () => choose(i, false));
    tab.addEventListener('keydown', (e) => {
      const next =
        e.key === 'ArrowRight'
          ? (i + 1) % tabs.length
          : e.key === 'ArrowLeft'
            ? (i - 1 + tabs.length) % tabs.length
            : e.key === 'Home'
              ? 0
              : e.key === 'End'
                ? tabs.length - 1
                : undefined;
      if (next === undefined) return;
      e.preventDefault();
      choose(next, true);
    });
  });
}

function start() {
  onSessionExpired(logout);
  el.loginForm.addEventListener('submit', login);
  el.logout.addEventListener('click', () => logout());
  el.sendForm.addEventListener('submit', (event) => send(event, refreshMessages));
  wireTabs();
  wireCalls();
  wireAgents();
  wireConference();
  el.sendContent.addEventListener('input', updateSendSize);
  state.session = loadOperatorSession();
  if (state.session) showConsole();
  document.body.dataset.ready = 'true';
}

if (!refuseFraming()) start();
