// Every error code an answer can carry, with its HTTP status: the one place a status is chosen.
// Code elsewhere throws by code (`throw apiError('call-not-active', message)`) and the answer's
// status comes from here. Pure (no Node, no other lib module): the browser pages may import it.

/** What a code means to whoever gets it: its HTTP status and one line on when it is answered. */
export interface ErrorEntry {
  readonly status: number;
  readonly description: string;
}

export const ERROR_CATALOGUE = {
  // 400: the request itself is wrong; the same request will fail again.
  'request-key-reserved': {
    status: 400,
    description: 'The query or body wrote "request", the runtime\'s own headers and cookies.',
  },
  'secret-in-url': { status: 400, description: 'A secret parameter (password, secret) was sent in the URL.' },
  'call-sid-invalid': { status: 400, description: 'A callSid is not CA followed by 32 hex digits.' },
  'identity-invalid': { status: 400, description: 'An identity is not a valid client (or agent) identity.' },
  'page-size-invalid': { status: 400, description: 'pageSize is not a whole number in range.' },
  'limit-invalid': { status: 400, description: 'limit is not a whole number in range.' },
  'sequence-invalid': { status: 400, description: "A callback's SequenceNumber is not a whole number in range." },
  'password-invalid': { status: 400, description: 'A password is empty, too short or too long.' },
  'display-name-invalid': { status: 400, description: 'displayName is not text, too long, or has control characters.' },
  'content-missing': { status: 400, description: 'No message content was given.' },
  'content-invalid': { status: 400, description: 'The content is not JSON (or, to send, not a JSON object).' },
  'content-too-long': { status: 400, description: 'The content is longer than a call message may be.' },
  'content-schema-invalid': { status: 400, description: 'The content violates the message schemas (path and rule).' },
  'paging-invalid': { status: 400, description: 'Both pageToken and after were given.' },
  'order-invalid': { status: 400, description: 'order is not asc or desc, or does not match the cursor.' },
  'after-invalid': { status: 400, description: "after is not a message's cursor." },
  'page-token-invalid': { status: 400, description: 'pageToken is not a token from nextPageToken.' },
  'action-invalid': {
    status: 400,
    description: 'An agent update or a conference participant request names an unknown action.',
  },
  'call-status-missing': { status: 400, description: 'A status callback carries no CallStatus.' },
  'legs-unknown': { status: 400, description: 'A status callback names no SDK leg (no cme_* keys from /voice).' },
  'call-status-invalid': { status: 400, description: "A status callback's CallStatus is not a Twilio call status." },
  'idempotency-key-invalid': { status: 400, description: 'idempotencyKey is not a short enough string.' },
  'platform-invalid': { status: 400, description: "/token's platform is not web, ios or android." },
  'target-invalid': { status: 400, description: 'Not exactly one of callSid or identity was given.' },
  'conference-unknown': { status: 400, description: 'A conference callback names no room /voice opened (cme_conf).' },
  'conference-mismatch': { status: 400, description: "A conference callback's FriendlyName is not its URL's room." },
  'conference-event-missing': { status: 400, description: 'A conference callback carries no StatusCallbackEvent.' },
  // 401: who is asking is not known; sign in (again).
  'sign-in-invalid': { status: 401, description: 'Wrong agent identity or password (the same answer for both).' },
  'operator-session-invalid': { status: 401, description: 'No valid operator session in the Authorization header.' },
  'backend-key-invalid': { status: 401, description: 'No key of BACKEND_API_KEYS in the Authorization header.' },
  // 403: known or not, this request is not allowed.
  'signature-invalid': { status: 403, description: 'A signed route got no valid X-Twilio-Signature.' },
  'agent-disabled': { status: 403, description: 'The agent is disabled by the operator.' },
  'callback-token-invalid': { status: 403, description: 'A message callback URL was not issued for this call.' },
  'callback-expired': { status: 403, description: 'A message callback URL is older than any call can last.' },
  'account-mismatch': { status: 403, description: "A message callback's AccountSid is not this account." },
  'callback-unverified': { status: 403, description: 'A JSON callback could not be verified in full and must be.' },
  'call-ended': { status: 403, description: 'A message callback for a call that ended a while ago.' },
  'token-auth-invalid': { status: 403, description: '/token without an agent session or the server secret.' },
  'identity-not-yours': { status: 403, description: 'A signed-in agent asked for a token for another identity.' },
  'operator-secret-invalid': { status: 403, description: 'That is not the operator secret.' },
  'backend-key-scope': { status: 403, description: 'The backend key is not allowed this operation (its scope).' },
  // 404: what the request names does not exist.
  'agent-not-found': { status: 404, description: 'There is no agent with that identity.' },
  'call-not-found': { status: 404, description: 'Twilio does not know the call, or Sync holds nothing for it.' },
  'conference-not-found': { status: 404, description: 'No events of that conference room were recorded.' },
  'participant-not-found': {
    status: 404,
    description: 'The conference room has no such participant (left, or never in).',
  },
  // 409: the request conflicts with the state of things.
  'agent-exists': { status: 409, description: 'There is already an agent with that identity.' },
  'send-in-progress': {
    status: 409,
    description: 'A send with this idempotencyKey is under way, or Twilio may still be on it; retry after Retry-After.',
  },
  'idempotency-key-reused': { status: 409, description: 'The idempotencyKey was used for other content on the call.' },
  'call-not-active': { status: 409, description: 'The call is not ringing or in progress (or the identity has none).' },
  'conference-ended': { status: 409, description: 'The conference room has ended: nobody is left to send to.' },
  'call-ambiguous': { status: 409, description: 'The identity has more than one active call: pass callSid.' },
  // 413: the request is larger than a Function takes.
  'request-too-large': { status: 413, description: 'The request is over 1 MB, the most a Twilio Function takes.' },
  // 429: too many attempts; the answer carries Retry-After.
  'sign-in-throttled': {
    status: 429,
    description: 'Too many failed sign-ins (or wrong secrets for a backend key id); retry after Retry-After seconds.',
  },
  // 500: this deployment is misconfigured, or something failed on our side.
  'configuration-missing': { status: 500, description: 'An environment variable the route needs is not set.' },
  'configuration-invalid': { status: 500, description: 'An environment variable (or the schemas asset) is malformed.' },
  'internal-error': { status: 500, description: 'An unexpected failure; the request may be retried.' },
  // 502 / 503: Twilio, Sync or the app backend refused or did not answer; 503s may be retried as they are.
  'twilio-error': { status: 502, description: 'Twilio refused the request (its code is in twilioCode).' },
  'twilio-unavailable': {
    status: 503,
    description: 'Twilio did not answer in time (429, 5xx, timeout, network); a send says when to retry (Retry-After).',
  },
  'record-failed': { status: 503, description: 'A Sync write did not land; retry (with the same idempotencyKey).' },
  'record-contended': { status: 503, description: "A leg's state kept changing under concurrent callbacks." },
  'subscription-in-flight': {
    status: 503,
    description:
      "At a leg's last chance, another invocation's subscription of it is not confirmed yet; Twilio redelivers.",
  },
  'forwarding-failed': { status: 503, description: 'The app backend did not acknowledge a forwarded message.' },
} as const satisfies Record<string, ErrorEntry>;

/** Every code an answer may carry: a typo is a type error. */
export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export const ERROR_CODES = Object.keys(ERROR_CATALOGUE) as ErrorCode[];

export const isErrorCode = (value: unknown): value is ErrorCode =>
  typeof value === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CATALOGUE, value);

export const statusOf = (code: ErrorCode): number => ERROR_CATALOGUE[code].status;

export interface ErrorExtras {
  /** Fields the answer's body carries next to `code` and `message`. */
  details?: Record<string, unknown>;
  /** Response headers the answer must carry (e.g. Retry-After on a 429). */
  headers?: Record<string, string>;
}

/** An error a route answers with: `{code, message, ...details}` at the catalogue's status for `code`. */
export class HttpError extends Error {
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(
    readonly code: ErrorCode,
    message: string,
    extras: ErrorExtras = {},
  ) {
    super(message);
    this.status = statusOf(code);
    this.details = extras.details;
    this.headers = extras.headers;
  }
}

/** The error to throw for `code`: its status comes from the catalogue. */
export const apiError = (code: ErrorCode, message: string, extras?: ErrorExtras): HttpError =>
  new HttpError(code, message, extras);
