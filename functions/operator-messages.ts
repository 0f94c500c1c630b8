/**
 * GET|POST /operator-messages — one leg's state and messages both ways, as /call-messages answers.
 * Header Authorization: Bearer <session>. Takes callSid (CA…), optional pageSize (1-100), pageToken.
 * Returns 200 {callSid, state, messages, total, nextPageToken}; 401 without a session; 404 unknown call.
 */
import { twilioFunction } from '../lib/http/function-handler';
import { operatorMessages } from '../lib/routes/operator';

export const handler = twilioFunction({ signed: false }, async (ctx) => {
  const { callSid, pageSize, pageToken, after, order } = ctx.event;
  return operatorMessages(ctx, { callSid, pageSize, pageToken, after, order });
});
