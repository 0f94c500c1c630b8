// The client package (client/) imports nothing of this repository, so it carries its own copy of
// two things defined elsewhere: X-Twilio-Signature (twilio-node's getExpectedTwilioSignature) and
// the API's answer types (lib/shared/api-types.ts). These tests hold each copy to its original.
import fc from 'fast-check';
import twilio from 'twilio';
import * as client from '../../client/src';
import type * as shared from '../../lib/shared/api-types';
import type { LegEvent } from '../../lib/forwarding/webhook';

describe("the client's X-Twilio-Signature", () => {
  const params = fc.dictionary(fc.string({ maxLength: 12 }), fc.string({ maxLength: 40 }), { maxKeys: 8 });
  const url = fc.webUrl({ withQueryParameters: true });

  it("is twilio-node's, with the Auth Token (HMAC-SHA1), for any URL and parameters", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40 }), url, params, (token, u, p) => {
        expect(client.twilioSignature(token, u, p)).toBe(twilio.getExpectedTwilioSignature(token, u, p));
      }),
    );
  });

  it("is twilio-node's with a SharedKey (HMAC-SHA256)", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40 }), url, params, (key, u, p) => {
        expect(client.twilioSignature(key, u, p, 'sha256')).toBe(
          twilio.getExpectedTwilioSignature(key, u, p, twilio.HMAC_SHA256),
        );
      }),
    );
  });
});

/** Compiles only when A and B are assignable both ways (checked by `npm run typecheck`). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const agree = <T extends true>(value: T) => value;

describe("the client's answer types", () => {
  it('are the shapes lib/shared/api-types.ts defines', () => {
    expect(agree<Same<client.SendMessageResult, shared.SendMessageResult>>(true)).toBe(true);
    expect(agree<Same<client.CallMessagesPage, shared.CallMessagesPage>>(true)).toBe(true);
    expect(agree<Same<client.CallMessagePageItem, shared.CallMessagePageItem>>(true)).toBe(true);
    expect(agree<Same<client.LegState, shared.LegState>>(true)).toBe(true);
    expect(agree<Same<client.LegEvent, LegEvent>>(true)).toBe(true);
  });
});

describe("the client's network errors", () => {
  it('name the URL that could not be reached (fetch alone says "fetch failed")', async () => {
    const { createServer } = await import('node:net');
    // A port that was just free: nothing listens on it.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const baseUrl = `http://127.0.0.1:${port}`;
    const err = (await client.callMessages({ baseUrl, apiKey: 'k.s' }, 'CA' + '0'.repeat(32)).then(
      () => undefined,
      (e: unknown) => e,
    )) as client.UnreachableError;
    expect(err).toBeInstanceOf(client.UnreachableError);
    expect(err.url).toBe(`${baseUrl}/backend-messages`);
    expect(err.message).toBe(`Could not reach ${baseUrl}/backend-messages (ECONNREFUSED)`);
  });
});
