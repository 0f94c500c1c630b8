// The conference panel: for a call whose leg is in a room (its state's peer is `conference:<room>`),
// who is in it with hold, mute and remove, adding an agent, a broadcast to every SDK participant,
// and the room's history (all of it, or one agent's time in it). All through /operator-conference.

import type { BroadcastAnswer, ConferenceMessagesPage, ConferenceRoom } from '../../../lib/shared/api-types';
import { displayJson } from '../../../lib/shared/json-text';
import { MAX_PARSED_DEPTH } from '../../../lib/shared/limits';
import { checkJsonObject } from '../shared/json-draft';
import { $ } from '../shared/dom';
import { type ApiError, api } from './api';
import { confirmAction, time } from './elements';

const PEER_PREFIX = 'conference:';
/** Pages of history read at once (100 messages each): a room's history is a shift's at most. */
const MAX_PAGES = 10;
/** When the room is read again after an action (ms): its events come a moment after the answer. */
const SETTLE_MS = [1000, 3000, 8000];

const c = {
  panel: $<HTMLElement>('conference-panel'),
  heading: $<HTMLHeadingElement>('conference-heading'),
  status: $<HTMLParagraphElement>('conference-status'),
  participants: $<HTMLTableSectionElement>('conference-participants'),
  addForm: $<HTMLFormElement>('conference-add-form'),
  addIdentity: $<HTMLInputElement>('conference-add-identity'),
  sendForm: $<HTMLFormElement>('conference-send-form'),
  sendContent: $<HTMLTextAreaElement>('conference-send-content'),
  send: $<HTMLButtonElement>('conference-send'),
  result: $<HTMLParagraphElement>('conference-result'),
  historyForm: $<HTMLFormElement>('conference-history-form'),
  as: $<HTMLInputElement>('conference-as'),
  historyStatus: $<HTMLParagraphElement>('conference-history-status'),
  history: $<HTMLOListElement>('conference-history'),
};

let room: string | undefined;
/** The broadcast being sent: its key is reused on a retry of the same content, so no leg gets it twice. */
let pending: { content: string; key: string } | undefined;
/** A broadcast under way: Send to all waits for its answer (a second click would need its own key). */
let busy = false;

/** The room a leg's recorded peer names, if the leg is a conference participant. */
export const roomOfPeer = (peer: string | undefined) =>
  peer?.startsWith(PEER_PREFIX) ? peer.slice(PEER_PREFIX.length) || undefined : undefined;

const call = <T>(params: Record<string, string>) =>
  api<T>('operator-conference', { method: 'POST', params: { conference: room ?? '', ...params } });

function say(text: string, ok: boolean) {
  c.result.textContent = text;
  c.result.className = ok ? 'ok' : 'bad';
}

const failure = (err: unknown) => {
  const e = err as ApiError;
  return `${e.status ? `${e.status} ` : ''}${e.code ? `${e.code}: ` : ''}${e.message}`;
};

/** Shows the panel for this room (or hides it), reading the room when it is shown. */
export function showConference(next: string | undefined) {
  const changed = next !== room;
  room = next;
  c.panel.hidden = !room;
  if (!room) return;
  if (changed) {
    c.heading.textContent = `Conference ${room}`;
    c.participants.replaceChildren();
    c.history.replaceChildren();
    c.result.textContent = '';
    c.as.value = '';
    pending = undefined;
  }
  void refreshConference();
}

let running: Promise<void> | undefined;
let again = false;

/** Reads who is in the room and its history again: once more after a read under way, never piled up. */
export function refreshConference(): Promise<void> {
  if (running) {
    again = true;
    return running;
  }
  running = (async () => {
    do {
      again = false;
      await Promise.all([readRoom(), readHistory()]);
    } while (again);
  })().finally(() => (running = undefined));
  return running;
}

/** Whether the panel shows a room (a message on one of the open call's legs then refreshes it). */
export const conferenceShown = () => room !== undefined;

async function readRoom() {
  const asked = room;
  if (!asked) return;
  try {
    const r = await call<ConferenceRoom>({ action: 'room' });
    if (asked !== room) return;
    c.status.textContent = `${r.status === 'ended' ? 'Ended' : r.status === 'init' ? 'Starting' : 'In progress'} · ${
      r.participants.filter((p) => p.present).length
    } in the room.`;
    c.participants.replaceChildren(...r.participants.map(participantRow));
  } catch (err) {
    if (asked === room) c.status.textContent = `Could not read the room: ${failure(err)}`;
  }
}

function participantRow(p: ConferenceRoom['participants'][number]): HTMLTableRowElement {
  const tr = document.createElement('tr');
  tr.dataset.callSid = p.callSid;
  tr.dataset.present = String(p.present);
  const name = p.identity ?? p.label ?? p.callSid;
  const who = document.createElement('td');
  who.textContent = `${p.identity ? `${p.identity} (agent)` : `${p.label ?? 'phone'}`} · ${p.callSid}`;
  const what = document.createElement('td');
  const stints = p.stints
    .map((s) => `${s.joinedAt ? time(s.joinedAt) : '?'}–${s.leftAt ? time(s.leftAt) : 'now'}`)
    .join(', ');
  what.textContent = [p.present ? 'in the room' : 'left', p.hold && 'on hold', p.muted && 'muted', stints]
    .filter(Boolean)
    .join(' · ');
  const actions = document.createElement('td');
  actions.className = 'actions';
  if (p.present) {
    const button = (label: string, action: string, className = 'secondary') => {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = className;
      b.dataset.action = action;
      // The participant named for a screen reader: a row of "Hold" buttons alone says nothing.
      const hidden = document.createElement('span');
      hidden.className = 'visually-hidden';
      hidden.textContent = ` ${name}`;
      b.append(label, hidden);
      b.addEventListener('click', () => void act(action, p.callSid, name));
      return b;
    };
    actions.append(
      p.hold ? button('Unhold', 'unhold') : button('Hold', 'hold'),
      p.muted ? button('Unmute', 'unmute') : button('Mute', 'mute'),
      button('Remove', 'remove', 'danger'),
    );
  }
  tr.append(who, what, actions);
  return tr;
}

async function act(action: string, callSid: string, name: string) {
  if (action === 'remove' && (await confirmAction(`Remove ${name} from the room?`, 'Remove')) === undefined) return;
  try {
    await call({ action, callSid });
    say(`${action[0]!.toUpperCase()}${action.slice(1)}: done for ${name}.`, true);
  } catch (err) {
    say(`Could not ${action} ${name}: ${failure(err)}`, false);
  } finally {
    settle();
  }
}

/**
 * The room is what its events recorded, and Twilio sends those after answering the action: read it
 * now and again shortly after (nothing else says when they land).
 */
function settle() {
  const asked = room;
  void readRoom();
  for (const ms of SETTLE_MS) window.setTimeout(() => asked === room && void readRoom(), ms);
}

async function add(event: SubmitEvent) {
  event.preventDefault();
  const to = c.addIdentity.value.trim();
  if (!to || !c.addIdentity.checkValidity()) {
    c.addIdentity.setAttribute('aria-invalid', 'true');
    say('Type the identity of the agent to add (letters, digits and _).', false);
    c.addIdentity.focus();
    return;
  }
  c.addIdentity.removeAttribute('aria-invalid');
  try {
    const added = await call<{ callSid?: string }>({ action: 'add', to });
    say(`Ringing ${to}${added.callSid ? ` (${added.callSid})` : ''}.`, true);
    c.addIdentity.value = '';
  } catch (err) {
    say(`Could not add ${to}: ${failure(err)}`, false);
  }
  settle();
}

async function broadcast(event: SubmitEvent) {
  event.preventDefault();
  if (busy) return;
  const d = checkJsonObject(c.sendContent.value.trim(), 'The message must be a JSON object.');
  if (!d.ok) {
    c.sendContent.setAttribute('aria-invalid', 'true');
    say(`Not sent: ${d.error}`, false);
    return;
  }
  c.sendContent.removeAttribute('aria-invalid');
  const sending =
    pending?.content === d.compact ? pending : { content: d.compact, key: `console-${crypto.randomUUID()}` };
  pending = sending;
  busy = true;
  c.send.disabled = true;
  say('Sending…', true);
  try {
    const answer = await call<BroadcastAnswer>({
      action: 'send',
      content: sending.content,
      idempotencyKey: sending.key,
    });
    const legs = Object.keys(answer.legs).length;
    say(`Sent to ${legs} participant${legs === 1 ? '' : 's'}.`, true);
    pending = undefined;
  } catch (err) {
    // The key stays: sending again delivers only to the legs that did not get it.
    say(`Not sent to every participant (${failure(err)}); Send again retries only those.`, false);
  } finally {
    busy = false;
    c.send.disabled = false;
    void readHistory();
  }
}

async function readHistory() {
  const asked = room;
  if (!asked) return;
  const as = c.as.value.trim();
  try {
    const messages: ConferenceMessagesPage['messages'] = [];
    let after: string | undefined;
    for (let pages = 0; pages < MAX_PAGES; pages++) {
      const page = await call<ConferenceMessagesPage>({
        action: 'messages',
        ...(as ? { as } : {}),
        ...(after ? { after } : {}),
      });
      messages.push(...page.messages);
      after = page.next;
      if (!after) break;
    }
    if (asked !== room || as !== c.as.value.trim()) return;
    c.history.replaceChildren(...messages.map(historyItem));
    c.historyStatus.textContent = `${messages.length} message(s)${as ? ` while ${as} was in the room` : ''}${after ? '; more not shown' : ''}.`;
  } catch (err) {
    if (asked === room) c.historyStatus.textContent = `Could not read the room's messages: ${failure(err)}`;
  }
}

function historyItem(m: ConferenceMessagesPage['messages'][number]): HTMLLIElement {
  const li = document.createElement('li');
  li.className = m.direction === 'from-sdk' ? 'in' : 'out';
  li.dataset.direction = m.direction;
  li.dataset.callSid = m.callSid;
  const head = document.createElement('div');
  const what = document.createElement('strong');
  what.textContent =
    m.direction === 'from-sdk'
      ? `From ${m.identity ?? m.callSid}`
      : m.callSid === 'broadcast'
        ? `To everyone (${m.legs?.length ?? 0} leg(s))`
        : `To ${m.identity ?? m.callSid}`;
  head.append(what, ` · ${time(m.timestamp)}`);
  const pre = document.createElement('pre');
  pre.textContent = m.content === null ? '(no longer readable)' : displayJson(m.content, MAX_PARSED_DEPTH);
  li.append(head, pre);
  return li;
}

export function wireConference() {
  c.addForm.addEventListener('submit', (e) => void add(e));
  c.sendForm.addEventListener('submit', (e) => void broadcast(e));
  c.historyForm.addEventListener('submit', (e) => {
    e.preventDefault();
    void refreshConference();
  });
}

/** On logout: nothing of the room is kept. */
export function clearConference() {
  showConference(undefined);
  c.participants.replaceChildren();
  c.history.replaceChildren();
  pending = undefined;
}
