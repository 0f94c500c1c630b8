// /operator-agents: its contract (access, inputs, answers) is in lib/shared/route-contracts.ts.
import { twilioFunction } from '../lib/http/function-handler';
import { listAgents } from '../lib/routes/agent-admin';

export const handler = twilioFunction({ signed: false }, async (ctx) => listAgents(ctx));
