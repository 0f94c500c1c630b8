/**
 * GET|POST /call-messages — an SDK leg's state and message history, both ways, in order.
 * Takes callSid (CA…), optional pageSize (1-100, default 50), order (asc|desc), and pageToken (from
 * nextPageToken) or after (a message's cursor: only what came later). Two Sync reads a page.
 * Returns 200 CallMessagesPage (lib/shared/api-types.ts): {callSid, state?, order, messages: [{sid, direction,
 * sequence?, content (the JSON text as sent), data?, timestamp, cursor}], nextPageToken}.
 */
import { twilioFunction } from '../lib/http/function-handler';
import { listCallMessages } from '../lib/routes/call-messages';

export const handler = twilioFunction({ signed: true }, async (ctx) => {
  const { callSid, pageSize, pageToken, after, order } = ctx.event;
  return listCallMessages(ctx, { callSid, pageSize, pageToken, after, order });
});
