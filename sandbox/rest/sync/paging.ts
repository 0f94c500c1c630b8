// Sync v1 paging: PageSize/Page/PageToken (cursor tokens) and the item-list Order/Bounds/From.
import { TwilioApiError } from '../../http';
import { param, type Body } from './params';

export type Cursor = string | number;

export interface PageRequest {
  pageSize: number;
  page: number;
  token?: { after: boolean; cursor: Cursor } | undefined;
}

export function parsePaging(query: Body): PageRequest {
  const rawSize = param(query, 'PageSize');
  const pageSize = rawSize === undefined || rawSize === '' ? 50 : Number(rawSize);
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100) {
    throw new TwilioApiError(400, 20001, `Invalid PageSize: ${rawSize} (must be 1-100)`);
  }
  const rawPage = param(query, 'Page');
  const page = rawPage === undefined || rawPage === '' ? 0 : Number(rawPage);
  if (!Number.isInteger(page) || page < 0) throw new TwilioApiError(400, 20001, `Invalid Page: ${rawPage}`);
  const rawToken = param(query, 'PageToken');
  let token: PageRequest['token'];
  if (rawToken !== undefined && rawToken !== '') {
    // Both groups are set exactly when the token matches.
    const [, direction, encoded] = /^P([AB])(.+)$/.exec(rawToken) ?? [];
    let cursor: unknown;
    try {
      cursor = encoded !== undefined ? JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8')) : undefined;
    } catch {
      cursor = undefined;
    }
    if (direction === undefined || (typeof cursor !== 'string' && typeof cursor !== 'number')) {
      throw new TwilioApiError(400, 20001, `Invalid PageToken: ${rawToken}`);
    }
    token = { after: direction === 'A', cursor };
  }
  return { pageSize, page, token };
}

export function encodeToken(after: boolean, cursor: Cursor): string {
  return `P${after ? 'A' : 'B'}${Buffer.from(JSON.stringify(cursor), 'utf8').toString('base64url')}`;
}

/**
 * One page of `all` (already filtered and ordered; `cmp` orders cursors the same way).
 * Tokens are cursors ("after X" / "before X"), so paging stays stable while items change.
 */
export function paginate<T extends object>(
  all: T[],
  cursorOf: (t: T) => Cursor,
  cmp: (a: Cursor, b: Cursor) => number,
  req: PageRequest,
  baseUrl: string,
  extraQuery: [string, string][],
  key: string,
): Record<string, unknown> {
  const { pageSize, page, token } = req;
  let start: number;
  if (!token) {
    start = page * pageSize;
  } else if (token.after) {
    start = all.findIndex((t) => cmp(cursorOf(t), token.cursor) > 0);
    if (start < 0) start = all.length;
  } else {
    let end = all.findIndex((t) => cmp(cursorOf(t), token.cursor) >= 0);
    if (end < 0) end = all.length;
    start = Math.max(0, end - pageSize);
  }
  const slice = all.slice(start, start + pageSize);
  const url = (p: number, tok?: string) => {
    const q = new URLSearchParams(extraQuery);
    q.set('PageSize', String(pageSize));
    q.set('Page', String(p));
    if (tok) q.set('PageToken', tok);
    return `${baseUrl}?${q.toString()}`;
  };
  // Items are objects, so first and last are undefined exactly when the page is empty.
  const first = slice[0];
  const last = slice[slice.length - 1];
  const hasNext = start + slice.length < all.length && last !== undefined;
  const hasPrev = start > 0;
  const currentToken = token ? encodeToken(token.after, token.cursor) : undefined;
  return {
    [key]: slice,
    meta: {
      first_page_url: url(0),
      key,
      next_page_url: hasNext ? url(page + 1, encodeToken(true, cursorOf(last))) : null,
      page,
      page_size: pageSize,
      previous_page_url: hasPrev
        ? url(Math.max(0, page - 1), first !== undefined ? encodeToken(false, cursorOf(first)) : undefined)
        : null,
      url: url(page, currentToken),
    },
  };
}

export const ascending = (a: Cursor, b: Cursor): number => (a < b ? -1 : a > b ? 1 : 0);

export function parseOrder(query: Body): {
  order?: 'asc' | 'desc' | undefined;
  bounds?: 'inclusive' | 'exclusive' | undefined;
  from?: string | undefined;
} {
  const order = param(query, 'Order');
  if (order !== undefined && order !== 'asc' && order !== 'desc') {
    throw new TwilioApiError(400, 20001, `Invalid Order: ${order} (must be asc or desc)`);
  }
  const bounds = param(query, 'Bounds');
  if (bounds !== undefined && bounds !== 'inclusive' && bounds !== 'exclusive') {
    throw new TwilioApiError(400, 20001, `Invalid Bounds: ${bounds} (must be inclusive or exclusive)`);
  }
  return { order, bounds, from: param(query, 'From') };
}
