// /conference-status: its contract (access, inputs, answers) is in lib/shared/route-contracts.ts.
import { twilioFunction } from '../lib/http/function-handler';
import { handleConferenceStatus } from '../lib/routes/conference-status';

export const handler = twilioFunction({ signed: true }, handleConferenceStatus);
