import { json, type RouteContext, type RouteResult } from '../http/function-handler';
import { sendMessage, type SendMessageInput, type SendOutcome } from '../messages/send';

/** A send's answer: 201 for a send, 200 for one made before under the same idempotencyKey. */
export const sendAnswer = (sent: SendOutcome): RouteResult => json(sent.outcome === 'sent' ? 201 : 200, sent);

/** `/send-message` (its contract: lib/shared/route-contracts.ts). */
export async function sendCallMessage(ctx: RouteContext, input: SendMessageInput): Promise<RouteResult> {
  return sendAnswer(await sendMessage(ctx, input));
}
