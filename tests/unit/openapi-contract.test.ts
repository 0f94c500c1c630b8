import { acceptsUniqueName, loadContract, type Exchange } from '../support/openapi-contract';
import { sid, accountSid, callSid, messageSid, syncServiceSid } from '../../testing/sids';

const ACCOUNT = accountSid(0x0123456789abcdef0123456789abcdefn);
const CALL = callSid(0xfedcba9876543210fedcba9876543210n);
const KX = messageSid(0xa1b2c3d4e5f60718a1b2c3d4e5f60718n);
const IS = syncServiceSid(0x00112233445566778899aabbccddeeffn);
const MP = sid('MP', 0xffeeddccbbaa99887766554433221100n);

const UDM_PATH = `/2010-04-01/Accounts/${ACCOUNT}/Calls/${CALL}/UserDefinedMessages.json`;

function udm(overrides: Partial<Exchange> = {}): Exchange {
  return {
    product: 'api',
    method: 'POST',
    path: UDM_PATH,
    query: {},
    form: { Content: JSON.stringify({ hello: 'world' }), IdempotencyKey: 'k-1' },
    status: 201,
    responseBody: { account_sid: ACCOUNT, call_sid: CALL, sid: KX, date_created: 'Wed, 18 Dec 2019 20:02:01 +0000' },
    ...overrides,
  };
}

const problems = (list: { problem: string }[]) => list.map((p) => p.problem);

describe('openapi contract', () => {
  const contract = loadContract();

  it('caches the loaded contract', () => {
    expect(loadContract()).toBe(contract);
  });

  describe('operationFor', () => {
    it('maps the User Defined Message create to CreateUserDefinedMessage', () => {
      expect(contract.operationFor({ product: 'api', method: 'POST', path: UDM_PATH })).toBe(
        'CreateUserDefinedMessage',
      );
      expect(contract.operationFor({ product: 'api', method: 'post', path: UDM_PATH })).toBe(
        'CreateUserDefinedMessage',
      );
    });

    it('prefers literal segments and distinguishes methods', () => {
      const call = `/2010-04-01/Accounts/${ACCOUNT}/Calls/${CALL}.json`;
      expect(contract.operationFor({ product: 'api', method: 'GET', path: call })).toBe('FetchCall');
      expect(contract.operationFor({ product: 'api', method: 'POST', path: call })).toBe('UpdateCall');
      expect(
        contract.operationFor({ product: 'api', method: 'GET', path: `/2010-04-01/Accounts/${ACCOUNT}/Calls.json` }),
      ).toBe('ListCall');
      expect(
        contract.operationFor({ product: 'sync', method: 'POST', path: `/v1/Services/default/Maps/${MP}/Items` }),
      ).toBe('CreateSyncMapItem');
      expect(
        contract.operationFor({
          product: 'sync',
          method: 'GET',
          path: `/v1/Services/default/Maps/${MP}/Items/a%20key`,
        }),
      ).toBe('FetchSyncMapItem');
    });

    it('returns undefined for unknown paths', () => {
      expect(contract.operationFor({ product: 'api', method: 'GET', path: '/2010-04-01/Nope.json' })).toBeUndefined();
      expect(contract.operationFor({ product: 'sync', method: 'GET', path: UDM_PATH })).toBeUndefined();
    });
  });

  describe('CreateUserDefinedMessage', () => {
    it('accepts a good request and its 201 response', () => {
      const e = udm();
      expect(contract.checkRequest(e)).toEqual([]);
      expect(contract.checkResponse(e)).toEqual([]);
    });

    it('accepts nulls where the spec says nullable', () => {
      expect(
        contract.checkResponse(
          udm({ responseBody: { account_sid: ACCOUNT, call_sid: CALL, sid: KX, date_created: null } }),
        ),
      ).toEqual([]);
    });

    it('reports a missing required Content', () => {
      const p = problems(contract.checkRequest(udm({ form: { IdempotencyKey: 'k-1' } })));
      expect(p).toHaveLength(1);
      expect(p[0]).toMatch(/form param Content: required/);
    });

    it('reports an undeclared form param', () => {
      const p = problems(contract.checkRequest(udm({ form: { Content: '{}', Foo: 'bar' } })));
      expect(p).toHaveLength(1);
      expect(p[0]).toMatch(/form param Foo: not declared by CreateUserDefinedMessage/);
    });

    it('reports form param names in the wrong case', () => {
      const p = problems(contract.checkRequest(udm({ form: { content: '{}' } })));
      expect(p.some((x) => /Content: required/.test(x))).toBe(true);
      expect(p.some((x) => /content: not declared/.test(x))).toBe(true);
    });

    it('reports path params not matching their SID pattern', () => {
      const path = `/2010-04-01/Accounts/${ACCOUNT}/Calls/not-a-call/UserDefinedMessages.json`;
      const p = problems(contract.checkRequest(udm({ path })));
      expect(p.some((x) => x.startsWith('path param CallSid') && /pattern/.test(x))).toBe(true);
    });

    it('reports a response sid not matching the KX pattern', () => {
      const p = problems(
        contract.checkResponse(udm({ responseBody: { ...(udm().responseBody as object), sid: 'XX123' } })),
      );
      expect(p.some((x) => x.startsWith('body/sid') && /pattern/.test(x))).toBe(true);
    });

    it('reports dates not in RFC 2822', () => {
      const body = { ...(udm().responseBody as object), date_created: '2019-12-18T20:02:01Z' };
      const p = problems(contract.checkResponse(udm({ responseBody: body })));
      expect(p).toEqual([expect.stringMatching(/^body\/date_created .*date-time-rfc-2822/)]);
    });

    it('reports undocumented success statuses', () => {
      const p = problems(contract.checkResponse(udm({ status: 200 })));
      expect(p).toEqual([expect.stringMatching(/status 200 is not documented/)]);
    });

    it('accepts additional response properties', () => {
      expect(contract.checkResponse(udm({ responseBody: { ...(udm().responseBody as object), extra: 1 } }))).toEqual(
        [],
      );
    });

    it('accepts a Twilio error body for 404 and rejects a bare {}', () => {
      const error = {
        code: 20404,
        message: 'Not found',
        more_info: 'https://www.twilio.com/docs/errors/20404',
        status: 404,
      };
      expect(contract.checkResponse(udm({ status: 404, responseBody: error }))).toEqual([]);
      expect(contract.checkResponse(udm({ status: 404, responseBody: JSON.stringify(error) }))).toEqual([]);
      expect(contract.checkResponse(udm({ status: 404, responseBody: {} }))).not.toEqual([]);
      expect(problems(contract.checkResponse(udm({ status: 404, responseBody: { ...error, status: 400 } })))).toEqual([
        expect.stringMatching(/differs from HTTP status 404/),
      ]);
    });
  });

  it('reports unknown operations', () => {
    const e = udm({ method: 'DELETE' });
    expect(problems(contract.checkRequest(e))).toEqual([expect.stringMatching(/has no DELETE operation/)]);
    expect(contract.checkResponse(e)).toHaveLength(1);
    expect(contract.checkRequest(udm({ path: '/2010-04-01/Nope.json' }))).toHaveLength(1);
  });

  it('checks enums and types of form params', () => {
    const base = {
      product: 'api' as const,
      method: 'POST',
      path: `/2010-04-01/Accounts/${ACCOUNT}/Calls/${CALL}/UserDefinedMessageSubscriptions.json`,
      query: {},
      status: 201,
      responseBody: undefined,
    };
    expect(contract.checkRequest({ ...base, form: { Callback: 'https://example.com/cb', Method: 'POST' } })).toEqual(
      [],
    );
    expect(
      problems(contract.checkRequest({ ...base, form: { Callback: 'https://example.com/cb', Method: 'PUT' } })),
    ).toEqual([expect.stringMatching(/^form param Method = "PUT": must be equal to one of the allowed values/)]);
  });

  describe('Sync map items', () => {
    const itemsPath = `/v1/Services/default/Maps/${MP}/Items`;
    const item = {
      key: 'k1',
      account_sid: ACCOUNT,
      service_sid: IS,
      map_sid: MP,
      url: `https://sync.twilio.com/v1/Services/${IS}/Maps/${MP}/Items/k1`,
      revision: '0',
      data: { a: 1 },
      date_expires: null,
      date_created: '2024-01-02T03:04:05Z',
      date_updated: '2024-01-02T03:04:05Z',
      created_by: 'system',
    };

    it('accepts a create (by unique name) and its 201 response', () => {
      const e: Exchange = {
        product: 'sync',
        method: 'POST',
        path: itemsPath,
        query: {},
        form: { Key: 'k1', Data: JSON.stringify({ a: 1 }) },
        status: 201,
        responseBody: item,
      };
      expect(contract.operationFor(e)).toBe('CreateSyncMapItem');
      expect(contract.checkRequest(e)).toEqual([]);
      expect(contract.checkResponse(e)).toEqual([]);
    });

    it('reports Data that is not a JSON object and a missing Key', () => {
      const e: Exchange = {
        product: 'sync',
        method: 'POST',
        path: itemsPath,
        query: {},
        form: { Data: 'nope' },
        status: 201,
        responseBody: item,
      };
      const p = problems(contract.checkRequest(e));
      expect(p).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/Key: required/),
          expect.stringMatching(/^form param Data = "nope": must be object/),
        ]),
      );
    });

    it('ignores header params such as If-Match and accepts an update', () => {
      const e: Exchange = {
        product: 'sync',
        method: 'POST',
        path: `${itemsPath}/k1`,
        query: {},
        form: { Data: '{"a":2}' },
        status: 200,
        responseBody: { ...item, revision: '1' },
      };
      expect(contract.operationFor(e)).toBe('UpdateSyncMapItem');
      expect(contract.checkRequest(e)).toEqual([]);
      expect(contract.checkResponse(e)).toEqual([]);
    });

    it('accepts a list response with items and meta', () => {
      const e: Exchange = {
        product: 'sync',
        method: 'GET',
        path: itemsPath,
        query: { PageSize: '50' },
        form: {},
        status: 200,
        responseBody: {
          items: [item],
          meta: {
            page: 0,
            page_size: 50,
            first_page_url: `https://sync.twilio.com/v1/Services/${IS}/Maps/${MP}/Items?PageSize=50&Page=0`,
            previous_page_url: null,
            url: `https://sync.twilio.com/v1/Services/${IS}/Maps/${MP}/Items?PageSize=50&Page=0`,
            next_page_url: null,
            key: 'items',
          },
        },
      };
      expect(contract.operationFor(e)).toBe('ListSyncMapItem');
      expect(contract.checkRequest(e)).toEqual([]);
      expect(contract.checkResponse(e)).toEqual([]);
    });

    it('reports bad list items, query enums and undeclared query params', () => {
      const e: Exchange = {
        product: 'sync',
        method: 'GET',
        path: itemsPath,
        query: { PageSize: 'many', Order: 'sideways', Bogus: '1' },
        form: {},
        status: 200,
        responseBody: { items: [{ ...item, map_sid: 'MP1' }], meta: { page: 'zero' } },
      };
      const req = problems(contract.checkRequest(e));
      expect(req).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^query param PageSize = "many": must be integer/),
          expect.stringMatching(/^query param Order = "sideways": must be equal to one of the allowed values/),
          expect.stringMatching(/^query param Bogus: not declared/),
        ]),
      );
      const res = problems(contract.checkResponse(e));
      expect(res).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^body\/items\/0\/map_sid/),
          expect.stringMatching(/^body\/meta\/page = "zero"/),
        ]),
      );
    });

    it('accepts a 204 without body for deletes and flags a body', () => {
      const e: Exchange = {
        product: 'sync',
        method: 'DELETE',
        path: `${itemsPath}/k1`,
        query: {},
        form: {},
        status: 204,
        responseBody: '',
      };
      expect(contract.operationFor(e)).toBe('DeleteSyncMapItem');
      expect(contract.checkRequest(e)).toEqual([]);
      expect(contract.checkResponse(e)).toEqual([]);
      expect(contract.checkResponse({ ...e, responseBody: { deleted: true } })).toHaveLength(1);
    });
  });

  it('documents which Sync params accept unique names', () => {
    expect(acceptsUniqueName('sync', '/v1/Services/{ServiceSid}/Maps/{MapSid}/Items', 'ServiceSid')).toBe(true);
    expect(acceptsUniqueName('sync', '/v1/Services/{ServiceSid}/Maps/{MapSid}/Items', 'MapSid')).toBe(true);
    expect(acceptsUniqueName('sync', '/v1/Services/{ServiceSid}/Documents/{Sid}', 'Sid')).toBe(true);
    expect(acceptsUniqueName('sync', '/v1/Services/{ServiceSid}/Streams/{Sid}', 'Sid')).toBe(false);
    expect(acceptsUniqueName('api', '/2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json', 'Sid')).toBe(false);
  });
});

describe('Conferences', () => {
  const contract = loadContract();
  const CF = sid('CF', 0x0123456789abcdef0123456789abcdefn);
  const conference = (reason: string | null): Exchange => ({
    product: 'api',
    method: 'GET',
    path: `/2010-04-01/Accounts/${ACCOUNT}/Conferences/${CF}.json`,
    query: {},
    form: {},
    status: 200,
    responseBody: {
      account_sid: ACCOUNT,
      date_created: 'Wed, 18 Dec 2019 20:02:01 +0000',
      date_updated: 'Wed, 18 Dec 2019 20:02:01 +0000',
      api_version: '2010-04-01',
      friendly_name: 'room',
      region: 'us1',
      sid: CF,
      status: reason === null ? 'in-progress' : 'completed',
      uri: `/2010-04-01/Accounts/${ACCOUNT}/Conferences/${CF}.json`,
      subresource_uris: {},
      reason_conference_ended: reason,
      call_sid_ending_conference: null,
    },
  });

  it('takes a null reason_conference_ended while in progress (the enum says so), and no other value', () => {
    expect(contract.operationFor(conference(null))).toBe('FetchConference');
    expect(contract.checkResponse(conference(null))).toEqual([]);
    expect(contract.checkResponse(conference('last-participant-left'))).toEqual([]);
    expect(problems(contract.checkResponse(conference('bored')))).not.toEqual([]);
  });

  it('checks a participant create answer', () => {
    const e: Exchange = {
      product: 'api',
      method: 'POST',
      path: `/2010-04-01/Accounts/${ACCOUNT}/Conferences/room-1/Participants.json`,
      query: {},
      form: { From: '+15005550006', To: 'client:alice', Label: 'agent' },
      status: 201,
      responseBody: {
        account_sid: ACCOUNT,
        call_sid: CALL,
        label: 'agent',
        call_sid_to_coach: null,
        coaching: false,
        conference_sid: CF,
        date_created: 'Wed, 18 Dec 2019 20:02:01 +0000',
        date_updated: 'Wed, 18 Dec 2019 20:02:01 +0000',
        end_conference_on_exit: false,
        muted: false,
        hold: false,
        start_conference_on_enter: true,
        status: 'queued',
        queue_time: '0',
        uri: `/2010-04-01/Accounts/${ACCOUNT}/Conferences/${CF}/Participants/${CALL}.json`,
      },
    };
    expect(contract.operationFor(e)).toBe('CreateParticipant');
    expect(contract.checkRequest(e)).toEqual([]);
    expect(contract.checkResponse(e)).toEqual([]);
    expect(problems(contract.checkResponse({ ...e, responseBody: { status: 'waiting' } }))).not.toEqual([]);
  });
});
