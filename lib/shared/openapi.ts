// The backend API as an OpenAPI 3.1 document, generated from the routes' one contract
// (route-contracts.ts) and the error catalogue: the routes your backend calls, their inputs, every
// answer (2xx shapes and each error code at its status), and the events forwarded to your backend
// (`webhooks`). `npm run openapi` writes it to assets/openapi.json (served as /openapi.json);
// tests/unit/openapi-document.test.ts fails when that file is stale, and
// tests/integration/backend-openapi.test.ts holds the routes' real answers to it.
// Pure data (no Node): the schemas are JSON Schema 2020-12, which OpenAPI 3.1 uses as it is.
import { ERROR_CATALOGUE, type ErrorCode } from './error-catalogue';
import { errorsOf, ROUTE_CONTRACTS, type AnswerShape, type RouteContract } from './route-contracts';
import { MESSAGE_IRREGULARITIES, FINAL_STATUSES, PARTICIPANT_ACTIONS } from './api-types';

/** The routes a backend calls: by key, or signed with the Auth Token. */
export const BACKEND_ROUTES = [
  '/backend-send',
  '/backend-messages',
  '/send-message',
  '/call-messages',
  '/conference-send',
  '/conference-messages',
  '/conference-participant',
  '/backend-conference',
] as const;

type Schema = Record<string, unknown>;
const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const CALL_SID = { type: 'string', pattern: '^CA[0-9a-f]{32}$' };
const TEXT = { type: 'string' };
const NULLABLE_TEXT = { type: ['string', 'null'] };
const TIME = { type: 'string', format: 'date-time' };

const SCHEMAS: Record<string, Schema> = {
  SendMessageResult: {
    type: 'object',
    required: ['sid', 'callSid', 'idempotencyKey', 'outcome'],
    properties: {
      sid: { ...NULLABLE_TEXT, description: "The UserDefinedMessage's Sid (null if Twilio's answer was lost)." },
      callSid: CALL_SID,
      idempotencyKey: TEXT,
      outcome: { enum: ['sent', 'already-sent'] },
    },
    additionalProperties: false,
  },
  SubscriptionRecord: {
    type: 'object',
    required: ['status', 'at', 'by'],
    properties: {
      status: { enum: ['claimed', 'subscribed', 'refused', 'failed'] },
      at: TIME,
      by: TEXT,
      sid: TEXT,
    },
    additionalProperties: false,
  },
  LegState: {
    type: 'object',
    required: ['callSid', 'parentCallSid', 'role', 'identity', 'peer', 'status', 'updatedAt'],
    properties: {
      callSid: CALL_SID,
      parentCallSid: CALL_SID,
      role: { enum: ['parent', 'child'] },
      identity: TEXT,
      peer: TEXT,
      status: { enum: ['initiated', 'ringing', 'in-progress', ...FINAL_STATUSES] },
      updatedAt: TIME,
      endedAt: TIME,
      durationSeconds: { type: 'number' },
      subscription: ref('SubscriptionRecord'),
    },
    additionalProperties: false,
  },
  CallMessagePageItem: {
    type: 'object',
    required: ['sid', 'callSid', 'direction', 'contentType', 'content', 'timestamp', 'cursor'],
    properties: {
      sid: NULLABLE_TEXT,
      callSid: CALL_SID,
      direction: { enum: ['from-sdk', 'to-sdk'] },
      sequence: { type: 'integer', minimum: 0 },
      contentType: TEXT,
      content: { ...TEXT, description: 'The JSON text exactly as it arrived.' },
      timestamp: TIME,
      idempotencyKey: TEXT,
      forwarded: { type: 'boolean' },
      valid: { type: 'boolean' },
      validationError: TEXT,
      irregular: { type: 'array', items: { enum: [...MESSAGE_IRREGULARITIES] } },
      cursor: TEXT,
      data: { description: 'A parsed copy of content, only when it nests at most 64 levels.' },
    },
    additionalProperties: false,
  },
  CallMessagesPage: {
    type: 'object',
    required: ['callSid', 'messages', 'order', 'nextPageToken'],
    properties: {
      callSid: CALL_SID,
      state: { oneOf: [ref('LegState'), { type: 'null' }] },
      messages: { type: 'array', items: ref('CallMessagePageItem') },
      order: { enum: ['asc', 'desc'] },
      nextPageToken: NULLABLE_TEXT,
    },
    additionalProperties: false,
  },
  BroadcastAnswer: {
    type: 'object',
    required: ['conference', 'idempotencyKey', 'legs'],
    properties: {
      conference: TEXT,
      idempotencyKey: TEXT,
      legs: {
        type: 'object',
        propertyNames: CALL_SID,
        additionalProperties: { enum: ['sent', 'already-sent', 'not-active', 'failed'] },
      },
    },
    additionalProperties: false,
  },
  ParticipantAnswer: {
    type: 'object',
    required: ['conference', 'action', 'callSid'],
    properties: {
      conference: TEXT,
      action: { enum: [...PARTICIPANT_ACTIONS] },
      callSid: CALL_SID,
    },
    additionalProperties: false,
  },
  ConferenceRoom: {
    type: 'object',
    required: ['conference', 'status', 'participants'],
    properties: {
      conference: TEXT,
      status: { enum: ['init', 'in-progress', 'ended'] },
      conferenceSid: TEXT,
      participants: {
        type: 'array',
        items: {
          type: 'object',
          required: ['callSid', 'present', 'hold', 'muted', 'stints'],
          properties: {
            callSid: CALL_SID,
            identity: TEXT,
            label: TEXT,
            present: { type: 'boolean' },
            hold: { type: 'boolean' },
            muted: { type: 'boolean' },
            stints: {
              type: 'array',
              items: { type: 'object', properties: { joinedAt: TIME, leftAt: TIME }, additionalProperties: false },
            },
          },
          additionalProperties: false,
        },
      },
    },
    additionalProperties: false,
  },
  ConferenceAnswer: {
    description:
      'By action: send → BroadcastAnswer, messages → ConferenceMessagesPage, room → ConferenceRoom, the others → ParticipantAnswer.',
    oneOf: [ref('BroadcastAnswer'), ref('ConferenceMessagesPage'), ref('ConferenceRoom'), ref('ParticipantAnswer')],
  },
  ConferenceMessage: {
    type: 'object',
    required: ['direction', 'callSid', 'timestamp', 'content', 'cursor'],
    properties: {
      direction: { enum: ['from-sdk', 'to-sdk'] },
      callSid: { ...TEXT, description: "The participant's leg, or `broadcast`." },
      identity: TEXT,
      sid: TEXT,
      sequence: { type: 'integer', minimum: 0 },
      timestamp: TIME,
      content: { ...NULLABLE_TEXT, description: 'The JSON text as sent; null when its leg no longer holds it.' },
      idempotencyKey: TEXT,
      legs: { type: 'array', items: CALL_SID },
      cursor: TEXT,
    },
    additionalProperties: false,
  },
  ConferenceMessagesPage: {
    type: 'object',
    required: ['conference', 'messages'],
    properties: {
      conference: TEXT,
      messages: { type: 'array', items: ref('ConferenceMessage') },
      next: TEXT,
    },
    additionalProperties: false,
  },
  Error: {
    type: 'object',
    required: ['code', 'message'],
    properties: {
      code: { enum: Object.keys(ERROR_CATALOGUE) },
      message: TEXT,
      retryAfter: { type: 'integer', description: 'Seconds to wait (429 sign-in-throttled); also in Retry-After.' },
      twilioCode: { type: 'integer', description: "Twilio's error code, when Twilio refused." },
    },
    additionalProperties: true,
  },
  LegEvent: {
    type: 'object',
    required: ['type', 'callSid', 'parentCallSid', 'identity', 'role', 'status', 'timestamp'],
    properties: {
      type: { enum: ['call.started', 'call.ended'] },
      callSid: CALL_SID,
      parentCallSid: CALL_SID,
      identity: TEXT,
      role: { enum: ['parent', 'child'] },
      status: TEXT,
      timestamp: TIME,
      durationSeconds: { type: 'number' },
    },
  },
  MessageEvent: {
    type: 'object',
    required: [
      'type',
      'callSid',
      'parentCallSid',
      'identity',
      'sid',
      'sequence',
      'timestamp',
      'contentType',
      'content',
    ],
    properties: {
      type: { const: 'call.message' },
      callSid: CALL_SID,
      parentCallSid: { type: ['string', 'null'] },
      identity: { type: ['string', 'null'] },
      sid: TEXT,
      sequence: { type: 'integer' },
      timestamp: TIME,
      contentType: TEXT,
      content: {
        description: "The SDK's JSON embedded as it was sent (a JSON string of its text when it is not JSON).",
      },
      valid: { type: 'boolean' },
      validationError: NULLABLE_TEXT,
      irregular: { type: 'array', items: { enum: [...MESSAGE_IRREGULARITIES] } },
    },
  },
};

const SHAPE_SCHEMAS: Partial<Record<AnswerShape, string>> = {
  SendMessageResult: 'SendMessageResult',
  CallMessagesPage: 'CallMessagesPage',
  BroadcastAnswer: 'BroadcastAnswer',
  ConferenceMessagesPage: 'ConferenceMessagesPage',
  ParticipantAnswer: 'ParticipantAnswer',
  ConferenceAnswer: 'ConferenceAnswer',
};

const ACCESS_SECURITY = { 'backend-key': [{ backendKey: [] }], 'twilio-signed': [{ twilioSignature: [] }] };

function operation(route: RouteContract, method: 'GET' | 'POST'): Schema {
  const properties = Object.fromEntries(route.inputs.map((input) => [input.name, { type: 'string' }]));
  const required = route.inputs.filter((input) => input.required).map((input) => input.name);
  const inputSchema = { type: 'object', properties, ...(required.length ? { required } : {}) };
  const responses: Record<string, Schema> = {};
  for (const [status, shape] of Object.entries(route.answers)) {
    const schema = SHAPE_SCHEMAS[shape];
    if (!schema) throw new Error(`openapi: no schema for ${shape}`);
    responses[status] = { description: shape, content: { 'application/json': { schema: ref(schema) } } };
  }
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set(errorsOf(route))) {
    const status = ERROR_CATALOGUE[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    responses[String(status)] = {
      description: codes.map((code) => `${code}: ${ERROR_CATALOGUE[code].description}`).join(' | '),
      content: {
        'application/json': {
          schema: { allOf: [ref('Error'), { type: 'object', properties: { code: { enum: codes } } }] },
        },
      },
    };
  }
  const security = ACCESS_SECURITY[route.access as keyof typeof ACCESS_SECURITY];
  return {
    operationId: `${method.toLowerCase()}${route.path.replace(/(^|[/-])(\w)/g, (_m, _s, c: string) => c.toUpperCase())}`,
    summary: route.summary,
    ...(security ? { security } : {}),
    ...(method === 'GET'
      ? {
          parameters: route.inputs.map((input) => ({
            name: input.name,
            in: 'query',
            required: input.required,
            schema: { type: 'string' },
          })),
        }
      : {
          requestBody: {
            required: true,
            content: {
              'application/x-www-form-urlencoded': { schema: inputSchema },
              'application/json': { schema: inputSchema },
            },
          },
        }),
    responses,
  };
}

const WEBHOOK_HEADERS = [
  {
    name: 'webhook-id',
    description: "The event's stable id: the message Sid, or <CallSid>:call.started / call.ended.",
  },
  { name: 'webhook-timestamp', description: 'When it was sent, Unix seconds.' },
  {
    name: 'webhook-signature',
    description:
      'v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<raw body>"> per secret, space-separated.',
  },
].map((h) => ({ ...h, in: 'header', required: true, schema: { type: 'string' } }));

function webhook(summary: string, schema: string): Schema {
  return {
    post: {
      summary,
      parameters: WEBHOOK_HEADERS,
      requestBody: { required: true, content: { 'application/json': { schema: ref(schema) } } },
      responses: {
        '200': { description: 'Acknowledged (2xx). A call.message may answer {"reply": {…}}: sent back to the leg.' },
      },
    },
  };
}

/** The OpenAPI 3.1 document of the backend API, at the project's `version`. */
export function openApiDocument(version: string): Schema {
  const paths: Record<string, Schema> = {};
  for (const path of BACKEND_ROUTES) {
    const route = ROUTE_CONTRACTS.find((r) => r.path === path);
    if (!route) throw new Error(`openapi: no contract for ${path}`);
    paths[path] = Object.fromEntries(route.methods.map((m) => [m.toLowerCase(), operation(route, m)]));
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Call Message Events: backend API',
      version,
      description:
        'What your backend calls (send to a Voice SDK call, read its history) and what it receives (forwarded events, ' +
        'signed as Standard Webhooks). Generated from lib/shared/route-contracts.ts; errors are {code, message}.',
    },
    servers: [{ url: 'https://{domain}', variables: { domain: { default: 'cme-1234-dev.twil.io' } } }],
    paths,
    webhooks: {
      'call.message': webhook('A message from a Voice SDK leg (APP_WEBHOOK_URL).', 'MessageEvent'),
      'call.started': webhook("An SDK leg's message subscription is in place.", 'LegEvent'),
      'call.ended': webhook('An SDK leg reached its final status.', 'LegEvent'),
    },
    components: {
      schemas: SCHEMAS,
      securitySchemes: {
        backendKey: {
          type: 'http',
          scheme: 'bearer',
          description: 'A key of BACKEND_API_KEYS, <id>.<secret>, with the scope the route needs (send or read).',
        },
        twilioSignature: {
          type: 'apiKey',
          in: 'header',
          name: 'X-Twilio-Signature',
          description: "Signed as Twilio signs webhooks, with the account's Auth Token (HMAC-SHA1).",
        },
      },
    },
  };
}
