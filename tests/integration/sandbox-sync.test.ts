// The sandbox's Sync v1 REST, driven through the real `twilio` client.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import twilio from 'twilio';
import { SandboxClock } from '../../sandbox/clock';
import { basicAuth, twilioErrorHandler } from '../../sandbox/http';
import { createSyncRouter } from '../../sandbox/rest/sync';
import {
  TWILIO_WRITE_LIMITS,
  writeCost,
  type MissingMapCode,
  type SyncWriteLimits,
} from '../../sandbox/rest/sync/state';
import { SandboxRequestClient } from '../../sandbox/request-client';
import { defined } from '../support/narrow';
import { sid, accountSid } from '../../testing/sids';

const ACCOUNT_SID = accountSid(0x0123456789abcdef0123456789abcdefn);
const AUTH_TOKEN = 'sandbox-token';

let server: http.Server;
let baseUrl: string;
let client: twilio.Twilio;
let rateLimit: number | undefined;
let writeLimits: SyncWriteLimits | undefined;
let missingMapCode: MissingMapCode | undefined;
const clock = new SandboxClock();
const sync = createSyncRouter({
  accountSid: ACCOUNT_SID,
  clock,
  writeRateLimit: () => rateLimit,
  writeLimits: () => writeLimits,
  missingMapCode: () => missingMapCode,
});

const svc = () => client.sync.v1.services('default');

/** The rejection of `p`, as the twilio client's RestException. */
async function failure(p: Promise<unknown>): Promise<{ status: number; code: number; message: string }> {
  try {
    await p;
  } catch (err) {
    return err as { status: number; code: number; message: string };
  }
  throw new Error('expected the request to fail');
}

beforeAll(async () => {
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use(basicAuth({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN }));
  app.use('/sync/v1', sync.router);
  app.use(twilioErrorHandler);
  server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  client = twilio(ACCOUNT_SID, AUTH_TOKEN, { httpClient: new SandboxRequestClient(baseUrl) });
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  sync.reset();
  rateLimit = undefined;
  missingMapCode = undefined;
});

describe('services', () => {
  it('has a default service addressable by unique name and SID', async () => {
    const byName = await svc().fetch();
    expect(byName.uniqueName).toBe('default');
    expect(byName.sid).toMatch(/^IS[0-9a-f]{32}$/);
    expect(byName.accountSid).toBe(ACCOUNT_SID);
    expect(byName.url).toBe(`https://sync.twilio.com/v1/Services/${byName.sid}`);
    expect(byName.links.maps).toBe(`https://sync.twilio.com/v1/Services/${byName.sid}/Maps`);
    const bySid = await client.sync.v1.services(byName.sid).fetch();
    expect(bySid.sid).toBe(byName.sid);
  });

  it('creates, lists, updates and deletes services', async () => {
    const created = await client.sync.v1.services.create({ friendlyName: 'second', aclEnabled: true });
    expect(created.friendlyName).toBe('second');
    expect(created.aclEnabled).toBe(true);
    expect(created.uniqueName).toBeNull();
    const updated = await client.sync.v1.services(created.sid).update({ reachabilityDebouncingWindow: 2000 });
    expect(updated.reachabilityDebouncingWindow).toBe(2000);
    const all = await client.sync.v1.services.list();
    expect(all.map((s) => s.sid)).toContain(created.sid);
    expect(await client.sync.v1.services(created.sid).remove()).toBe(true);
    const err = await failure(client.sync.v1.services(created.sid).fetch());
    expect([err.status, err.code]).toEqual([404, 54050]);
  });

  it('rejects wrong credentials with 401/20003', async () => {
    const bad = twilio(ACCOUNT_SID, 'wrong-token', { httpClient: new SandboxRequestClient(baseUrl) });
    const err = await failure(bad.sync.v1.services('default').fetch());
    expect([err.status, err.code]).toEqual([401, 20003]);
  });
});

describe('documents', () => {
  it('creates, fetches and updates with revision checks', async () => {
    const doc = await svc().documents.create({ uniqueName: 'state', data: { n: 1 } });
    expect(doc.sid).toMatch(/^ET[0-9a-f]{32}$/);
    expect(doc.data).toEqual({ n: 1 });
    expect(doc.createdBy).toBe('system');
    expect(doc.dateExpires).toBeNull();
    expect(typeof doc.revision).toBe('string');

    const fetched = await svc().documents('state').fetch();
    expect(fetched.sid).toBe(doc.sid);

    const updated = await svc()
      .documents('state')
      .update({ data: { n: 2 }, ifMatch: doc.revision });
    expect(updated.data).toEqual({ n: 2 });
    expect(updated.revision).not.toBe(doc.revision);

    const err = await failure(
      svc()
        .documents('state')
        .update({ data: { n: 3 }, ifMatch: doc.revision }),
    );
    expect([err.status, err.code]).toEqual([412, 54103]);
    expect((await svc().documents(doc.sid).fetch()).data).toEqual({ n: 2 });
  });

  it('sends ETag equal to revision', async () => {
    const doc = await svc().documents.create({ uniqueName: 'etag', data: {} });
    const res = await fetch(`${baseUrl}/sync/v1/Services/default/Documents/etag`, {
      headers: { authorization: 'Basic ' + Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString('base64') },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe(doc.revision);
  });

  it('validates data, unique names and missing documents', async () => {
    await svc().documents.create({ uniqueName: 'dup' });
    let err = await failure(svc().documents.create({ uniqueName: 'dup' }));
    expect([err.status, err.code]).toEqual([409, 54301]);
    err = await failure(svc().documents.create({ uniqueName: sid('ET', 0xa) }));
    expect([err.status, err.code]).toEqual([400, 54302]);
    err = await failure(svc().documents.create({ uniqueName: 'x'.repeat(257) }));
    expect([err.status, err.code]).toEqual([400, 54302]);
    err = await failure(svc().documents.create({ data: [1, 2] }));
    expect([err.status, err.code]).toEqual([400, 54101]);
    err = await failure(svc().documents.create({ data: '{not json' }));
    expect([err.status, err.code]).toEqual([400, 54008]);
    err = await failure(svc().documents('nope').fetch());
    expect([err.status, err.code]).toEqual([404, 54100]);
    expect(await svc().documents('dup').remove()).toBe(true);
    err = await failure(svc().documents('dup').fetch());
    expect(err.code).toBe(54100);
  });

  it('enforces the 16 KB data limit (54006), counting UTF-8 bytes', async () => {
    // 6000 × "é" = 12000 bytes UTF-8 but 6000 chars; twice that is over 16 KB.
    const ok = await svc().documents.create({ data: { s: 'é'.repeat(6000) } });
    expect(ok.sid).toMatch(/^ET/);
    const err = await failure(svc().documents.create({ data: { s: 'é'.repeat(8200) } }));
    expect([err.status, err.code]).toEqual([400, 54006]);
  });

  it('rejects invalid TTLs with 54011', async () => {
    for (const ttl of [-1, 31_536_001, 1.5]) {
      const err = await failure(svc().documents.create({ ttl }));
      expect([err.status, err.code]).toEqual([400, 54011]);
    }
    const doc = await svc().documents.create({ ttl: 31_536_000 });
    expect(doc.dateExpires).toBeInstanceOf(Date);
  });
});

describe('maps and map items', () => {
  it('creates maps; duplicate unique name is 409/54301', async () => {
    const map = await svc().syncMaps.create({ uniqueName: 'call-CA1' });
    expect(map.sid).toMatch(/^MP[0-9a-f]{32}$/);
    expect(map.links.items).toBe(`${map.url}/Items`);
    const err = await failure(svc().syncMaps.create({ uniqueName: 'call-CA1' }));
    expect([err.status, err.code]).toEqual([409, 54301]);
    const missing = await failure(svc().syncMaps('nope').fetch());
    expect([missing.status, missing.code]).toEqual([404, 20404]); // the default of the missingMapCode knob
  });

  it.each([20404, 54200, 54300] as const)(
    'answers a missing Map with 404/%i when the knob says so, by name or SID, for the Map and its items',
    async (code) => {
      missingMapCode = code;
      const missing = [
        svc().syncMaps('nope').fetch(),
        svc().syncMaps(sid('MP', 0)).fetch(),
        svc().syncMaps('nope').update({ ttl: 10 }),
        svc().syncMaps('nope').remove(),
        svc().syncMaps('nope').syncMapItems.create({ key: 'k', data: {} }),
        svc().syncMaps('nope').syncMapItems('k').fetch(),
        svc().syncMaps('nope').syncMapItems('k').update({ data: {} }),
        svc().syncMaps('nope').syncMapItems('k').remove(),
        svc().syncMaps('nope').syncMapItems.list(),
      ];
      for (const p of missing) {
        const err = await failure(p);
        expect([err.status, err.code]).toEqual([404, code]);
      }
      // A missing item of a Map that exists stays 404/54201; a missing List stays 54150.
      await svc().syncMaps.create({ uniqueName: 'here' });
      const item = await failure(svc().syncMaps('here').syncMapItems('nope').fetch());
      expect([item.status, item.code]).toEqual([404, 54201]);
      const list = await failure(svc().syncLists('nope').fetch());
      expect([list.status, list.code]).toEqual([404, 54150]);
    },
  );

  it('creates items; duplicate key 409/54208; missing item 404/54201', async () => {
    const map = await svc().syncMaps.create({ uniqueName: 'm' });
    const item = await svc()
      .syncMaps('m')
      .syncMapItems.create({ key: 'k1', data: { a: 1 } });
    expect(item.key).toBe('k1');
    expect(item.mapSid).toBe(map.sid);
    expect(item.data).toEqual({ a: 1 });
    expect(item.url).toBe(`${map.url}/Items/k1`);

    const dup = await failure(svc().syncMaps('m').syncMapItems.create({ key: 'k1', data: {} }));
    expect([dup.status, dup.code]).toEqual([409, 54208]);

    const missing = await failure(svc().syncMaps('m').syncMapItems('nope').fetch());
    expect([missing.status, missing.code]).toEqual([404, 54201]);

    const noMap = await failure(svc().syncMaps('nomap').syncMapItems.create({ key: 'k', data: {} }));
    expect([noMap.status, noMap.code]).toEqual([404, 20404]);

    const badData = await failure(svc().syncMaps('m').syncMapItems.create({ key: 'k2', data: 'null' }));
    expect([badData.status, badData.code]).toEqual([400, 54206]);
  });

  it('reports a missing required parameter with 20001', async () => {
    await svc().syncMaps.create({ uniqueName: 'm' });
    const res = await fetch(`${baseUrl}/sync/v1/Services/default/Maps/m/Items`, {
      method: 'POST',
      headers: {
        authorization: 'Basic ' + Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString('base64'),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'Data=%7B%7D',
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { code: number; message: string };
    expect(body.code).toBe(20001);
    expect(body.message).toContain('Key');
  });

  it('updates and deletes items with If-Match (54205 on mismatch)', async () => {
    await svc().syncMaps.create({ uniqueName: 'm' });
    const item = await svc()
      .syncMaps('m')
      .syncMapItems.create({ key: 'k', data: { v: 1 } });
    const updated = await svc()
      .syncMaps('m')
      .syncMapItems('k')
      .update({ data: { v: 2 }, ifMatch: item.revision });
    expect(updated.data).toEqual({ v: 2 });

    const stale = await failure(
      svc()
        .syncMaps('m')
        .syncMapItems('k')
        .update({ data: { v: 3 }, ifMatch: item.revision }),
    );
    expect([stale.status, stale.code]).toEqual([412, 54205]);
    const staleDelete = await failure(svc().syncMaps('m').syncMapItems('k').remove({ ifMatch: item.revision }));
    expect([staleDelete.status, staleDelete.code]).toEqual([412, 54205]);

    expect(await svc().syncMaps('m').syncMapItems('k').remove({ ifMatch: updated.revision })).toBe(true);
    const gone = await failure(svc().syncMaps('m').syncMapItems('k').fetch());
    expect(gone.code).toBe(54201);
  });

  it('pages items by key, ascending and descending, with From/Bounds', async () => {
    await svc().syncMaps.create({ uniqueName: 'm' });
    for (const key of ['c', 'a', 'e', 'b', 'd']) {
      await svc().syncMaps('m').syncMapItems.create({ key, data: { key } });
    }
    const items = svc().syncMaps('m').syncMapItems;

    const asc = await items.list({ pageSize: 2, order: 'asc' });
    expect(asc.map((i) => i.key)).toEqual(['a', 'b', 'c', 'd', 'e']);
    const desc = await items.list({ pageSize: 2, order: 'desc' });
    expect(desc.map((i) => i.key)).toEqual(['e', 'd', 'c', 'b', 'a']);

    const first = await items.page({ pageSize: 2, order: 'asc' });
    expect(first.instances.map((i) => i.key)).toEqual(['a', 'b']);
    expect(first.previousPageUrl).toBeUndefined();
    const second = await first.nextPage();
    expect(second?.instances.map((i) => i.key)).toEqual(['c', 'd']);
    const third = await second?.nextPage();
    expect(third?.instances.map((i) => i.key)).toEqual(['e']);
    expect(third?.nextPageUrl).toBeUndefined();
    const back = await third?.previousPage();
    expect(back?.instances.map((i) => i.key)).toEqual(['c', 'd']);

    const fromExclusive = await items.list({ from: 'b', bounds: 'exclusive', order: 'asc' });
    expect(fromExclusive.map((i) => i.key)).toEqual(['c', 'd', 'e']);
    const fromDesc = await items.list({ from: 'c', order: 'desc' });
    expect(fromDesc.map((i) => i.key)).toEqual(['c', 'b', 'a']);
  });

  it('answers the list meta block as the spec shapes it', async () => {
    const map = await svc().syncMaps.create({ uniqueName: 'm' });
    await svc().syncMaps('m').syncMapItems.create({ key: 'a', data: {} });
    const res = await fetch(`${baseUrl}/sync/v1/Services/default/Maps/m/Items?PageSize=1`, {
      headers: { authorization: 'Basic ' + Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString('base64') },
    });
    const body = (await res.json()) as { items: unknown[]; meta: Record<string, unknown> };
    expect(body.items).toHaveLength(1);
    expect(Object.keys(body.meta).sort()).toEqual(
      ['first_page_url', 'key', 'next_page_url', 'page', 'page_size', 'previous_page_url', 'url'].sort(),
    );
    expect(body.meta).toMatchObject({
      key: 'items',
      page: 0,
      page_size: 1,
      next_page_url: null,
      previous_page_url: null,
    });
    expect(body.meta.url).toBe(`${map.url}/Items?PageSize=1&Page=0`);
  });

  it('deleting a map removes its items', async () => {
    await svc().syncMaps.create({ uniqueName: 'm' });
    await svc().syncMaps('m').syncMapItems.create({ key: 'a', data: {} });
    expect(await svc().syncMaps('m').remove()).toBe(true);
    await svc().syncMaps.create({ uniqueName: 'm' });
    const err = await failure(svc().syncMaps('m').syncMapItems('a').fetch());
    expect(err.code).toBe(54201);
  });
});

describe('lists and list items', () => {
  it('assigns increasing indexes and orders by index', async () => {
    const list = await svc().syncLists.create({ uniqueName: 'log' });
    expect(list.sid).toMatch(/^ES[0-9a-f]{32}$/);
    const created = [];
    for (let i = 0; i < 4; i++) created.push(await svc().syncLists('log').syncListItems.create({ data: { i } }));
    expect(created.map((it) => it.index)).toEqual([0, 1, 2, 3]);
    expect(defined(created[0]).listSid).toBe(list.sid);

    const asc = await svc().syncLists('log').syncListItems.list({ pageSize: 3 });
    expect(asc.map((it) => it.index)).toEqual([0, 1, 2, 3]);
    const desc = await svc().syncLists('log').syncListItems.list({ order: 'desc', pageSize: 3 });
    expect(desc.map((it) => it.index)).toEqual([3, 2, 1, 0]);

    await svc().syncLists('log').syncListItems(1).remove();
    const next = await svc()
      .syncLists('log')
      .syncListItems.create({ data: { i: 4 } });
    expect(next.index).toBe(4); // gaps are kept, indexes never reused
    const fetched = await svc().syncLists('log').syncListItems(2).fetch();
    expect(fetched.data).toEqual({ i: 2 });

    const stale = await failure(
      svc()
        .syncLists('log')
        .syncListItems(2)
        .update({ data: { i: 9 }, ifMatch: String(Number(fetched.revision) + 5) }),
    );
    expect([stale.status, stale.code]).toEqual([412, 54155]);
    const missing = await failure(svc().syncLists('log').syncListItems(1).fetch());
    expect([missing.status, missing.code]).toEqual([404, 54151]);
    const noList = await failure(svc().syncLists('none').fetch());
    expect([noList.status, noList.code]).toEqual([404, 54150]);
    const badData = await failure(svc().syncLists('log').syncListItems.create({ data: [] }));
    expect([badData.status, badData.code]).toEqual([400, 54156]);
  });
});

describe('TTL', () => {
  it('expires documents, maps, items and lists by the sandbox clock', async () => {
    const doc = await svc().documents.create({ uniqueName: 'short', ttl: 60 });
    expect(doc.dateExpires.getTime() - doc.dateCreated.getTime()).toBe(60_000);
    await svc().documents.create({ uniqueName: 'forever', ttl: 0 });
    await svc().syncMaps.create({ uniqueName: 'm', ttl: 10, collectionTtl: 120 }); // CollectionTtl wins
    await svc().syncMaps('m').syncMapItems.create({ key: 'brief', data: {}, itemTtl: 30 });
    await svc().syncMaps('m').syncMapItems.create({ key: 'stays', data: {} });
    await svc().syncLists.create({ uniqueName: 'l', ttl: 30 });
    await svc().syncLists('l').syncListItems.create({ data: {}, collectionTtl: 300 }); // extends the list

    clock.advance(45_000);
    expect((await svc().syncMaps('m').syncMapItems.list()).map((i) => i.key)).toEqual(['stays']);
    expect((await svc().documents('short').fetch()).sid).toBe(doc.sid);
    expect((await svc().syncLists('l').fetch()).dateExpires).toBeInstanceOf(Date);

    clock.advance(30_000);
    const gone = await failure(svc().documents('short').fetch());
    expect([gone.status, gone.code]).toEqual([404, 54100]);
    expect((await svc().documents('forever').fetch()).dateExpires).toBeNull();
    expect((await svc().syncMaps('m').fetch()).uniqueName).toBe('m');

    clock.advance(60_000);
    const mapGone = await failure(svc().syncMaps('m').syncMapItems('stays').fetch());
    expect([mapGone.status, mapGone.code]).toEqual([404, 20404]);
    // The unique name is free again once the object expired.
    await svc().documents.create({ uniqueName: 'short' });

    clock.advance(300_000);
    const listGone = await failure(svc().syncLists('l').fetch());
    expect(listGone.code).toBe(54150);
  });

  it('sets the parent map TTL from an item write CollectionTtl', async () => {
    const map = await svc().syncMaps.create({ uniqueName: 'm' });
    expect(map.dateExpires).toBeNull();
    await svc().syncMaps('m').syncMapItems.create({ key: 'a', data: {}, collectionTtl: 100 });
    const after = await svc().syncMaps('m').fetch();
    expect(after.dateExpires).toBeInstanceOf(Date);
    const bad = await failure(svc().syncMaps('m').update({ collectionTtl: 31_536_001 }));
    expect([bad.status, bad.code]).toEqual([400, 54011]);
  });
});

describe('write-rate limit', () => {
  it('answers 429/54009 with Retry-After once an object exceeds n×10 writes in 10 s', async () => {
    rateLimit = 1; // 10 writes per 10 s window
    await svc().syncMaps.create({ uniqueName: 'hot' }); // write 1
    for (let i = 0; i < 9; i++)
      await svc()
        .syncMaps('hot')
        .syncMapItems.create({ key: `k${i}`, data: {} });
    const err = await failure(svc().syncMaps('hot').syncMapItems.create({ key: 'over', data: {} }));
    expect([err.status, err.code]).toEqual([429, 54009]);

    const raw = await fetch(`${baseUrl}/sync/v1/Services/default/Maps/hot/Items`, {
      method: 'POST',
      headers: {
        authorization: 'Basic ' + Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString('base64'),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'Key=raw&Data=%7B%7D',
    });
    expect(raw.status).toBe(429);
    expect(raw.headers.get('retry-after')).toBe('1');

    // Other objects are unaffected; reads are not limited.
    await svc().documents.create({ uniqueName: 'cold' });
    expect((await svc().syncMaps('hot').syncMapItems.list()).length).toBe(9);
    expect(sync.stats().writesByObject.hot).toHaveLength(10);

    clock.advance(10_001);
    await svc().syncMaps('hot').syncMapItems.create({ key: 'later', data: {} });
  });

  it('does not limit when writeRateLimit returns undefined', async () => {
    await svc().syncMaps.create({ uniqueName: 'free' });
    for (let i = 0; i < 30; i++)
      await svc()
        .syncMaps('free')
        .syncMapItems.create({ key: `k${i}`, data: {} });
    expect(sync.stats().writesByObject.free).toHaveLength(31);
  });
});

describe('write limits by payload size', () => {
  afterEach(() => {
    writeLimits = undefined;
  });

  it("gives each write its size's share of the object's window: 1/20 s, 1/10 s over 1 KiB, 1/2 s from 10 KiB", () => {
    const twilio = TWILIO_WRITE_LIMITS;
    expect([writeCost(twilio, 0), writeCost(twilio, 1024)]).toEqual([0.05, 0.05]);
    expect([writeCost(twilio, 1025), writeCost(twilio, 10 * 1024 - 1)]).toEqual([0.1, 0.1]);
    expect([writeCost(twilio, 10 * 1024), writeCost(twilio, 16_000)]).toEqual([0.5, 0.5]);
    // The readings of "more aggressively" over 1 KiB: in proportion to size, or as strict as 10 KiB.
    expect(writeCost({ ...twilio, over1KiB: 'by-size' }, 5 * 1024)).toBeCloseTo(0.25);
    expect(writeCost({ ...twilio, over1KiB: 2 }, 2048)).toBe(0.5);
    // A tier switched off falls back to the one below; small writes off: not limited at all.
    expect(writeCost({ ...twilio, from10KiB: null }, 12_000)).toBe(0.1);
    expect(writeCost({ ...twilio, over1KiB: null, from10KiB: null }, 12_000)).toBe(0.05);
    expect(writeCost({ ...twilio, perSecond: null }, 100)).toBe(0);
  });

  it("refuses a Map's 20th 10 KiB item in a burst (its own creation took a share), with Retry-After", async () => {
    writeLimits = { ...TWILIO_WRITE_LIMITS };
    const big = { pad: 'x'.repeat(10_300) };
    await svc().syncMaps.create({ uniqueName: 'sized' }); // 1/20 s of the window
    for (let i = 0; i < 19; i++)
      await svc()
        .syncMaps('sized')
        .syncMapItems.create({ key: `k${i}`, data: big }); // 1/2 s each: 9.55 s of 10
    const err = await failure(svc().syncMaps('sized').syncMapItems.create({ key: 'over', data: big }));
    expect([err.status, err.code]).toEqual([429, 54009]);
    const raw = await fetch(`${baseUrl}/sync/v1/Services/default/Maps/sized/Items`, {
      method: 'POST',
      headers: {
        authorization: 'Basic ' + Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString('base64'),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ Key: 'raw', Data: JSON.stringify(big) }).toString(),
    });
    expect(raw.status).toBe(429);
    // Room for it comes back when the Map's creation leaves the 10 s window.
    expect(Number(raw.headers.get('retry-after'))).toBeGreaterThanOrEqual(9);
    // Smaller writes still fit in what is left (0.45 s): one small (1/20 s), one of 2 KB (1/10 s).
    await svc()
      .syncMaps('sized')
      .syncMapItems.create({ key: 'small', data: { s: 1 } });
    await svc()
      .syncMaps('sized')
      .syncMapItems.create({ key: 'middle', data: { pad: 'x'.repeat(2000) } });
    expect((await failure(svc().syncMaps('sized').syncMapItems.create({ key: 'big', data: big }))).status).toBe(429);
    // Another object is not held back; after the window, the Map takes big writes again.
    await svc().documents.create({ uniqueName: 'sized-doc', data: big });
    clock.advance(10_001);
    await svc().syncMaps('sized').syncMapItems.create({ key: 'later', data: big });
  });

  it('sustains 2 writes/s of 10 KiB on one object: 20 at once, then 20 more each time the window moves on', async () => {
    writeLimits = { ...TWILIO_WRITE_LIMITS, perSecond: null }; // only the big writes take room here
    const big = { pad: 'x'.repeat(10_300) };
    await svc().syncMaps.create({ uniqueName: 'steady' });
    const statuses: number[] = [];
    // 25 s of the sandbox's clock, one attempt every 100 ms: bursts at 0, 10 and 20 s (its real
    // time passing too moves the clock on a little, never past the next window at 30 s).
    for (let step = 0; step < 250; step++) {
      statuses.push(
        await svc()
          .syncMaps('steady')
          .syncMapItems.create({ key: `s${step}`, data: big })
          .then(
            () => 201,
            (err: { status: number }) => err.status,
          ),
      );
      clock.advance(100);
    }
    expect(statuses.filter((s) => s !== 201 && s !== 429)).toEqual([]);
    const accepted = statuses.filter((s) => s === 201).length;
    expect(accepted).toBeGreaterThanOrEqual(59);
    expect(accepted).toBeLessThanOrEqual(61);
  });
});
