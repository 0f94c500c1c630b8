/**
 * GET /client-config — how the browser softphone's Voice SDK Device connects. Public, takes nothing.
 * Returns 200 {sandbox: false} against Twilio; in the local sandbox (TWILIO_SANDBOX_URL and
 * SANDBOX_GATEWAY set) {sandbox: true, chunderw, certificateUrl, sounds: {name: local URL}}.
 */
import { twilioFunction } from '../lib/http/function-handler';
import { clientConfig } from '../lib/routes/client-config';

export const handler = twilioFunction({ signed: false }, async (ctx) => clientConfig(ctx));
