// The /operator-* functions, called with the operator's session token (never the Auth Token).

import { state } from './state';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let sessionExpired: (reason: string) => void = () => undefined;

/** What the page does when a call is refused with 401 while logged in: it logs out. */
export function onSessionExpired(handler: (reason: string) => void) {
  sessionExpired = handler;
}

export async function api<T>(
  path: string,
  init: { method?: 'GET' | 'POST'; params?: Record<string, string> } = {},
): Promise<T> {
  const method = init.method ?? 'GET';
  const query = method === 'GET' && init.params ? `?${new URLSearchParams(init.params)}` : '';
  const res = await fetch(`${path}${query}`, {
    method,
    headers: {
      ...(state.session ? { Authorization: `Bearer ${state.session.session}` } : {}),
      ...(method === 'POST' ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {}),
    },
    ...(method === 'POST' ? { body: new URLSearchParams(init.params ?? {}).toString() } : {}),
    cache: 'no-store',
  });
  const body = (await res.json().catch(() => ({}))) as T & { code?: string; message?: string };
  if (!res.ok) {
    if (res.status === 401 && state.session) sessionExpired('Your session expired; log in again.');
    throw new ApiError(res.status, body.code ?? 'error', body.message ?? `HTTP ${res.status}`);
  }
  return body;
}
