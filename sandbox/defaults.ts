// The sandbox's fixed, documented test credentials. They are not secrets and open nothing on Twilio.
export const SANDBOX_DEFAULTS = {
  accountSid: 'AC5a4db0c55a4db0c55a4db0c55a4db0c5',
  authToken: '5a4db0c5sandbox0auth0token000000',
  apiKeySid: 'SK5a4db0c55a4db0c55a4db0c55a4db0c5',
  apiKeySecret: 'sandbox-api-key-secret',
  phoneNumber: '+15005550006',
  clientIdentity: 'alice',
  // ≥ 32 characters, as the functions require of every shared secret.
  tokenSecret: 'sandbox-token-secret-of-32-chars',
  operatorSecret: 'sandbox-operator-secret-32-chars',
  // The backend key (BACKEND_API_KEYS, scope send+read) `npm run send-message` and the example use.
  backendKey: 'sandbox.sandbox-backend-key-secret-of-32-chars',
  // The agents every sandbox stack starts with (added through the operator API; never on real Twilio).
  agents: [
    { identity: 'alice', displayName: 'Alice', password: 'alice-sandbox-password' },
    { identity: 'bob', displayName: 'Bob', password: 'bob-sandbox-password' },
  ],
  gatewayPort: 3002,
} as const;
