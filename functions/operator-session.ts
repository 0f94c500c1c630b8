// /operator-session: its contract (access, inputs, answers) is in lib/shared/route-contracts.ts.
import { twilioFunction } from '../lib/http/function-handler';
import { createOperatorSession } from '../lib/routes/operator';

export const handler = twilioFunction({ signed: false, bodyOnly: ['secret'] }, async (ctx) =>
  createOperatorSession(ctx, { secret: ctx.event.secret }),
);
