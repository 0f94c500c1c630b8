// SDP for the sandbox's Voice SDK gateway. The sandbox carries no media: it only has to give the
// browser's RTCPeerConnection a description it accepts, so the call reaches `open` (signaling state
// `stable`). An answer built from the browser's offer, and an offer for incoming calls, both with
// fresh ICE credentials and a made-up DTLS fingerprint (no ICE candidates: nothing connects).
import { randomBytes } from 'node:crypto';

const CRLF = '\r\n';

function iceCredentials() {
  // ice-ufrag 4-256 chars, ice-pwd 22-256 chars, from the ice-char set (RFC 8839).
  return {
    ufrag: randomBytes(6).toString('base64url').replace(/[-_]/g, 'x'),
    pwd: randomBytes(18).toString('base64url').replace(/[-_]/g, 'x'),
  };
}

function fingerprint() {
  return [...randomBytes(32)].map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');
}

function sessionLines(): string[] {
  const id = BigInt('0x' + randomBytes(7).toString('hex')).toString();
  return ['v=0', `o=- ${id} 2 IN IP4 127.0.0.1`, 's=-', 't=0 0'];
}

/** A media section's lines: its `m=` line first, then its attributes. */
type MediaSection = [mLine: string, ...attributes: string[]];

/** Splits an SDP into its session part and its media sections (each starting with `m=`). */
function sections(sdp: string): { session: string[]; media: MediaSection[] } {
  const lines = sdp.split(/\r?\n/).filter((l) => l.length > 0);
  const session: string[] = [];
  const media: MediaSection[] = [];
  for (const line of lines) {
    const current = media.at(-1);
    if (line.startsWith('m=')) media.push([line]);
    else if (current) current.push(line);
    else session.push(line);
  }
  return { session, media };
}

const REVERSE_DIRECTION: Record<string, string> = {
  sendrecv: 'sendrecv',
  sendonly: 'recvonly',
  recvonly: 'sendonly',
  inactive: 'inactive',
};

/**
 * An answer to the browser's offer: per audio section, Opus (else PCMU/PCMA) plus
 * telephone-event, the offer's mid, `a=setup:active`, rtcp-mux, the reversed direction.
 * Other media kinds are refused (port 0), as an audio-only endpoint does.
 */
export function answerFromOffer(offer: string): string {
  const { session, media } = sections(offer);
  const { ufrag, pwd } = iceCredentials();
  const print = fingerprint();
  const out = sessionLines();
  const bundle = session.find((l) => l.startsWith('a=group:BUNDLE'));
  if (bundle) out.push(bundle);
  out.push('a=msid-semantic: WMS sandbox');
  for (const lines of media) {
    const [m, , proto, ...payloads] = lines[0].split(' ');
    const mid = lines.find((l) => l.startsWith('a=mid:'));
    if (m !== 'm=audio') {
      out.push(`${m} 0 ${proto} ${payloads[0] ?? '0'}`, 'c=IN IP4 0.0.0.0', ...(mid ? [mid] : []), 'a=inactive');
      continue;
    }
    const rtpmaps = new Map<string, { name: string; rate: string }>();
    for (const l of lines) {
      // Every group matches at least one character, so all three are set exactly when the line matches.
      const [, pt, name, rate] = /^a=rtpmap:(\d+) ([^/]+)\/(\d+)/.exec(l) ?? [];
      if (pt && name && rate) rtpmaps.set(pt, { name: name.toLowerCase(), rate });
    }
    const named = (name: string, rate?: string) =>
      payloads.find(
        (pt) =>
          (rtpmaps.get(pt)?.name === name && (!rate || rtpmaps.get(pt)?.rate === rate)) ||
          (!rtpmaps.has(pt) && name === 'pcmu' && pt === '0'),
      );
    const codec = named('opus') ?? named('pcmu') ?? named('pcma') ?? payloads[0];
    // DTMF at the codec's clock rate (RFC 4733), as Twilio pairs them.
    const dtmf = named('telephone-event', (codec === undefined ? undefined : rtpmaps.get(codec)?.rate) ?? '8000');
    const chosen = dtmf ? [codec, dtmf] : [codec];
    const reversed = lines.map((l) => REVERSE_DIRECTION[l.slice(2)]).find((r) => r !== undefined) ?? 'sendrecv';
    out.push(`m=audio 9 ${proto} ${chosen.join(' ')}`, 'c=IN IP4 0.0.0.0', 'a=rtcp:9 IN IP4 0.0.0.0');
    out.push(`a=ice-ufrag:${ufrag}`, `a=ice-pwd:${pwd}`, `a=fingerprint:sha-256 ${print}`, 'a=setup:active');
    if (mid) out.push(mid);
    out.push(`a=${reversed}`, 'a=rtcp-mux');
    for (const pt of chosen) {
      for (const l of lines) if (l.startsWith(`a=rtpmap:${pt} `) || l.startsWith(`a=fmtp:${pt} `)) out.push(l);
    }
    if (reversed.startsWith('send')) out.push(`a=ssrc:${randomBytes(4).readUInt32BE()} cname:sandbox`);
  }
  return out.join(CRLF) + CRLF;
}

/** An offer the gateway sends with an incoming call: one audio section, Opus, PCMU and DTMF. */
export function incomingCallOffer(): string {
  const { ufrag, pwd } = iceCredentials();
  return (
    [
      ...sessionLines(),
      'a=group:BUNDLE 0',
      'a=msid-semantic: WMS sandbox',
      'm=audio 9 UDP/TLS/RTP/SAVPF 111 0 101',
      'c=IN IP4 0.0.0.0',
      'a=rtcp:9 IN IP4 0.0.0.0',
      `a=ice-ufrag:${ufrag}`,
      `a=ice-pwd:${pwd}`,
      `a=fingerprint:sha-256 ${fingerprint()}`,
      'a=setup:actpass',
      'a=mid:0',
      'a=sendrecv',
      'a=rtcp-mux',
      'a=rtpmap:111 opus/48000/2',
      'a=fmtp:111 minptime=10;useinbandfec=1',
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:101 telephone-event/8000',
      `a=ssrc:${randomBytes(4).readUInt32BE()} cname:sandbox`,
    ].join(CRLF) + CRLF
  );
}
