import { json, type RouteContext, type RouteResult } from '../http/function-handler';

/** The Voice SDK's sounds; in the sandbox all are one local silent file (no request to Twilio's CDN). */
export const SOUND_NAMES = [
  'incoming',
  'outgoing',
  'disconnect',
  'dtmf0',
  'dtmf1',
  'dtmf2',
  'dtmf3',
  'dtmf4',
  'dtmf5',
  'dtmf6',
  'dtmf7',
  'dtmf8',
  'dtmf9',
  'dtmfs',
  'dtmfh',
] as const;
export const SANDBOX_SOUND_PATH = '/sounds/silence.wav';

const HOST_PORT = /^[A-Za-z0-9.-]{1,253}:\d{1,5}$/;

/**
 * `/client-config`: how the browser's Device should connect. Against Twilio: `{sandbox: false}` (the
 * SDK's defaults). In the sandbox (SANDBOX_GATEWAY set, read only on localhost, never on Twilio): the
 * gateway as `chunderw`, local sounds, and no insights publishing, so nothing leaves the machine.
 */
export function clientConfig({ config }: RouteContext): RouteResult {
  const gateway = config.sandbox?.gateway;
  if (!gateway || !HOST_PORT.test(gateway)) return json(200, { sandbox: false });
  return json(200, {
    sandbox: true,
    chunderw: gateway,
    /** Opening this once lets a browser accept the gateway's self-signed certificate. */
    certificateUrl: `https://${gateway}/`,
    sounds: Object.fromEntries(SOUND_NAMES.map((name) => [name, SANDBOX_SOUND_PATH])),
  });
}
