// /operator-status: its contract (access, inputs, answers) is in lib/shared/route-contracts.ts.
import { twilioFunction } from '../lib/http/function-handler';
import { operatorStatus } from '../lib/routes/operator-status';

export const handler = twilioFunction({ signed: false }, async (ctx) => operatorStatus(ctx));
