// Serverless v1 list pages: PageSize (1-1000, default 50), Page, PageToken; `{<key>: [...], meta}`
// as every v1 list answers. The token is the offset of the page's first entry.
import type { Request } from 'express';
import { TwilioApiError } from '../../http';
import { param, type Body } from '../sync/params';

export function page<T>(req: Request, key: string, all: T[], toJson: (t: T) => unknown, baseUrl: string) {
  const query = req.query as Body;
  const rawSize = param(query, 'PageSize');
  const pageSize = rawSize === undefined || rawSize === '' ? 50 : Number(rawSize);
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000)
    throw new TwilioApiError(400, 20001, `Invalid PageSize: ${rawSize} (must be 1-1000)`);
  const rawPage = param(query, 'Page');
  const pageNo = rawPage === undefined || rawPage === '' ? 0 : Number(rawPage);
  if (!Number.isInteger(pageNo) || pageNo < 0) throw new TwilioApiError(400, 20001, `Invalid Page: ${rawPage}`);
  const rawToken = param(query, 'PageToken');
  let start = pageNo * pageSize;
  if (rawToken !== undefined && rawToken !== '') {
    const m = /^PT(\d{1,9})$/.exec(rawToken);
    if (!m) throw new TwilioApiError(400, 20001, `Invalid PageToken: ${rawToken}`);
    start = Number(m[1]);
  }
  const filters = Object.entries(query).filter(
    (e): e is [string, string] => !['Page', 'PageSize', 'PageToken'].includes(e[0]) && typeof e[1] === 'string',
  );
  const url = (p: number, offset?: number) => {
    const q = new URLSearchParams(filters);
    q.set('PageSize', String(pageSize));
    q.set('Page', String(p));
    if (offset !== undefined && offset > 0) q.set('PageToken', `PT${offset}`);
    return `${baseUrl}?${q.toString()}`;
  };
  const slice = all.slice(start, start + pageSize);
  return {
    [key]: slice.map(toJson),
    meta: {
      first_page_url: url(0),
      key,
      next_page_url: start + pageSize < all.length ? url(pageNo + 1, start + pageSize) : null,
      page: pageNo,
      page_size: pageSize,
      previous_page_url: start > 0 ? url(Math.max(0, pageNo - 1), Math.max(0, start - pageSize)) : null,
      url: url(pageNo, start),
    },
  };
}
