// Agents: the people who may use the softphone. Kept in one Sync Map, `cme.agents`, an item per
// identity (data: AgentRecord, lib/store/records.ts). The credential is the agent's own password, stored as a salted
// scrypt hash (node:crypto). Signing in (/agent-session) gives a signed, stateless agent session;
// with it, /token mints a Voice token for that session's identity only (TOKEN_SECRET, server to
// server, is the one other way in), and re-reads the agent each time, so disabling an agent or
// resetting its password stops new tokens at once.
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { apiError } from '../shared/error-catalogue';
import { routeLog } from '../platform/log';
import { AGENT_IDENTITY, AGENT_IDENTITY_RULE } from '../shared/limits';
import { readSession, sessionKey, signSession } from './sessions';
import { logUnreadable, parseAgentRecord, type AgentRecord, type PasswordHash } from '../store/records';
import { isItemRevisionMismatch, isNotFound, SyncAccess } from '../store/sync';

export type { AgentRecord, PasswordHash } from '../store/records';

export const AGENTS_MAP = 'cme.agents';

/**
 * New agents' identities: what every Voice SDK accepts (the iOS and Android SDKs refuse `.` and
 * `-`, which the JavaScript SDK allows), at most 121 characters like any client identity.
 */
export const PASSWORD_MIN_CHARS = 12;
/** Bounds the work one sign-in can ask of scrypt. */
export const PASSWORD_MAX_CHARS = 256;
export const DISPLAY_NAME_MAX_CHARS = 64;
/** An agent session lasts a working shift; the softphone keeps it in memory only. */
export const AGENT_SESSION_TTL_SECONDS = 8 * 3600;
/** Agents the console lists (and the Map may hold): one list request of 100 per page. */
export const MAX_AGENTS = 1000;

// scrypt cost: N=2^15, r=8, p=3, a row of OWASP's Password Storage Cheat Sheet that it counts as
// equal to its minimum (N=2^17, r=8, p=1, which needs 128 MiB). 32 MiB (128·N·r bytes), within a
// Function's 256 MB; about 230 ms on one core. Hashes written with other parameters are verified
// with their own and rewritten at these on the owner's next sign-in (`needsRehash`).
const SCRYPT = { N: 32_768, r: 8, p: 3, keyLength: 32 } as const;
/** No hash may ask scrypt for more memory than this (a stored hash carries its own parameters). */
const SCRYPT_MAXMEM = 64 * 1024 * 1024;

/** What the operator console sees of an agent (never the hash). */
export type Agent = Omit<AgentRecord, 'password' | 'credentialId'>;

export const publicAgent = ({ identity, displayName, enabled, createdAt, updatedAt }: AgentRecord): Agent => ({
  identity,
  displayName,
  enabled,
  createdAt,
  updatedAt,
});

// ---- input rules ---------------------------------------------------------------------------------

export const isAgentIdentity = (v: unknown): v is string => typeof v === 'string' && AGENT_IDENTITY.test(v);

export function requireAgentIdentity(value: unknown): string {
  if (!isAgentIdentity(value)) throw apiError('identity-invalid', `identity must be ${AGENT_IDENTITY_RULE}.`);
  return value;
}

/** A new password: at least PASSWORD_MIN_CHARS characters. */
export function requireNewPassword(value: unknown): string {
  if (typeof value !== 'string' || [...value].length < PASSWORD_MIN_CHARS || value.length > PASSWORD_MAX_CHARS) {
    throw apiError(
      'password-invalid',
      `password must be ${PASSWORD_MIN_CHARS}-${PASSWORD_MAX_CHARS} characters (leave it empty to have one generated).`,
    );
  }
  return value;
}

export function requireDisplayName(value: unknown, fallback: string): string {
  const name = typeof value === 'string' ? value.trim() : '';
  if (value !== undefined && typeof value !== 'string')
    throw apiError('display-name-invalid', 'displayName must be text.');
  // eslint-disable-next-line no-control-regex
  if (name.length > DISPLAY_NAME_MAX_CHARS || /[\u0000-\u001f\u007f]/.test(name)) {
    throw apiError(
      'display-name-invalid',
      `displayName must be at most ${DISPLAY_NAME_MAX_CHARS} characters, without control characters.`,
    );
  }
  return name || fallback;
}

/** A random password for an agent (shown to the operator once): 24 base64url characters, 144 bits. */
export const generatePassword = () => randomBytes(18).toString('base64url');

// ---- password hashing ----------------------------------------------------------------------------

function scryptAsync(password: string, salt: Buffer, params: Pick<PasswordHash, 'N' | 'r' | 'p'>): Promise<Buffer> {
  const options: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: SCRYPT_MAXMEM };
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, SCRYPT.keyLength, options, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

export async function hashPassword(password: string): Promise<PasswordHash> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(password, salt, SCRYPT);
  return {
    scheme: 'scrypt',
    N: SCRYPT.N,
    r: SCRYPT.r,
    p: SCRYPT.p,
    salt: salt.toString('base64'),
    hash: hash.toString('base64'),
  };
}

// Compared against when the identity is unknown, so a wrong identity costs the same time as a wrong password.
const DECOY: PasswordHash = {
  scheme: 'scrypt',
  N: SCRYPT.N,
  r: SCRYPT.r,
  p: SCRYPT.p,
  salt: 'Y21lLmRlY295LnNhbHQ=',
  hash: Buffer.alloc(SCRYPT.keyLength).toString('base64'),
};

/** True when `stored` was not made with today's parameters: the next successful sign-in rewrites it. */
export const needsRehash = (stored: PasswordHash): boolean =>
  stored.N !== SCRYPT.N || stored.r !== SCRYPT.r || stored.p !== SCRYPT.p;

/** True when `password` is the one `stored` was made from; the same work whether or not there is a record. */
export async function verifyPassword(password: string, stored: PasswordHash | undefined): Promise<boolean> {
  const target = stored?.scheme === 'scrypt' ? stored : DECOY;
  // A hash stored at other (older, cheaper) parameters is checked alongside the decoy, so that it
  // takes at least today's time: an agent whose hash predates a change answers no faster than a
  // wrong password or an identity that does not exist.
  const padding =
    target !== DECOY && needsRehash(target)
      ? scryptAsync(password, Buffer.from(DECOY.salt, 'base64'), DECOY).catch(() => undefined)
      : undefined;
  const expected = Buffer.from(target.hash, 'base64');
  let actual: Buffer | undefined;
  try {
    actual = await scryptAsync(password, Buffer.from(target.salt, 'base64'), target);
  } catch {
    actual = undefined; // parameters scrypt refuses: not a hash this code wrote
  }
  await padding;
  return (
    stored === target && actual !== undefined && actual.length === expected.length && timingSafeEqual(actual, expected)
  );
}

// ---- agent sessions ------------------------------------------------------------------------------

const agentSessionKey = (authToken: string) => sessionKey(authToken, 'cme.agent-session.v1');

export interface AgentSession {
  session: string;
  identity: string;
  displayName: string;
  /** ISO 8601 */
  expiresAt: string;
}

export function issueAgentSession(authToken: string, agent: AgentRecord, nowMs = Date.now()): AgentSession {
  const { session, exp } = signSession(
    agentSessionKey(authToken),
    { typ: 'agent', sub: agent.identity, cid: agent.credentialId },
    AGENT_SESSION_TTL_SECONDS,
    nowMs,
  );
  return {
    session,
    identity: agent.identity,
    displayName: agent.displayName,
    expiresAt: new Date(exp * 1000).toISOString(),
  };
}

/** The identity and credential of a genuine, unexpired agent session; undefined otherwise. */
export function verifyAgentSession(
  session: unknown,
  authToken: string,
  nowMs = Date.now(),
): { identity: string; credentialId: string } | undefined {
  const claims = readSession(session, agentSessionKey(authToken), nowMs);
  if (!claims || claims.typ !== 'agent' || !isAgentIdentity(claims.sub) || typeof claims.cid !== 'string')
    return undefined;
  return { identity: claims.sub, credentialId: claims.cid };
}

// ---- the Sync store ------------------------------------------------------------------------------

/**
 * The agents' Map. An item that does not parse (not written by this code) counts as no agent: it
 * cannot sign in or get a token, the console does not list it, and changing it answers 404.
 */
export class AgentStore extends SyncAccess {
  private items() {
    return this.mapItems(AGENTS_MAP);
  }

  /** The agent, or undefined (no such agent, or no agents at all yet). `identity` must be validated first. */
  async get(identity: string): Promise<AgentRecord | undefined> {
    return (await this.fetch(identity))?.record;
  }

  private async fetch(identity: string): Promise<{ record: AgentRecord; revision: string } | undefined> {
    const item = await this.fetchMapItem(AGENTS_MAP, identity);
    if (!item) return undefined;
    const record = parseAgentRecord(item.data);
    if (!record) logUnreadable(item.key);
    return record && { record, revision: item.revision };
  }

  async list(): Promise<AgentRecord[]> {
    let items;
    try {
      items = await this.retry(() => this.items().list({ pageSize: 100, limit: MAX_AGENTS }));
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
    return items.flatMap((item): AgentRecord[] => {
      const record = parseAgentRecord(item.data);
      if (!record) logUnreadable(item.key);
      return record ? [record] : [];
    });
  }

  /** Adds an agent; 409 `agent-exists` when the identity is taken. Creates the Map on first use. */
  async create(record: AgentRecord): Promise<void> {
    const created = await this.createMapItem(AGENTS_MAP, record.identity, record, () => this.ensureMap(AGENTS_MAP));
    if (!created) throw apiError('agent-exists', `There is already an agent ${record.identity}.`);
  }

  /** Changes an agent with a revision check (a concurrent change is re-read and re-applied); 404 when unknown. */
  async update(identity: string, change: (record: AgentRecord) => AgentRecord): Promise<AgentRecord> {
    for (let race = 0; race < 3; race++) {
      const current = await this.fetch(identity);
      if (!current) throw apiError('agent-not-found', `There is no agent ${identity}.`);
      const next = change(current.record);
      try {
        await this.retry(() => this.items()(identity).update({ data: next, ifMatch: current.revision }));
        return next;
      } catch (err) {
        if (!isItemRevisionMismatch(err)) throw err;
      }
    }
    throw apiError('record-failed', `Could not change agent ${identity}; retry.`);
  }
}

/**
 * Stores an agent's password again at today's scrypt cost, after its owner proved it (lazy rehash).
 * The credential id stays: it is the same password, so sessions already issued stay valid. Skipped
 * when the password was changed meanwhile; best effort (the old hash still verifies).
 */
export async function upgradePasswordHash(store: AgentStore, verified: AgentRecord, password: string): Promise<void> {
  const upgraded = await hashPassword(password);
  const unchanged = (current: AgentRecord) =>
    current.credentialId === verified.credentialId && current.password.hash === verified.password.hash;
  try {
    await store.update(verified.identity, (current) =>
      unchanged(current) ? { ...current, password: upgraded } : current,
    );
  } catch {
    routeLog('agents').info({ identity: verified.identity, error: 'rehash-failed' });
  }
}

/** A password's stored form and a new credential id (sessions issued for an older password stop working). */
export async function newCredential(password: string): Promise<Pick<AgentRecord, 'password' | 'credentialId'>> {
  return { password: await hashPassword(password), credentialId: randomBytes(9).toString('base64url') };
}

/** A new, enabled agent record (hashes the password). */
export async function newAgentRecord(
  identity: string,
  displayName: string,
  password: string,
  now = new Date(),
): Promise<AgentRecord> {
  return {
    identity,
    displayName,
    enabled: true,
    ...(await newCredential(password)),
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
  };
}
