// What the softphone holds across its modules: the client config, the Device, the calls, the agent's session.

import type { Call, Device } from '@twilio/voice-sdk';

export type ClientConfig =
  { sandbox: false } | { sandbox: true; chunderw: string; certificateUrl: string; sounds: Record<string, string> };

export const state: {
  config: ClientConfig;
  device?: Device;
  call?: Call | undefined;
  incoming?: Call | undefined;
  /** The signed-in agent's session (from /agent-session): what /token asks for. */
  agentSession: string;
} = { config: { sandbox: false }, agentSession: '' };
