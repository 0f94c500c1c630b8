// Limits that more than one module (or the browser pages) relies on, each defined once.

/** Twilio's limit on a call message's Content (error 32703), counted as JavaScript string length. */
export const MAX_CONTENT_CHARS = 10_000;

/**
 * Most a message callback may carry. The SDKs cap a message at 10 KB (31212), which can be more
 * than 10,000 characters; this only bounds what one request can make us store.
 */
export const MAX_CALLBACK_CONTENT_CHARS = 20_000;

/**
 * Deepest JSON nesting we ever turn into objects for an answer or a page (`data` beside `content`).
 * Content is kept and returned as its text whatever its depth; only a parsed copy is limited, so no
 * recursive serialiser (JSON.stringify, a pretty-printer) ever meets a depth that can exhaust the stack.
 */
export const MAX_PARSED_DEPTH = 64;

/**
 * Longest a call leg can last: Twilio's default `<Dial timeLimit>` (4 h), which /voice never raises.
 * A message callback URL is refused once it is older than this plus CALLBACK_URL_GRACE_SECONDS.
 */
export const MAX_CALL_SECONDS = 4 * 60 * 60;

/** Slack for delivery delays and clock differences between Twilio and Function hosts. */
export const CALLBACK_URL_GRACE_SECONDS = 5 * 60;

/** How long after a leg's final status its message callbacks are still accepted (late deliveries, retries). */
export const FINISHED_LEG_GRACE_SECONDS = 60;

/** Identities new agents may take: what every Voice SDK accepts (iOS and Android refuse `.` and `-`). */
export const AGENT_IDENTITY = /^[A-Za-z0-9_]{1,121}$/;
export const AGENT_IDENTITY_RULE = 'letters, digits and _ (1-121 characters; iOS and Android SDKs refuse . and -)';

/**
 * Twilio Functions' limits (Functions FAQ / limits): a request at most 1 MB with its headers, an
 * answer at most 4 MB. "MB" is not defined there; these read it as MiB, and the answers are cut
 * well under the smaller reading (ANSWER_BUDGET_BYTES).
 */
export const MAX_REQUEST_BYTES = 1024 * 1024;
export const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

/**
 * Most bytes a page of messages (`/call-messages`, `/operator-messages`) or of calls
 * (`/operator-calls`) puts in its list, as JSON: 3,000,000, under 4 MB read either way with room
 * for the rest of the answer. Counts alone cannot keep a page under 4 MB: one message from the SDK
 * may hold 20,000 characters that JSON writes as 6 bytes each (lone surrogates, control
 * characters), twice (`content` and its parsed copy `data`), so about 240 KB with its other
 * fields, and 100 of them are about 24 MB. A page therefore ends before the message that would
 * pass this budget (never before its first message), with a next page.
 */
export const ANSWER_BUDGET_BYTES = 3_000_000;

/**
 * Custom parameters (`device.connect({params})`) that `/voice` passes on to a called client as
 * `<Parameter>`: the app's own names only. Twilio's own request parameters are all PascalCase
 * (`To`, `From`, `CallSid`, `AccountSid`, `ApiVersion`, `Direction`, `Caller`, `Called`,
 * `ApplicationSid`, …), so an app's name starts with a lower-case letter and can never be mistaken
 * for one of them; `request` is the Functions runtime's own key. Twilio documents a cap on the
 * parameters' length (error 31103, "MAX_PARAM_LENGTH") without its value: these bounds are ours,
 * well inside any reading of it.
 */
export const CUSTOM_PARAMETER_NAME = /^[a-z][A-Za-z0-9_]{0,63}$/;
export const CUSTOM_PARAMETER_NAME_RULE =
  'a lower-case letter, then letters, digits or _ (at most 64 characters); not "request"';
export const RESERVED_CUSTOM_PARAMETER_NAMES: readonly string[] = ['request'];
export const MAX_CUSTOM_PARAMETERS = 10;
export const MAX_CUSTOM_PARAMETER_VALUE_CHARS = 256;

/** Why a custom parameter is not passed on, or undefined when it is one (names and values as limited above). */
export function customParameterProblem(name: string, value: unknown): string | undefined {
  if (!CUSTOM_PARAMETER_NAME.test(name) || RESERVED_CUSTOM_PARAMETER_NAMES.includes(name)) {
    return `the name must be ${CUSTOM_PARAMETER_NAME_RULE}`;
  }
  if (typeof value !== 'string') return 'the value must be text';
  if (value.length > MAX_CUSTOM_PARAMETER_VALUE_CHARS) {
    return `the value is longer than ${MAX_CUSTOM_PARAMETER_VALUE_CHARS} characters`;
  }
  // XML 1.0 cannot carry most control characters, even escaped: TwiML with one would not parse.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/.test(value)) return 'the value holds a control character';
  return undefined;
}

/**
 * Longest message (UTF-8 bytes) a conference's history repeats inline: its item then stays under
 * 1 KiB, Sync's cheaper write tier (a room's Map takes every participant's messages). A longer one
 * is read from its leg's Map when a history page is read.
 */
export const CONFERENCE_INLINE_BYTES = 700;
