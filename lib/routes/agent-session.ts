// `/agent-session`: an agent signs in with its identity and password and gets a signed agent
// session (8 h) for /token. Attempts are counted per identity and per source before the password
// is checked (lib/auth/throttle.ts); past the limit: 429 with Retry-After.
import {
  AgentStore,
  issueAgentSession,
  PASSWORD_MAX_CHARS,
  requireAgentIdentity,
  verifyPassword,
} from '../auth/agents';
import { apiError } from '../shared/error-catalogue';
import { json, type RouteContext, type RouteResult } from '../http/function-handler';
import { requestSource, SignInThrottle } from '../auth/throttle';

export interface AgentSignIn {
  identity?: unknown;
  password?: unknown;
}

export async function signInAgent(ctx: RouteContext, input: AgentSignIn): Promise<RouteResult> {
  const identity = requireAgentIdentity(input.identity);
  const password = input.password;
  if (typeof password !== 'string' || !password || password.length > PASSWORD_MAX_CHARS)
    throw apiError('password-invalid', `password must be 1-${PASSWORD_MAX_CHARS} characters.`);
  const client = ctx.client();
  const throttle = new SignInThrottle(client, ctx.config, ctx.deadline);
  const agents = new AgentStore(client, ctx.config, ctx.deadline);
  // The attempt is counted and the agent read in parallel: one round trip before scrypt.
  const [attempt, agent] = await Promise.all([
    throttle.begin(`agent.${identity}`, requestSource(ctx.headers)),
    agents.get(identity),
  ]);
  if (!(await verifyPassword(password, agent?.password)) || !agent) {
    ctx.log.info({ refused: 'sign-in-invalid', identity });
    // One answer for an unknown identity and a wrong password: neither is revealed.
    throw apiError('sign-in-invalid', 'Wrong identity or password.');
  }
  await attempt.succeeded();
  if (!agent.enabled) {
    ctx.log.info({ refused: 'agent-disabled', identity });
    throw apiError('agent-disabled', 'This agent is disabled; ask your operator.');
  }
  ctx.log.info({ identity });
  return json(200, issueAgentSession(ctx.config.authToken, agent));
}
