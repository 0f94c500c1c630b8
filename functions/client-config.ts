// /client-config: its contract (access, inputs, answers) is in lib/shared/route-contracts.ts.
import { twilioFunction } from '../lib/http/function-handler';
import { clientConfig } from '../lib/routes/client-config';

export const handler = twilioFunction({ signed: false }, async (ctx) => clientConfig(ctx));
