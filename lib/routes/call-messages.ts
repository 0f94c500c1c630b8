import { json, type RouteContext, type RouteResult } from '../http/function-handler';
import { readCallHistory, type CallMessagesInput } from '../messages/history';

/** `/call-messages` (its contract: lib/shared/route-contracts.ts): one page of an SDK leg's history. */
export async function listCallMessages(ctx: RouteContext, input: CallMessagesInput): Promise<RouteResult> {
  return json(200, await readCallHistory(ctx, input));
}
