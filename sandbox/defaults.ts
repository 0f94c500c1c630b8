// The sandbox's fixed, documented test credentials. They are not secrets and open nothing on Twilio.
export const SANDBOX_DEFAULTS = {
  accountSid: 'AC5a4db0c55a4db0c55a4db0c55a4db0c5',
  authToken: '5a4db0c5sandbox0auth0token000000',
  apiKeySid: 'SK5a4db0c55a4db0c55a4db0c55a4db0c5',
  apiKeySecret: 'sandbox-api-key-secret',
  phoneNumber: '+15005550006',
  clientIdentity: 'alice',
  tokenSecret: 'sandbox-token-secret',
  operatorSecret: 'sandbox-operator-secret',
  gatewayPort: 3002,
} as const;
