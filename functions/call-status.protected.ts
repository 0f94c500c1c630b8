/**
 * POST /call-status — statusCallback of the <Client>/<Number> nouns /voice dials.
 * Takes CallSid, ParentCallSid, CallStatus, CallDuration (+ the cme_* query keys /voice wrote).
 * in-progress → subscribes each SDK leg to its call messages; completed/busy/failed/no-answer/
 * canceled → closes the legs out in Sync. Returns 200 {status, legs}.
 */
import { twilioFunction } from '../lib/http/function-handler';
import { handleCallStatus } from '../lib/routes/call-status';

export const handler = twilioFunction({ signed: true }, handleCallStatus);
