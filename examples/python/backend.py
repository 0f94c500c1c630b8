#!/usr/bin/env python3
"""A backend for Call Message Events in Python, with the standard library only.

Two things a backend does, in ~150 lines:

  * receive the events the functions forward to APP_WEBHOOK_URL, verified as the Standard Webhooks
    specification says (webhook-id, webhook-timestamp, webhook-signature; HMAC-SHA256 with the
    key after `whsec_`), once per webhook-id, answering {"reply": {"pong": ...}} to {"ping": ...};
  * send a message to a call (or read its history) with a backend key (BACKEND_API_KEYS).

    APP_WEBHOOK_SECRET=whsec_... PORT=3004 python3 backend.py serve
    CME_FUNCTIONS_URL=https://cme-1234-dev.twil.io CME_BACKEND_KEY=<id>.<secret> \\
        python3 backend.py send --call CA... '{"hello": "from python"}'
    ... python3 backend.py history CA...

The pip package `standardwebhooks` verifies the same headers; this file shows there is no magic.
"""
import base64
import hashlib
import hmac
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE_SECONDS = 300
MIN_KEY_BYTES = 32
MAX_BODY_BYTES = 4 * 1024 * 1024


def webhook_keys(secrets):
    """The keys of one or more `whsec_<base64>` secrets (space-separated while rotating)."""
    keys = []
    for secret in secrets.split():
        if not secret.startswith("whsec_"):
            raise ValueError("a webhook secret starts with whsec_")
        key = base64.b64decode(secret[len("whsec_"):], validate=True)
        if len(key) < MIN_KEY_BYTES:
            raise ValueError("a webhook key has at least %d bytes" % MIN_KEY_BYTES)
        keys.append(key)
    if not keys:
        raise ValueError("no webhook secret")
    return keys


def verify(keys, headers, body, now=None):
    """True when `body` (the raw bytes) carries a valid Standard Webhooks signature made with one of `keys`."""
    msg_id = headers.get("webhook-id")
    stamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    # isascii: str.isdigit() also takes digits such as "²" that int() refuses.
    if not msg_id or not stamp or not signatures or not (stamp.isascii() and stamp.isdigit()) or len(stamp) > 12:
        return False
    if abs((time.time() if now is None else now) - int(stamp)) > TOLERANCE_SECONDS:
        return False
    signed = msg_id.encode() + b"." + stamp.encode() + b"." + body
    expected = [base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()) for key in keys]
    # As bytes: compare_digest raises TypeError for a str with non-ASCII characters (a stranger's header).
    given = [part[3:].encode() for part in signatures.split(" ") if part.startswith("v1,")]
    return any(hmac.compare_digest(g, e) for g in given for e in expected)


class Events(BaseHTTPRequestHandler):
    keys = []
    answered = {}  # webhook-id -> the answer given (use your database: it must survive a restart)
    refused = 0
    lock = threading.Lock()

    def log_message(self, fmt, *args):  # one line per event instead, below
        pass

    def answer(self, status, value):
        text = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def do_GET(self):
        if self.path != "/stats":
            return self.answer(404, {"error": "not found"})
        with Events.lock:
            return self.answer(200, {"received": sorted(Events.answered), "refused": Events.refused})

    def do_POST(self):
        if self.path != "/cme-events":
            return self.answer(404, {"error": "not found"})
        length = self.headers.get("Content-Length") or "0"
        if not (length.isascii() and length.isdigit()) or int(length) > MAX_BODY_BYTES:
            return self.answer(413 if length.isascii() and length.isdigit() else 400, {"error": "length"})
        length = int(length)
        body = self.rfile.read(length)
        headers = {name.lower(): value for name, value in self.headers.items()}
        if not verify(Events.keys, headers, body):
            with Events.lock:
                Events.refused += 1
            return self.answer(400, {"error": "signature"})
        msg_id = headers["webhook-id"]
        with Events.lock:
            if msg_id in Events.answered:  # a redelivery: answer as the first time
                return self.answer(200, Events.answered[msg_id])
        try:
            event = json.loads(body)
        except (ValueError, RecursionError):
            # Signed, so it is our JSON; Python's parser stops at ~1,000 levels of nesting and an SDK
            # may send more. Acknowledge it anyway (a 5xx would only make it come again).
            event = None
        reply = {}
        if isinstance(event, dict) and event.get("type") == "call.message":
            content = event.get("content")
            if isinstance(content, dict) and isinstance(content.get("ping"), str):
                reply = {"reply": {"pong": content["ping"][:100]}}
        with Events.lock:
            Events.answered[msg_id] = reply
        print("event %s %s" % (msg_id, "(unparsed)" if event is None else event.get("type")), flush=True)
        return self.answer(200, reply)


def call_functions(path, params):
    """POSTs form parameters to a backend-key route; returns (status, parsed answer)."""
    url = os.environ.get("CME_FUNCTIONS_URL", "http://localhost:3000").rstrip("/") + path
    request = urllib.request.Request(
        url,
        data=urllib.parse.urlencode(params).encode(),
        headers={"Authorization": "Bearer " + os.environ["CME_BACKEND_KEY"]},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as res:
            return res.status, json.loads(res.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def main(argv):
    if argv[:1] == ["serve"]:
        Events.keys = webhook_keys(os.environ["APP_WEBHOOK_SECRET"])
        server = ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("PORT", "3004"))), Events)
        print("listening on http://127.0.0.1:%d/cme-events" % server.server_address[1], flush=True)
        server.serve_forever()
    elif len(argv) == 4 and argv[0] == "send" and argv[1] in ("--call", "--identity"):
        target = "callSid" if argv[1] == "--call" else "identity"
        params = {target: argv[2], "content": argv[3], "idempotencyKey": "py-" + os.urandom(8).hex()}
        status, answer = call_functions("/backend-send", params)
        print(json.dumps({"status": status, "answer": answer}), flush=True)
        return 0 if status < 300 else 1
    elif len(argv) == 2 and argv[0] == "history":
        status, answer = call_functions("/backend-messages", {"callSid": argv[1], "pageSize": "100"})
        print(json.dumps({"status": status, "answer": answer}), flush=True)
        return 0 if status < 300 else 1
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
