// Points the standard `twilio` client straight at the sandbox's REST server instead of
// https://<product>.twilio.com, for code outside the functions (tests, the bench, `npm run wire`
// with TWILIO_SANDBOX_URL) that holds a client of its own. The functions never use it: they reach
// the sandbox at Twilio's hostnames through its proxy (twilio-proxy.ts).
import twilio from 'twilio';

type RequestOptions<T> = import('twilio/lib/base/RequestClient').RequestOptions<T>;

const TWILIO_HOST = /^https:\/\/([a-z0-9-]+)\.twilio\.com(?=\/|$)/i;

/** Rewrites `https://api.twilio.com/2010-04-01/...` to `<base>/api/2010-04-01/...`. */
export function rewriteTwilioUrl(uri: string, baseUrl: string): string {
  return uri.replace(TWILIO_HOST, (_m, product: string) => `${baseUrl.replace(/\/+$/, '')}/${product.toLowerCase()}`);
}

export class SandboxRequestClient extends twilio.RequestClient {
  constructor(
    private readonly baseUrl: string,
    opts?: ConstructorParameters<typeof twilio.RequestClient>[0],
  ) {
    super(opts);
  }

  override request<TData>(opts: RequestOptions<TData>) {
    return super.request<TData>({ ...opts, uri: rewriteTwilioUrl(opts.uri, this.baseUrl) });
  }
}
