// The browser softphone: the real @twilio/voice-sdk, against Twilio or against the local sandbox
// (same code; /client-config says which). The agent signs in (/agent-session), registers with a token
// from /token for its own identity, places and takes calls, and sends/receives Call Message Events on
// the open call. The agent session lives in this page's memory only.
//
// This file is the bundle's entry (scripts/build-browser.mjs): the start; the parts are in softphone/.
import { Device } from '@twilio/voice-sdk';
import { refuseFraming } from './frame-guard';
import { accept, hangup, placeCall, reject } from './softphone/calls';
import { register, unregister } from './softphone/device';
import { el, setStatus } from './softphone/elements';
import { refreshControls, sendMessage } from './softphone/messages';
import { state, type ClientConfig } from './softphone/state';

async function start() {
  try {
    const res = await fetch('client-config');
    if (res.ok) state.config = (await res.json()) as ClientConfig;
  } catch {
    // no /client-config: Twilio defaults
  }
  const { config } = state;
  el.mode.textContent = config.sandbox
    ? `Sandbox mode: the Voice SDK talks to the local gateway (${config.chunderw}).`
    : 'Twilio mode: the Voice SDK talks to Twilio.';
  if (!Device.isSupported) setStatus(el.deviceStatus, 'This browser does not support WebRTC calls.', 'bad');
  el.registerForm.addEventListener('submit', register);
  el.unregister.addEventListener('click', unregister);
  el.callForm.addEventListener('submit', placeCall);
  el.accept.addEventListener('click', accept);
  el.reject.addEventListener('click', reject);
  el.hangup.addEventListener('click', hangup);
  el.messageForm.addEventListener('submit', sendMessage);
  el.messageContent.addEventListener('input', refreshControls);
  refreshControls();
  document.body.dataset.ready = 'true';
}

if (!refuseFraming()) void start();
