"""Webhooks the service sends (a stream's segment_start: streams/cameras.py), their signature,
and the check a receiver makes of it: signing and verifying live here together, so they cannot
drift apart.

With a secret (LOCALVISION_STREAM_WEBHOOK_SECRET) each POST carries

    X-Localvision-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">

the scheme of Stripe and Slack. The timestamp is inside the signed bytes, so a body captured
once cannot be sent again later with a fresh time: a receiver that rejects old timestamps is
safe from replays, and one that recomputes the HMAC is safe from tampering.

How a receiver checks a request (what `verify` does; any language can do the same):

1. Read the raw body bytes, before any JSON parsing (a re-serialised body does not match).
2. Split the header on "," into key=value pairs: `t` is the timestamp, each `v1` a signature.
3. Compute HMAC-SHA256 with the shared secret over the bytes `<t>` + `.` + `<body>`, as hex.
4. Compare it with each `v1` in constant time (`hmac.compare_digest`); none equal: reject.
5. Reject when |now - t| > a tolerance (300 s here): an old, replayed request.

In Python, with this package installed:

    from localvision.webhooks import verify

    def handle(headers, body: bytes):
        if not verify(SECRET, headers.get("X-Localvision-Signature", ""), body):
            return 401  # forged, tampered with, or replayed
        event = json.loads(body)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from . import __version__

HEADER = "X-Localvision-Signature"
TOLERANCE_S = 300  # Stripe's default: the clocks of sender and receiver may differ by minutes
TIMEOUT_S = 5.0


def _digest(secret: str | bytes, t: int, body: bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, str(t).encode() + b"." + body, hashlib.sha256).hexdigest()


def sign(secret: str | bytes, body: bytes, t: int | None = None) -> str:
    """The signature header's value for `body` sent at unix time `t` (default: now)."""
    t = int(time.time()) if t is None else int(t)
    return f"t={t},v1={_digest(secret, t, body)}"


def _parse(header: str) -> tuple[int | None, list[str]]:
    """The header's timestamp (None when missing or not a number) and its v1 signatures."""
    t, signatures = None, []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit():
            t = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    return t, signatures


def verify(
    secret: str | bytes, header: str | None, body: bytes, tolerance_s: float = TOLERANCE_S,
    now: float | None = None,
) -> bool:  # fmt: skip
    """Whether `header` (X-Localvision-Signature) signs `body` with `secret`, at a time within
    `tolerance_s` seconds of `now` (default: the clock). False for a missing or malformed
    header, a wrong signature (another secret, a changed body or timestamp) and an old or
    future timestamp (a replay). Several v1 values may be given (while a secret is rotated):
    one matching is enough."""
    t, signatures = _parse(header or "")
    if t is None or not signatures:
        return False
    now = time.time() if now is None else now
    if abs(now - t) > tolerance_s:
        return False
    expected = _digest(secret, t, body).encode()
    # Bytes: compare_digest refuses a str with non-ASCII characters (a header may hold any).
    # Every candidate is compared, each in constant time: no early exit says which was close.
    matches = [hmac.compare_digest(expected, s.encode()) for s in signatures]
    return any(matches)


class Webhook:
    """POSTs a JSON event to the configured URL (signed, as above, when there is a secret)."""

    def __init__(self, url: str, secret: str = ""):
        import httpx

        self.url, self.secret = url, secret.encode()
        self.client = httpx.AsyncClient(timeout=TIMEOUT_S, follow_redirects=False)

    def request(self, event: str, payload: dict) -> tuple[bytes, dict[str, str]]:
        """The body and headers of one POST of `event` (signed at this moment)."""
        body = json.dumps(payload, ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"localvision/{__version__}",
            "X-Localvision-Event": event,
        }
        if self.secret:
            headers[HEADER] = sign(self.secret, body)
        return body, headers

    async def send(self, event: str, payload: dict) -> None:
        body, headers = self.request(event, payload)
        response = await self.client.post(self.url, content=body, headers=headers)
        response.raise_for_status()

    async def close(self) -> None:
        await self.client.aclose()
