import twilio from 'twilio';
import type { Config } from './config';
import { REQUEST_TIMEOUT_MS } from './retry';
import { SandboxRequestClient } from './sandbox-request-client';

export type TwilioClient = ReturnType<typeof twilio>;

// One client per warm Function container: building it is cheap, but its HTTP agent keeps sockets
// alive between invocations.
const clients = new Map<string, TwilioClient>();

/** The `twilio` client for these credentials; pointed at the sandbox only when TWILIO_SANDBOX_URL is set. */
export function twilioClient(config: Pick<Config, 'accountSid' | 'authToken' | 'sandboxUrl'>): TwilioClient {
  const key = `${config.accountSid}\n${config.authToken}\n${config.sandboxUrl ?? ''}`;
  let client = clients.get(key);
  if (!client) {
    // 3 s per request leaves room for a retry inside a Function's 10 s.
    const httpOpts = { timeout: REQUEST_TIMEOUT_MS, keepAlive: true };
    client = twilio(config.accountSid, config.authToken, {
      lazyLoading: true,
      ...(config.sandboxUrl ? { httpClient: new SandboxRequestClient(config.sandboxUrl, httpOpts) } : httpOpts),
    });
    clients.set(key, client);
  }
  return client;
}
