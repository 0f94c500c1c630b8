// Reading a call's history: an SDK leg's messages both ways, in order, a page at a time. The one
// operation behind /call-messages and /operator-messages.
import type { CallMessagesPage } from '../shared/api-types';
import type { CallStore, HistoryCursor } from '../store/call-store';
import { FROM_SDK_KEY_PATTERN, TO_SDK_KEY_PATTERN } from '../store/keys';
import { apiLegState, apiMessage } from '../store/records';
import { apiError } from '../shared/error-catalogue';
import { integerParam, requireCallSid } from '../shared/identifiers';
import { ANSWER_BUDGET_BYTES } from '../shared/limits';
import { contentForAnswer } from './content';

export interface CallMessagesInput {
  callSid?: unknown;
  pageSize?: unknown;
  pageToken?: unknown;
  /** A message's `cursor`: only what came after it (ascending). */
  after?: unknown;
  order?: unknown;
}

/** What a read needs from its invocation: the store, made only once the input is valid. */
export interface HistoryDeps {
  store: () => CallStore;
  /** Bytes a page's messages may take (default ANSWER_BUDGET_BYTES); a smaller one only in tests. */
  answerBudgetBytes?: number;
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 100;

/** A cursor as an opaque, stable token (base64url of a fixed-order JSON array of keys: nothing else reaches Sync). */
export function encodeCursor(cursor: HistoryCursor): string {
  return Buffer.from(JSON.stringify([cursor.order, cursor.fromSdk ?? '', cursor.toSdk ?? ''])).toString('base64url');
}

export function decodeCursor(token: string): HistoryCursor | undefined {
  if (token.length > 400) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || value.length !== 3) return undefined;
  const [order, fromSdk, toSdk] = value as unknown[];
  if (order !== 'asc' && order !== 'desc') return undefined;
  if (typeof fromSdk !== 'string' || (fromSdk !== '' && !FROM_SDK_KEY_PATTERN.test(fromSdk))) return undefined;
  if (typeof toSdk !== 'string' || (toSdk !== '' && !TO_SDK_KEY_PATTERN.test(toSdk))) return undefined;
  return { order, ...(fromSdk ? { fromSdk } : {}), ...(toSdk ? { toSdk } : {}) };
}

function parsePaging(input: CallMessagesInput): { pageSize: number; cursor: HistoryCursor; catchUp?: boolean } {
  const pageSize = integerParam(input.pageSize, {
    name: 'pageSize',
    code: 'page-size-invalid',
    min: 1,
    max: MAX_PAGE_SIZE,
    fallback: DEFAULT_PAGE_SIZE,
  });
  const given = (v: unknown) => v !== undefined && v !== '';
  if (given(input.pageToken) && given(input.after))
    throw apiError('paging-invalid', 'Give pageToken or after, not both.');
  const order = given(input.order) ? input.order : 'asc';
  if (order !== 'asc' && order !== 'desc') throw apiError('order-invalid', 'order must be asc or desc.');
  if (given(input.after)) {
    const cursor = typeof input.after === 'string' ? decodeCursor(input.after) : undefined;
    if (!cursor || cursor.order !== 'asc') throw apiError('after-invalid', "after must be a message's cursor.");
    if (order !== 'asc') throw apiError('order-invalid', 'after reads forwards: order must be asc.');
    return { pageSize, cursor, catchUp: true };
  }
  if (!given(input.pageToken)) return { pageSize, cursor: { order } };
  const cursor = typeof input.pageToken === 'string' ? decodeCursor(input.pageToken) : undefined;
  if (!cursor) throw apiError('page-token-invalid', 'pageToken must be a token from nextPageToken.');
  if (given(input.order) && cursor.order !== order)
    throw apiError('order-invalid', 'order must match the order of the pageToken.');
  return { pageSize, cursor };
}

/**
 * One page of a leg's history — two Sync requests per page at any history length (one for a
 * catch-up `after` a cursor). The state comes with the page that starts the history. Throws 404
 * call-not-found when Sync holds nothing for the call. A page ends at pageSize messages or before
 * the message that would take its list past the answer budget (ANSWER_BUDGET_BYTES), whichever comes first; its
 * nextPageToken then resumes right after its last message.
 */
export async function readCallHistory(
  { store, answerBudgetBytes = ANSWER_BUDGET_BYTES }: HistoryDeps,
  input: CallMessagesInput,
): Promise<CallMessagesPage> {
  const callSid = requireCallSid(input.callSid);
  const { pageSize, cursor, catchUp } = parsePaging(input);
  const page = await store().readHistory(callSid, cursor, pageSize, { catchUp });
  if (!page) throw apiError('call-not-found', 'No call messages are stored for this call (unknown or expired).');
  const messages: CallMessagesPage['messages'] = [];
  let bytes = 0;
  for (const { message, cursor: after } of page.messages) {
    const item = { ...apiMessage(message), ...contentForAnswer(message.content), cursor: encodeCursor(after) };
    // `data` nests at most MAX_PARSED_DEPTH levels: serialising it here cannot exhaust the stack.
    const size = jsonBytes(item) + 1;
    if (messages.length > 0 && bytes + size > answerBudgetBytes) break;
    messages.push(item);
    bytes += size;
  }
  // Cut short by bytes: the next page starts right after the last message kept.
  const next = messages.length < page.messages.length ? page.messages[messages.length - 1]?.cursor : page.next;
  const body: CallMessagesPage = {
    callSid,
    ...(page.state ? { state: apiLegState(page.state) } : {}),
    order: cursor.order,
    messages,
    nextPageToken: next ? encodeCursor(next) : null,
  };
  return body;
}

/** The UTF-8 length of a value's JSON text: what it adds to an answer. */
export const jsonBytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value) ?? '');
