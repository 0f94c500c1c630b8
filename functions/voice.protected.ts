// /voice: its contract (access, inputs, answers) is in lib/shared/route-contracts.ts.
import { twilioFunction } from '../lib/http/function-handler';
import { answerVoiceCall } from '../lib/routes/voice';

export const handler = twilioFunction({ signed: true }, async (ctx) => answerVoiceCall(ctx));
