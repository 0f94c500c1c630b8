import twilio from 'twilio';
import type { Config } from './config';
import { REQUEST_TIMEOUT_MS } from './retry';

export type TwilioClient = ReturnType<typeof twilio>;

// One client per warm Function container: building it is cheap, but its HTTP agent keeps sockets
// alive between invocations.
const clients = new Map<string, TwilioClient>();

/**
 * The `twilio` client for these credentials, talking to `https://<product>.twilio.com`: on Twilio
 * and locally alike (the sandbox is reached there through HTTP_PROXY, which the client reads itself).
 */
export function twilioClient(config: Pick<Config, 'accountSid' | 'authToken'>): TwilioClient {
  const key = `${config.accountSid}\n${config.authToken}`;
  let client = clients.get(key);
  if (!client) {
    // 3 s per request leaves room for a retry inside a Function's 10 s.
    const httpOpts = { timeout: REQUEST_TIMEOUT_MS, keepAlive: true };
    client = twilio(config.accountSid, config.authToken, { lazyLoading: true, ...httpOpts });
    clients.set(key, client);
  }
  return client;
}
