// /call-status: its contract (access, inputs, answers) is in lib/shared/route-contracts.ts.
import { twilioFunction } from '../lib/http/function-handler';
import { handleCallStatus } from '../lib/routes/call-status';

export const handler = twilioFunction({ signed: true }, handleCallStatus);
