// `/agent-session`: an agent signs in with its identity and password and gets a signed agent
// session (8 h) for /token. An identity that exists has its attempts counted before the password is
// checked (lib/auth/throttle.ts; past the limit: 429 with Retry-After); one that does not exist
// costs no Sync write, and gets the same answer after the same scrypt work as a wrong password.
import {
  AgentStore,
  issueAgentSession,
  needsRehash,
  PASSWORD_MAX_CHARS,
  requireAgentIdentity,
  upgradePasswordHash,
  verifyPassword,
} from '../auth/agents';
import { apiError } from '../shared/error-catalogue';
import { json, type RouteContext, type RouteResult } from '../http/function-handler';
import { SignInThrottle } from '../auth/throttle';

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
  const invalid = () => {
    ctx.log.info({ refused: 'sign-in-invalid', identity });
    // One answer for an unknown identity and a wrong password: neither is revealed.
    return apiError('sign-in-invalid', 'Wrong identity or password.');
  };
  // The agent and its counter are read in parallel (an unknown identity has no counter: a 404 read).
  const [agent, counter] = await Promise.all([agents.get(identity), throttle.read(`agent.${identity}`)]);
  if (!agent) {
    // The decoy costs what a wrong password costs, so the answer's timing does not tell either.
    await verifyPassword(password, undefined);
    throw invalid();
  }
  // Counted while scrypt runs: the count's write takes no time of its own, and an attempt gets its
  // answer only once it has been counted.
  const [attempt, matches] = await Promise.all([throttle.count(counter), verifyPassword(password, agent.password)]);
  if (!matches) throw invalid();
  await attempt.succeeded();
  if (!agent.enabled) {
    ctx.log.info({ refused: 'agent-disabled', identity });
    throw apiError('agent-disabled', 'This agent is disabled; ask your operator.');
  }
  if (needsRehash(agent.password)) await upgradePasswordHash(agents, agent, password);
  ctx.log.info({ identity });
  return json(200, issueAgentSession(ctx.config.authToken, agent));
}
