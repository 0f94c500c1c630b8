/**
 * GET|POST /call-messages — an SDK leg's state and message history, both ways, in order.
 * Takes callSid (CA…), optional pageSize (1-100, default 50) and pageToken.
 * Returns 200 {callSid, state, messages: [{sid, direction, sequence?, content, timestamp}], total, nextPageToken}.
 */
import { twilioFunction } from '../lib/function-handler';
import { listCallMessages } from '../lib/routes/call-messages';

export const handler = twilioFunction(
  { signed: true },
  async (ctx) => {
    const { callSid, pageSize, pageToken } = ctx.event;
    return listCallMessages(ctx, { callSid, pageSize, pageToken });
  },
  () => new Twilio.Response(),
);
