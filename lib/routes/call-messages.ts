import { badRequest, HttpError } from '../errors';
import { json, type RouteContext, type RouteResult } from '../function-handler';
import { requireCallSid } from '../identifiers';

export interface CallMessagesInput {
  callSid?: unknown;
  pageSize?: unknown;
  pageToken?: unknown;
}

function parsePaging(input: CallMessagesInput): { pageSize: number; offset: number } {
  const pageSize = input.pageSize === undefined || input.pageSize === '' ? 50 : Number(input.pageSize);
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100)
    throw badRequest('page-size-invalid', 'pageSize must be 1-100.');
  const offset = input.pageToken === undefined || input.pageToken === '' ? 0 : Number(input.pageToken);
  if (!Number.isInteger(offset) || offset < 0)
    throw badRequest('page-token-invalid', 'pageToken must be a token from nextPageToken.');
  return { pageSize, offset };
}

/** `/call-messages`: an SDK leg's state and its messages both ways, in order, a page at a time. */
export async function listCallMessages({ store }: RouteContext, input: CallMessagesInput): Promise<RouteResult> {
  const callSid = requireCallSid(input.callSid);
  const { pageSize, offset } = parsePaging(input);
  const leg = await store().readLeg(callSid);
  if (!leg)
    throw new HttpError(404, 'call-not-found', 'No call messages are stored for this call (unknown or expired).');
  const messages = leg.messages
    .slice(offset, offset + pageSize)
    .map((m) => ({ ...m, content: JSON.parse(m.content) as unknown }));
  const next = offset + pageSize < leg.messages.length ? String(offset + pageSize) : null;
  return json(200, { callSid, state: leg.state ?? null, messages, total: leg.messages.length, nextPageToken: next });
}
