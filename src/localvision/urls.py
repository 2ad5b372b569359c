"""URLs fit to show: a URL's password never reaches a log line, an error message or a page.

One place for it, without SQLAlchemy (the video sources and the cameras the service watches
use it, where a camera's URL is often rtsp://user:password@host/...):

    redact("rtsp://u:secret@cam:554/x")   -> "rtsp://u:***@cam:554/x"
    scrub("cannot open rtsp://u:secret@cam/x: secret refused", url)
                                          -> "cannot open rtsp://u:***@cam/x: *** refused"

(Database URLs are shown by dbwait.where / cli_admin, which parse them as SQLAlchemy does.)
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit, urlunsplit

MASK = "***"


def redact(url: str) -> str:
    """The URL with its password as ***; the URL itself when it has none. The host and port
    are kept as written (not re-parsed: a port that is not a number must not raise here)."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced [ in the host: show nothing of it
        return "(a URL that cannot be read)"
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{hostport}"))


def password(url: str) -> str | None:
    """The URL's password as written (None when it has none)."""
    try:
        userinfo, at, _ = urlsplit(url).netloc.rpartition("@")
    except ValueError:
        return None
    if not at or ":" not in userinfo:
        return None
    return userinfo.split(":", 1)[1] or None


def scrub(text: str | None, url: str) -> str | None:
    """`text` (a message from FFmpeg, a driver, ours) with the URL shown redacted and its
    password, as written or percent-decoded, replaced by ***."""
    if not text:
        return text
    text = text.replace(url, redact(url))
    secret = password(url)
    for form in {secret, unquote(secret)} if secret else ():
        text = text.replace(form, MASK)
    return text
