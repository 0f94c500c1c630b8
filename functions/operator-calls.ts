// /operator-calls: its contract (access, inputs, answers) is in lib/shared/route-contracts.ts.
import { twilioFunction } from '../lib/http/function-handler';
import { listOperatorCalls } from '../lib/routes/operator';

export const handler = twilioFunction({ signed: false }, async (ctx) =>
  listOperatorCalls(ctx, { limit: ctx.event.limit, final: ctx.event.final, count: ctx.event.count }),
);
