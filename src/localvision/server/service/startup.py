"""The service's start-up policy, applied by every way of starting it: `localvision serve`, a
direct `create_app` (an embedding, the tests) and a Ray Serve replica (`serve --ray`, KubeRay's
`app_builder`), since each builds its app with `create_app`.

- `check_auth` (when the app is built): auth may be off on an address other machines can reach
  only when that was asked for in so many words (`insecure_no_auth`, the CLI's
  `--insecure-no-auth`), never by a quiet setting alone; then it is said loudly in the log.
- `limit_malloc_arenas` (when the app is built): glibc's malloc arenas held to two.
- `welcome` (once the history database is open, at the start of the app's lifespan): with auth
  on, the first admin and API key the settings ask for (first_start.py), and a line saying who
  can get in, or how to make someone who can.
"""

from __future__ import annotations

import ctypes
import logging

from ...auth import AuthStore, auth_enabled, is_loopback
from ...config import Settings
from ...errors import InvalidArgument, UserExists

log = logging.getLogger("localvision.server")

M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h
ARENAS = 2


def check_auth(settings: Settings, insecure_no_auth: bool = False) -> None:
    """Refuses auth off on a non-loopback address unless `insecure_no_auth` (400 usage)."""
    if settings.auth != "off" or is_loopback(settings.host):
        return
    if not insecure_no_auth:
        raise InvalidArgument(
            f"Refusing to serve {settings.host} without auth: it can be reached from other "
            "machines.",
            hint="leave auth on (create a key: localvision keys create), or pass "
            "--insecure-no-auth if you really mean it",
        )  # fmt: skip
    log.warning(
        "authentication is OFF on %s (--insecure-no-auth): anyone who can reach this address "
        "can classify images and read the whole history.", settings.host,
    )  # fmt: skip


def limit_malloc_arenas() -> None:
    """glibc gives each decoding thread its own malloc arena, and freed image buffers scattered
    over many arenas keep the server's RSS high; two arenas hold it flat at no measurable cost.
    Process-wide, and idempotent."""
    try:
        ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, ARENAS)
    except (OSError, AttributeError):
        pass  # not glibc


def welcome(settings: Settings, engine) -> list[str]:
    """With auth on: the first admin and key the settings ask for, and who can get in, logged
    (and returned, for tests). Runs in a worker thread: it writes to the database."""
    if not auth_enabled(settings.auth, settings.host):
        return []
    from ... import first_start

    store = AuthStore(engine)
    try:
        said = first_start.provision(store, settings)
    except UserExists:  # another replica made the first admin at this very moment
        said = []
    lines = ["auth is on: requests need an API key or a web sign-in.", *said]
    for line in lines:
        log.warning(line) if line.startswith("warning:") else log.info(line)
    if store.count_users() == 0 and store.count_keys() == 0:
        empty = ("warning: there are no users or API keys yet, so nobody can get in. Create some "
                 f"with {first_start.how_to_get_in()}.")  # fmt: skip
        log.warning(empty)
        lines.append(empty)
    return lines
