// API keys (2010-04-01 Keys), as twilio-oai describes them: a key is created with its secret shown
// once (NewKey), listed and fetched without it. Twilio has three kinds: Main keys act as the account
// and are made only in the Console; Standard keys (what the API makes, and what `twilio login`
// stores for the CLI) reach everything but the Keys and Accounts resources
// (twilio.com/docs/iam/api-keys). The sandbox's published key is Standard. Which status and code a
// Standard key meets on /Keys is not documented: the `keys.standardRefusal` knob plays 401 or 403.
import { randomBytes } from 'node:crypto';
import express, { type Request } from 'express';
import { newSid, rfc2822, TwilioApiError } from '../http';
import { page } from './api';

export type KeyKind = 'main' | 'standard';

export interface ApiKey {
  sid: string;
  secret: string;
  friendlyName: string;
  kind: KeyKind;
  dateCreated: number;
  dateUpdated: number;
}

/** How the sandbox answers a Standard key on /Keys (undocumented: README "not verified"). */
export interface KeyKnobs {
  standardRefusal: 401 | 403;
}

export const defaultKeyKnobs = (): KeyKnobs => ({ standardRefusal: 401 });

/** The account's API keys: what Basic auth, access tokens and Sync tokens are checked against. */
export class ApiKeyStore {
  private readonly keys = new Map<string, ApiKey>();

  constructor(private readonly now: () => number = Date.now) {}

  add(friendlyName: string, kind: KeyKind, given?: { sid: string; secret: string }): ApiKey {
    const at = this.now();
    const key: ApiKey = {
      sid: given?.sid ?? newSid('SK'),
      secret: given?.secret ?? randomBytes(24).toString('base64url').slice(0, 32),
      friendlyName,
      kind,
      dateCreated: at,
      dateUpdated: at,
    };
    this.keys.set(key.sid, key);
    return key;
  }

  get(sid: string): ApiKey | undefined {
    return this.keys.get(sid);
  }

  /** The secret of a key that exists: what a token's signature or Basic auth is checked with. */
  secretOf(sid: string): string | undefined {
    return this.keys.get(sid)?.secret;
  }

  list(): ApiKey[] {
    return [...this.keys.values()].sort((a, b) => a.dateCreated - b.dateCreated);
  }

  remove(sid: string): boolean {
    return this.keys.delete(sid);
  }
}

const FRIENDLY_NAME_MAX = 64;

export function createKeysRouter(store: ApiKeyStore, accountSid: string, knobs: KeyKnobs): express.Router {
  const router = express.Router({ mergeParams: true });
  const base = `/2010-04-01/Accounts/${accountSid}`;
  const keyJson = (k: ApiKey) => ({
    sid: k.sid,
    friendly_name: k.friendlyName,
    date_created: rfc2822(k.dateCreated),
    date_updated: rfc2822(k.dateUpdated),
  });
  const find = (sid: string) => {
    const key = store.get(sid);
    if (!key) throw new TwilioApiError(404, 20404, `The requested resource ${base}/Keys/${sid}.json was not found`);
    return key;
  };
  const friendlyName = (req: Request) => {
    const value = (req.body as Record<string, unknown>).FriendlyName;
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value.length > FRIENDLY_NAME_MAX)
      throw new TwilioApiError(400, 20001, `FriendlyName must be a string of at most ${FRIENDLY_NAME_MAX} characters`);
    return value;
  };

  // Only the account's own credentials or a Main key may manage keys.
  router.use(['/Accounts/:AccountSid/Keys.json', '/Accounts/:AccountSid/Keys'], (_req, res, next) => {
    const caller = (res.locals as { apiKeySid?: string }).apiKeySid;
    if (caller !== undefined && store.get(caller)?.kind !== 'main')
      return next(new TwilioApiError(knobs.standardRefusal, 20003, 'Authenticate'));
    next();
  });
  router.get('/Accounts/:AccountSid/Keys.json', (req, res) => {
    res.json(page(req, 'keys', store.list(), keyJson, `${base}/Keys.json`));
  });
  router.post('/Accounts/:AccountSid/Keys.json', (req, res) => {
    const key = store.add(friendlyName(req) ?? '', 'standard');
    res.status(201).json({ ...keyJson(key), secret: key.secret });
  });
  router.get('/Accounts/:AccountSid/Keys/:Sid.json', (req, res) => {
    res.json(keyJson(find(req.params.Sid)));
  });
  router.post('/Accounts/:AccountSid/Keys/:Sid.json', (req, res) => {
    const key = find(req.params.Sid);
    const name = friendlyName(req);
    if (name !== undefined) key.friendlyName = name;
    key.dateUpdated = Date.now();
    res.json(keyJson(key));
  });
  router.delete('/Accounts/:AccountSid/Keys/:Sid.json', (req, res) => {
    find(req.params.Sid);
    store.remove(req.params.Sid);
    res.status(204).end();
  });
  return router;
}
