// The agents who may sign in to the softphone: list, add, disable/enable, reset a password.

import { AGENT_IDENTITY } from '../../../lib/shared/limits';
import { $ } from '../shared/dom';
import { api } from './api';
import { cell } from './elements';
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
};

function agentStatus(text: string, tone: '' | 'ok' | 'bad' = '') {
  agentEl.status.textContent = text;
  agentEl.status.className = tone;
}

/** Empties the list and its status (on logout). */
export function clearAgents() {
  agentEl.rows.replaceChildren();
  agentStatus('');
}

/** A generated password is shown once, here; only its hash is stored. */
function announcePassword(identity: string, password?: string) {
  if (password) agentStatus(`New password for ${identity}: ${password} (shown once: give it to the agent now).`, 'ok');
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

export function wireAgents() {
  agentEl.form.addEventListener('submit', addAgent);
}
