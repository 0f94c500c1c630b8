// The operator's agent management (behind the operator session): list, add, disable/enable, and
// reset a password. A password the operator leaves empty is generated and answered once; it is
// stored only as its scrypt hash.
import {
  AgentStore,
  type AgentRecord,
  generatePassword,
  newAgentRecord,
  newCredential,
  publicAgent,
  requireAgentIdentity,
  requireDisplayName,
  requireNewPassword,
} from '../auth/agents';
import { apiError } from '../shared/error-catalogue';
import { json, type RouteContext, type RouteResult } from '../http/function-handler';
import { requireOperator } from './operator';

const store = (ctx: RouteContext) => new AgentStore(ctx.client(), ctx.config, ctx.deadline);

/** A password the operator typed, or a generated one (`generated` says which). */
function passwordOf(value: unknown): { password: string; generated: boolean } {
  if (value === undefined || value === '') return { password: generatePassword(), generated: true };
  return { password: requireNewPassword(value), generated: false };
}

/** `/operator-agents`: every agent, by identity, without credentials. */
export async function listAgents(ctx: RouteContext): Promise<RouteResult> {
  requireOperator(ctx);
  const agents = (await store(ctx).list()).map(publicAgent).sort((a, b) => a.identity.localeCompare(b.identity));
  return json(200, { agents });
}

export interface AddAgentInput {
  identity?: unknown;
  displayName?: unknown;
  password?: unknown;
}

/** `/operator-agents-add`: a new, enabled agent. 201 {agent, password?}; 409 when the identity is taken. */
export async function addAgent(ctx: RouteContext, input: AddAgentInput): Promise<RouteResult> {
  requireOperator(ctx);
  const identity = requireAgentIdentity(input.identity);
  const displayName = requireDisplayName(input.displayName, identity);
  const { password, generated } = passwordOf(input.password);
  const record = await newAgentRecord(identity, displayName, password);
  await store(ctx).create(record);
  ctx.log.info({ identity });
  return json(201, { agent: publicAgent(record), ...(generated ? { password } : {}) });
}

export const AGENT_ACTIONS = ['disable', 'enable', 'reset-password', 'rename'] as const;
export type AgentAction = (typeof AGENT_ACTIONS)[number];

export interface UpdateAgentInput {
  identity?: unknown;
  action?: unknown;
  password?: unknown;
  displayName?: unknown;
}

/**
 * `/operator-agents-update`: `action` disable | enable | reset-password (optional `password`, else
 * generated and answered once) | rename (`displayName`). 200 {agent, password?}; 404 unknown agent.
 */
export async function updateAgent(ctx: RouteContext, input: UpdateAgentInput): Promise<RouteResult> {
  requireOperator(ctx);
  const identity = requireAgentIdentity(input.identity);
  const action = input.action as AgentAction;
  if (!AGENT_ACTIONS.includes(action)) throw apiError('action-invalid', `action must be ${AGENT_ACTIONS.join(', ')}.`);
  const updatedAt = new Date().toISOString();
  let answerPassword: string | undefined;
  let change: (r: AgentRecord) => AgentRecord;
  if (action === 'reset-password') {
    const { password, generated } = passwordOf(input.password);
    if (generated) answerPassword = password;
    const credential = await newCredential(password);
    change = (r) => ({ ...r, ...credential, updatedAt });
  } else if (action === 'rename') {
    const displayName = requireDisplayName(input.displayName, identity);
    change = (r) => ({ ...r, displayName, updatedAt });
  } else {
    const enabled = action === 'enable';
    change = (r) => ({ ...r, enabled, updatedAt });
  }
  const record = await store(ctx).update(identity, change);
  ctx.log.info({ identity, action });
  return json(200, { agent: publicAgent(record), ...(answerPassword ? { password: answerPassword } : {}) });
}
