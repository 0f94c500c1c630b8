// In-memory Twilio Serverless v1 REST: what `twilio-run deploy` (@twilio-labs/serverless-api) and
// the `twilio` client's `serverless.v1` use. Mounted by the caller at /serverless/v1 (and the
// upload router at /serverless-upload/v1: serverless-upload.twilio.com takes the multipart
// Version uploads) after Basic auth; the caller adds twilioErrorHandler after it. Contract:
// twilio_serverless_v1.json (field names, params, response shapes) and, where it is silent, what
// @twilio-labs/serverless-api sends and reads (sandbox/README.md, "Serverless").
//   state.ts     the resources; json.ts: as JSON; paging.ts: list pages
//   services.ts  Services, Environments, Variables
//   resources.ts Functions, Assets, their Versions (and the upload); builds.ts: Builds, Deployments, Logs
import express from 'express';
import { registerBuilds } from './builds';
import { registerResources } from './resources';
import { registerServices } from './services';
import { ServerlessState, type ServerlessOptions } from './state';

export type { ServerlessOptions } from './state';
export { ServerlessState } from './state';

export function createServerlessRouter(opts: ServerlessOptions): {
  router: express.Router;
  uploadRouter: express.Router;
  state: ServerlessState;
  reset(): void;
} {
  const state = new ServerlessState(opts);
  const router = express.Router();
  const uploadRouter = express.Router();
  registerServices(router, state);
  registerResources(router, uploadRouter, state);
  registerBuilds(router, state);
  return { router, uploadRouter, state, reset: () => state.reset() };
}
