"""URLs fit to show: a URL's secrets never reach a log line, an error message or a page.

One place for it, without SQLAlchemy (the video sources, the cameras the service watches and
its webhook use it). A URL's secrets are

- the password of its user info: rtsp://user:PASSWORD@host/...
- the value of a credential-like key in its query or fragment (case ignored):
  ?user=admin&pwd=VALUE, ?access_token=VALUE, #access_token=VALUE, X-Amz-Signature=VALUE ...
- the token in the path of a chat webhook: hooks.slack.com/services/T../B../TOKEN,
  discord.com/api/webhooks/ID/TOKEN

    redact("rtsp://u:secret@cam:554/x")            -> "rtsp://u:***@cam:554/x"
    redact("http://cam/v.cgi?user=admin&pwd=p")    -> "http://cam/v.cgi?user=admin&pwd=***"
    scrub("cannot open rtsp://u:secret@cam/x: secret refused", url)
                                                   -> "cannot open rtsp://u:***@cam/x: *** refused"

The URL is split with RFC 3986's own regular expression (its appendix B), which matches any
string: a URL that urllib refuses (an unclosed [ in the host, a port that is not a number) is
still shown, with its secrets masked and the rest as written. Masking more than needed is the
safe side: a key that merely looks like a credential loses its value in the display only.

(Database URLs are shown by dbwait.where / cli/admin.py, which parse them as SQLAlchemy does.)
"""

from __future__ import annotations

import re
from urllib.parse import quote, quote_plus, unquote, unquote_plus

MASK = "***"

# RFC 3986, appendix B: scheme, authority, path, query, fragment. It never fails to match.
_URL = re.compile(r"^(?:([^:/?#]+):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$", re.S)

_PAIR = re.compile(r"([^&?=]*)=([^&]*)")  # key=value in a query or fragment

# A key is a credential when its last word is one of these (user_password, X-Amz-Signature,
# not token_type) or, written as one word, it ends with one of the _ENDINGS (accessToken,
# clientSecret, apiKey).
_WORDS = frozenset(
    "pw pwd pass passwd password passphrase token key apikey auth authorization sig signature "
    "secret credential credentials".split()
)
_ENDINGS = (
    "token", "secret", "password", "passwd", "passphrase", "signature", "credential",
    "credentials", "apikey", "accesskey", "privatekey", "secretkey", "authkey",
)  # fmt: skip

# Chat webhooks whose URL is the credential: (host, or a host it is under; the path, whose
# group 1 is the secret token). Their workspace, channel and webhook ids stay readable.
_WEBHOOK_PATHS = (
    ("hooks.slack.com", re.compile(
        r"^/(?:services/[^/]+/[^/]+|workflows/[^/]+/[^/]+/[^/]+|triggers/[^/]+/[^/]+)/([^/]+)")),
    ("discord.com", re.compile(r"^/api(?:/v\d+)?/webhooks/[^/]+/([^/]+)")),
    ("discordapp.com", re.compile(r"^/api(?:/v\d+)?/webhooks/[^/]+/([^/]+)")),
)  # fmt: skip


def is_secret_key(key: str) -> bool:
    """Whether a query or fragment key (as written, percent-encoded or not) names a credential."""
    words = [w for w in re.split(r"[^a-z0-9]+", unquote_plus(key).strip().lower()) if w]
    return bool(words) and (words[-1] in _WORDS or "".join(words).endswith(_ENDINGS))


def _pairs(text: str, offset: int) -> list[tuple[int, int]]:
    """Spans of the credential values of key=value pairs in a query or fragment. A pair starts
    at the beginning, after & or after ? (a fragment such as #/page?token=x, a query that
    carries another URL); a value runs to the next & (it may hold a ?)."""
    spans = []
    for start in [0] + [m.end() for m in re.finditer(r"[&?]", text)]:
        m = _PAIR.match(text, start)
        if m and m.group(2) and is_secret_key(m.group(1)):
            spans.append((offset + m.start(2), offset + m.end(2)))
    return spans


def _password(netloc: str, offset: int) -> list[tuple[int, int]]:
    userinfo, at, _ = netloc.rpartition("@")  # a password may hold an @: the host follows the last
    if not at or ":" not in userinfo:
        return []
    start = userinfo.index(":") + 1
    return [(offset + start, offset + len(userinfo))] if start < len(userinfo) else []


def _webhook_token(netloc: str, path: str, offset: int) -> list[tuple[int, int]]:
    host = netloc.rpartition("@")[2].split(":", 1)[0].lower().rstrip(".")
    for domain, pattern in _WEBHOOK_PATHS:
        if host == domain or host.endswith("." + domain):
            m = pattern.match(path)
            return [(offset + m.start(1), offset + m.end(1))] if m else []
    return []


def _spans(url: str) -> list[tuple[int, int]]:
    """Where the URL's secrets are, as (start, end) in the string, in order, not overlapping."""
    m = _URL.match(url)
    spans = []
    if m.group(2) is not None:
        spans += _password(m.group(2), m.start(2))
        spans += _webhook_token(m.group(2), m.group(3), m.start(3))
    for group in (4, 5):  # the query, the fragment
        if m.group(group) is not None:
            spans += _pairs(m.group(group), m.start(group))
    merged: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def redact(url: str) -> str:
    """The URL with each secret (password, credential values, webhook token) as ***, the rest
    as written; the URL itself when it has none. Never raises."""
    out, last = [], 0
    for a, b in _spans(url):
        out += [url[last:a], MASK]
        last = b
    return "".join(out) + url[last:]


def secrets(url: str) -> list[str]:
    """The URL's secret values, as written (percent-encoded where the URL encodes them)."""
    return [url[a:b] for a, b in _spans(url)]


def _forms(secret: str) -> set[str]:
    """The ways a secret may be written in a message: as in the URL, percent-decoded (also with
    + as a space, as a query is read), and encoded again as a client such as httpx sends it."""
    plain = unquote(secret)
    return {secret, plain, unquote_plus(secret), quote(plain, safe=""), quote_plus(plain),
            quote(plain, safe="!$&'()*+,;=:@")} - {""}  # fmt: skip


def scrub(text: str | None, url: str) -> str | None:
    """`text` (a message from FFmpeg, httpx, a driver, ours) with the URL shown redacted and
    each of its secrets, as written or percent-decoded, replaced by ***."""
    if not text or not url:
        return text
    forms = sorted(set().union(*(_forms(s) for s in secrets(url))), key=len, reverse=True)
    pieces = text.split(url)  # the URL as a whole is shown redacted, its other parts untouched
    for form in forms:  # a longer form before a part of it
        pieces = [piece.replace(form, MASK) for piece in pieces]
    return redact(url).join(pieces)
