// The operator's session as the pages keep it: the console and the status page share it (same
// origin, same tab), so one login serves both. /operator-session's answer, in sessionStorage.

/** /operator-session's answer: a bearer token for the /operator-* routes, and when it ends. */
export interface OperatorSession {
  session: string;
  expiresAt: string;
}

const STORAGE_KEY = 'cme.operator.session';

/** The session this tab holds, if it has not expired (an unreadable one is dropped). */
export function loadOperatorSession(): OperatorSession | undefined {
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? 'null') as OperatorSession | null;
    if (saved && Date.parse(saved.expiresAt) > Date.now()) return saved;
  } catch {
    sessionStorage.removeItem(STORAGE_KEY);
  }
  return undefined;
}

export function saveOperatorSession(session: OperatorSession): void {
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
}

export function clearOperatorSession(): void {
  sessionStorage.removeItem(STORAGE_KEY);
}
