"""Webhook signatures (src/localvision/webhooks.py): the service's sender POSTs to a real HTTP
receiver on loopback, which checks the X-Localvision-Signature header both with
`localvision.webhooks.verify` and with the docs' few-line procedure (run from
docs/reference/http.md itself, so the documentation cannot drift from the code). A replayed
request (an old timestamp, or a fresh timestamp on an old signature) and a tampered body are
refused."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from localvision.webhooks import HEADER, Webhook, sign, verify

SECRET = "whsec-test-secret"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "reference" / "http.md"
README = DOCS.read_text("utf-8")  # the page that documents the webhook


def readme_verifier():
    """The README's standalone `verified(secret, header, body)`, as printed there."""
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    (code,) = [b for b in blocks if "def verified(" in b]
    namespace: dict = {}
    exec(re.sub(r"(?m)^  ", "", code), namespace)  # the block is indented in a list item
    return namespace["verified"]


class Receiver:
    """A real HTTP server on loopback that checks each POST's signature the documented ways:
    204 when both checks pass, 401 otherwise; it keeps every request and both verdicts."""

    def __init__(self):
        self.posts: list[dict] = []
        received, verified = self.posts, readme_verifier()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                header = self.headers.get(HEADER, "")
                ok = (verify(SECRET, header, body), verified(SECRET.encode(), header, body))
                received.append({"headers": dict(self.headers), "body": body, "ok": ok})
                self.send_response(204 if all(ok) else 401)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def post(self, body: bytes, signature: str) -> int:
        """Send a request as an attacker would: raw bytes, any header."""
        headers = {"Content-Type": "application/json", HEADER: signature}
        return httpx.post(self.url, content=body, headers=headers).status_code

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(scope="module")
def delivered(receiver) -> dict:
    """One webhook the service's sender delivered (a segment_start as cameras.py sends it)."""
    async def send():
        hook = Webhook(receiver.url, SECRET)
        try:
            await hook.send("segment_start", {"event": "segment_start", "stream": {"id": "s1"},
                                              "segment": {"label": "espresso"}})  # fmt: skip
        finally:
            await hook.close()

    asyncio.run(send())  # raises unless the receiver answered 204: both checks passed
    return receiver.posts[-1]


def test_a_delivered_webhook_verifies_with_the_documented_procedure(delivered):
    assert delivered["ok"] == (True, True)
    header = delivered["headers"][HEADER]
    m = re.fullmatch(r"t=(\d+),v1=([0-9a-f]{64})", header)
    assert m and abs(time.time() - int(m.group(1))) < 60, header
    assert delivered["headers"]["X-Localvision-Event"] == "segment_start"


def test_a_replayed_webhook_is_refused(receiver, delivered):
    body, header = delivered["body"], delivered["headers"][HEADER]
    t = int(header.split(",")[0][2:])
    # the captured request, later: within the tolerance it is accepted, past it refused
    assert verify(SECRET, header, body, now=t + 299)
    assert not verify(SECRET, header, body, now=t + 301)
    assert not verify(SECRET, header, body, tolerance_s=60, now=t + 61)
    assert not verify(SECRET, header, body, now=t - 301)  # from the future
    # sent again with its own, old timestamp (a body signed ten minutes ago)
    assert receiver.post(body, sign(SECRET, body, t=int(time.time()) - 600)) == 401
    # sent again with a fresh timestamp on the captured signature: the time is signed too
    fresh = re.sub(r"^t=\d+", f"t={t + 5}", header)  # well within the tolerance
    assert fresh != header and receiver.post(body, fresh) == 401
    assert receiver.posts[-1]["ok"] == (False, False)
    assert receiver.post(body, sign(SECRET, body)) == 204  # the same body, signed now: fine


def test_a_tampered_body_is_refused(receiver, delivered):
    body, header = delivered["body"], delivered["headers"][HEADER]
    tampered = body.replace(b"espresso", b"intruder")
    assert tampered != body and receiver.post(tampered, header) == 401
    assert receiver.posts[-1]["ok"] == (False, False)
    assert not verify(SECRET, header, body + b" ")


@pytest.mark.parametrize(
    "header",
    [None, "", "garbage", "t=,v1=", "v1=abc", "t=123", "t=abc,v1=00", "sha256=00",
     "t=\u0661\u0662,v1=00", "t=1,v1=\u00e9\u00e9"],
)  # fmt: skip
def test_a_missing_or_malformed_header_is_refused_without_raising(header):
    assert verify(SECRET, header, b"{}", now=1) is False


def test_another_secret_fails_and_any_of_several_signatures_may_match():
    body, t = b'{"a": 1}', 1_800_000_000
    good = sign(SECRET, body, t=t)
    assert verify(SECRET, good, body, now=t) and verify(SECRET.encode(), good, body, now=t)
    assert not verify("another-secret", good, body, now=t)
    other = sign("old-secret", body, t=t).split(",")[1]
    assert verify(SECRET, f"t={t},{other},{good.split(',')[1]}", body, now=t)  # rotation
    assert not verify(SECRET, f"t={t},{other}", body, now=t)
