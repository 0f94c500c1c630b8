// Signing the agent in (/agent-session), its access token (/token) and the Device that registers with it.

import { Call, Device } from '@twilio/voice-sdk';
import { AGENT_IDENTITY } from '../../../lib/shared/limits';
import { showIncoming } from './calls';
import { el, log, setStatus } from './elements';
import { refreshControls } from './messages';
import { state } from './state';

async function postForm<T>(path: string, params: Record<string, string>, bearer?: string) {
  const res = await fetch(path, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      ...(bearer ? { Authorization: `Bearer ${bearer}` } : {}),
    },
    body: new URLSearchParams(params).toString(),
  });
  const body = (await res.json().catch(() => ({}))) as Partial<T> & { message?: string };
  if (!res.ok) throw new Error(body.message ?? `${path} answered ${res.status}`);
  return body;
}

/** Signs the agent in; the session stays in memory (a reload signs out). */
async function signIn(identity: string, password: string): Promise<{ identity: string; displayName: string }> {
  const body = await postForm<{ session: string; identity: string; displayName: string }>('agent-session', {
    identity,
    password,
  });
  if (!body.session || !body.identity) throw new Error('/agent-session answered without a session');
  state.agentSession = body.session;
  return { identity: body.identity, displayName: body.displayName ?? body.identity };
}

/** A Voice token for the signed-in agent's own identity. */
async function fetchToken(): Promise<string> {
  const body = await postForm<{ token: string }>('token', {}, state.agentSession);
  if (!body.token) throw new Error('/token answered without a token');
  return body.token;
}

function deviceOptions(): Device.Options {
  const { config } = state;
  if (!config.sandbox) return { closeProtection: true };
  // Sandbox: signaling to the local gateway, no insights, sounds from this server. Nothing leaves the machine.
  const sounds = Object.fromEntries(
    Object.entries(config.sounds).map(([name, path]) => [name, new URL(path, location.href).href]),
  );
  const options: Device.Options & { chunderw: string; publishEvents: boolean } = {
    chunderw: config.chunderw,
    publishEvents: false,
    sounds: sounds,
    closeProtection: false,
  };
  return options;
}

/**
 * In the sandbox: whether this browser accepts the signaling gateway's self-signed certificate. A
 * request the page cannot read (no-cors) still fails on an untrusted certificate, and only then.
 */
async function certificateAccepted(url: string): Promise<boolean> {
  try {
    await fetch(url, { mode: 'no-cors', cache: 'no-store' });
    return true;
  } catch {
    return false;
  }
}

export async function register(event: SubmitEvent) {
  event.preventDefault();
  const identity = el.identity.value.trim();
  if (!AGENT_IDENTITY.test(identity)) {
    setStatus(el.deviceStatus, 'Identity: 1-121 letters, digits or _.', 'bad');
    el.identity.focus();
    return;
  }
  const password = el.password.value;
  if (!password) {
    setStatus(el.deviceStatus, 'Type your password.', 'bad');
    el.password.focus();
    return;
  }
  el.register.disabled = true;
  const { config } = state;
  if (config.sandbox && !(await certificateAccepted(config.certificateUrl))) {
    // Registering now would end in a flood of signaling errors (31000/31005): say what to do instead.
    el.certLink.href = config.certificateUrl;
    el.certHint.hidden = false;
    setStatus(
      el.deviceStatus,
      'Not signed in: first open the gateway link below and accept its certificate, then sign in again.',
      'bad',
    );
    el.register.disabled = false;
    return;
  }
  setStatus(el.deviceStatus, `Signing in as ${identity}…`);
  try {
    const agent = await signIn(identity, password);
    el.password.value = '';
    setStatus(el.deviceStatus, `Registering ${identity}…`);
    const token = await fetchToken();
    state.device?.destroy();
    const device = new Device(token, deviceOptions());
    state.device = device;
    wireDevice(
      device,
      agent.displayName === agent.identity ? agent.identity : `${agent.identity} (${agent.displayName})`,
    );
    await device.register();
  } catch (err) {
    setStatus(el.deviceStatus, `Could not sign in: ${(err as Error).message}`, 'bad');
    el.register.disabled = false;
  }
}

function wireDevice(d: Device, identity: string) {
  d.on('registered', () => {
    setStatus(el.deviceStatus, `Registered as ${identity}.`, 'ok');
    el.certHint.hidden = true;
    log(`registered as ${identity}`);
    el.register.disabled = false;
    el.unregister.disabled = false;
    refreshControls();
  });
  d.on('unregistered', () => {
    setStatus(el.deviceStatus, 'Not registered.');
    log('unregistered');
    el.unregister.disabled = true;
    refreshControls();
  });
  d.on('error', (err: { code?: number; message?: string }) => {
    log(`device error ${err.code ?? ''}: ${err.message ?? ''}`);
    const { config } = state;
    if (config.sandbox && (err.code === 31000 || err.code === 31005 || err.code === 31009)) {
      el.certLink.href = config.certificateUrl;
      el.certHint.hidden = false;
    }
    if (d.state !== Device.State.Registered) {
      setStatus(el.deviceStatus, `Not registered: ${err.message ?? 'signaling error'}`, 'bad');
      el.register.disabled = false;
    }
  });
  d.on('incoming', (c: Call) => showIncoming(c));
  d.on('tokenWillExpire', async () => {
    try {
      d.updateToken(await fetchToken());
      log('access token renewed');
    } catch (err) {
      // Session expired, agent disabled or password reset: only a new sign-in brings a token.
      log(`could not renew the access token: ${(err as Error).message}`);
      setStatus(el.deviceStatus, `Sign in again: ${(err as Error).message}`, 'warn');
      el.register.disabled = false;
    }
  });
}

/** Signs out: unregisters and forgets the session. */
export async function unregister() {
  state.agentSession = '';
  await state.device?.unregister().catch(() => undefined);
}
