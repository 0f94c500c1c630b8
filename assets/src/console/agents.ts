// The agents who may sign in to the softphone: list, add, rename, disable/enable, reset a password
// (the last two after a confirmation); a generated password is shown once, with a copy button.

import { AGENT_IDENTITY } from '../../../lib/shared/limits';
import { $ } from '../shared/dom';
import { api } from './api';
import { cell, confirmAction } from './elements';
import { state } from './state';

interface AgentRow {
  identity: string;
  displayName: string;
  enabled: boolean;
}

const agentEl = {
  status: $<HTMLParagraphElement>('agents-status'),
  rows: $<HTMLTableSectionElement>('agents'),
  form: $<HTMLFormElement>('agent-form'),
  identity: $<HTMLInputElement>('agent-identity'),
  name: $<HTMLInputElement>('agent-name'),
  password: $<HTMLInputElement>('agent-password'),
  passwordBox: $<HTMLParagraphElement>('agent-password-box'),
  passwordText: $<HTMLSpanElement>('agent-password-text'),
  passwordCopy: $<HTMLButtonElement>('agent-password-copy'),
};

let shownPassword = '';

function agentStatus(text: string, tone: '' | 'ok' | 'bad' = '') {
  agentEl.status.textContent = text;
  agentEl.status.className = tone;
}

/** Empties the list and its status (on logout). */
export function clearAgents() {
  agentEl.rows.replaceChildren();
  agentStatus('');
  hidePassword();
}

function hidePassword() {
  shownPassword = '';
  agentEl.passwordBox.hidden = true;
  agentEl.passwordText.textContent = '';
}

/** A generated password is shown once, here, with a copy button; only its hash is stored. */
function announcePassword(identity: string, password?: string) {
  if (!password) return;
  agentStatus(`New password for ${identity}: ${password} (shown once: give it to the agent now).`, 'ok');
  shownPassword = password;
  agentEl.passwordText.textContent = `Password for ${identity}:`;
  agentEl.passwordCopy.setAttribute('aria-label', `Copy password of ${identity}`);
  agentEl.passwordBox.hidden = false;
}

async function copyPassword() {
  try {
    await navigator.clipboard.writeText(shownPassword);
    agentStatus('Password copied to the clipboard.', 'ok');
  } catch {
    agentStatus('Could not copy: select the password in the message above and copy it.', 'bad');
  }
}

export async function loadAgents() {
  try {
    const { agents } = await api<{ agents: AgentRow[] }>('operator-agents');
    renderAgents(agents);
  } catch (err) {
    if (state.session) agentStatus(`Could not list agents: ${(err as Error).message}`, 'bad');
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
      reset.setAttribute('aria-label', `Reset password of ${a.identity}`);
      reset.addEventListener('click', () => void changeAgent(a.identity, 'reset-password'));
      const rename = document.createElement('button');
      rename.type = 'button';
      rename.className = 'secondary';
      rename.textContent = 'Rename';
      rename.setAttribute('aria-label', `Rename ${a.identity}`);
      rename.addEventListener('click', () => void renameAgent(a));
      actions.append(toggle, ' ', reset, ' ', rename);
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

const CONFIRM: Record<'disable' | 'reset-password', (identity: string) => [string, string]> = {
  disable: (identity) => [`Disable ${identity}? They are signed out of the softphone at their next token.`, 'Disable'],
  'reset-password': (identity) => [
    `Reset the password of ${identity}? Their current password stops working.`,
    'Reset password',
  ],
};

async function renameAgent(a: AgentRow) {
  const name = await confirmAction(`Rename ${a.identity}`, 'Rename', a.displayName);
  if (name === undefined || name === a.displayName) return;
  try {
    await api('operator-agents-update', {
      method: 'POST',
      params: { identity: a.identity, action: 'rename', displayName: name },
    });
    agentStatus(`${a.identity} renamed to ${name || '(no name)'}.`, 'ok');
  } catch (err) {
    agentStatus(`Could not rename ${a.identity}: ${(err as Error).message}`, 'bad');
  }
  await loadAgents();
}

async function changeAgent(identity: string, action: 'disable' | 'enable' | 'reset-password') {
  if (action !== 'enable') {
    const [question, ok] = CONFIRM[action](identity);
    if ((await confirmAction(question, ok)) === undefined) {
      agentStatus(`Nothing changed for ${identity}.`);
      return;
    }
  }
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
    hidePassword();
    agentStatus(`Added ${identity}.`, 'ok');
    announcePassword(identity, res.password);
  } catch (err) {
    agentStatus(`Not added: ${(err as Error).message}`, 'bad');
  }
  await loadAgents();
}

export function wireAgents() {
  agentEl.form.addEventListener('submit', addAgent);
  agentEl.passwordCopy.addEventListener('click', () => void copyPassword());
}
