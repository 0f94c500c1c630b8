// The routes your backend calls with a key of BACKEND_API_KEYS (lib/auth/backend-keys.ts) instead
// of signing with the Auth Token: the same operations and answers as /send-message and
// /call-messages (lib/messages), behind `Authorization: Bearer <key>` and the key's scope.
import { json, type RouteContext, type RouteResult } from '../http/function-handler';
import { requireBackendKey } from '../auth/backend-keys';
import { sendAnswer } from './send-message';
import { sendMessage, type SendMessageInput } from '../messages/send';
import { readCallHistory, type CallMessagesInput } from '../messages/history';

/** `/backend-send`: what `/send-message` does, for a key with the `send` scope. */
export async function backendSend(ctx: RouteContext, input: SendMessageInput): Promise<RouteResult> {
  const key = await requireBackendKey(ctx, 'send');
  ctx.log.info({ backendKey: key.id });
  return sendAnswer(await sendMessage(ctx, input));
}

/** `/backend-messages`: what `/call-messages` answers, for a key with the `read` scope. */
export async function backendMessages(ctx: RouteContext, input: CallMessagesInput): Promise<RouteResult> {
  await requireBackendKey(ctx, 'read');
  return json(200, await readCallHistory(ctx, input));
}
