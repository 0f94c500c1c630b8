// /operator-sync-token: its contract (access, inputs, answers) is in lib/shared/route-contracts.ts.
import { twilioFunction } from '../lib/http/function-handler';
import { operatorSyncToken } from '../lib/routes/operator';

export const handler = twilioFunction({ signed: false }, async (ctx) => operatorSyncToken(ctx));
