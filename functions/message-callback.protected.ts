// /message-callback: its contract (access, inputs, answers) is in lib/shared/route-contracts.ts.
import { twilioFunction } from '../lib/http/function-handler';
import { receiveCallMessage } from '../lib/routes/message-callback';

export const handler = twilioFunction({ signed: true }, receiveCallMessage);
