"""What guards POST /login (routes/login.py) against guessing and floods; the Gate holds both.

- `SignInThrottle`: sign-in attempts per user name and per client address in a sliding window.
  An attempt is *reserved* before its password is checked, in the same locked step as the check
  of the count, and settled afterwards: a failure keeps it, a success or an attempt whose password
  was never judged (database down, server busy) gives it back. Counting only settled failures let
  a parallel burst pass the check before any of it had failed (25 parallel guesses were all
  checked against a limit of 5). A reservation rather than "one attempt in flight per name"
  because a person behind a NAT shares an address with others: they may sign in side by side,
  up to the address's limit, and a burst is cut at the limit whatever the order of arrival.
- `PasswordChecks`: at most `password_checks` Argon2id verifications (64 MiB each) at once in
  this process. Without it every sign-in in flight held 64 MiB (up to the 40 threads of the
  thread pool: 2.5 GiB) before any throttle had counted it: a memory amplifier open to anyone
  who can reach the page. More wait for a slot up to `password_check_wait_s`, then get 503
  `sign_in_busy` with Retry-After (the server is busy, the client did nothing wrong).

API keys need neither: only their SHA-256 is stored (auth.py), so a flood of made-up keys costs
one indexed lookup each, and counts against its address's rate limit (server/guards/ratelimit.py).
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import deque
from contextlib import asynccontextmanager
from typing import Callable

from ...errors import SignInBusy, TooManyAttempts

# 5 failures in 5 minutes per user name: a person who mistypes gets several tries; a guesser
# gets about one a minute. An address gets more (people behind one NAT share it) but not many
# more, so trying one password on many names is slow too.
MAX_FAILURES = 5
MAX_FAILURES_PER_ADDRESS = 20
FAILURE_WINDOW_S = 300.0
# Retry-After while the limit is held by attempts still being checked: they settle within a
# password check or two (under a second), then the answer names the real wait.
IN_FLIGHT_RETRY_S = 2
# A spray of made-up names must not grow the table for ever: past this many, idle keys go.
MAX_KEYS = 10_000


class _Count:
    """One key's failures in the window (times) and its attempts being checked now."""

    __slots__ = ("failures", "pending")

    def __init__(self):
        self.failures: deque[float] = deque()
        self.pending = 0


class SignInThrottle:
    """Sign-in attempts per user name and per client address; see the module docstring."""

    def __init__(
        self, per_name: int = MAX_FAILURES, per_address: int = MAX_FAILURES_PER_ADDRESS,
        window: float = FAILURE_WINDOW_S, clock: Callable[[], float] = time.monotonic,
    ):  # fmt: skip
        self.limits = {"name": per_name, "address": per_address}
        self.window, self.clock = window, clock
        self._counts: dict[tuple[str, str], _Count] = {}
        self._lock = threading.Lock()

    def reserve(self, name: str, address: str) -> Attempt:
        """Take one attempt for `name` and `address`, or raise TooManyAttempts (with the seconds
        until one is free) when either has no room. Settle what it returns exactly once."""
        keys = (("name", name), ("address", address))
        with self._lock:
            now = self.clock()
            if len(self._counts) > MAX_KEYS:
                self._forget_idle(now)
            counts = [self._count(key, now) for key in keys]
            waits = [self._wait(key[0], c, now) for key, c in zip(keys, counts)]
            if any(w is not None for w in waits):
                raise self._refusal(keys, counts, waits)
            for c in counts:
                c.pending += 1
        return Attempt(self, keys)

    def failures(self, kind: str, key: str) -> int:
        """Failures in the window for one key (kind: name or address)."""
        with self._lock:
            count = self._counts.get((kind, key))
            return len(self._expire(count, self.clock())) if count else 0

    # --- inside the lock ---
    def _count(self, key: tuple[str, str], now: float) -> _Count:
        count = self._counts.setdefault(key, _Count())
        self._expire(count, now)
        return count

    def _expire(self, count: _Count, now: float) -> deque[float]:
        while count.failures and count.failures[0] <= now - self.window:
            count.failures.popleft()
        return count.failures

    def _wait(self, kind: str, count: _Count, now: float) -> float | None:
        """Seconds until `count` has room for one more attempt; None when it has room now."""
        limit = self.limits[kind]
        if len(count.failures) + count.pending < limit:
            return None
        room = limit - count.pending  # failures that may stay while the pending ones do
        if 0 < room <= len(count.failures):
            return count.failures[-room] + self.window - now
        return float(IN_FLIGHT_RETRY_S)  # held by attempts still being checked

    def _refusal(self, keys, counts, waits) -> TooManyAttempts:
        wait = max(1, math.ceil(max(w for w in waits if w is not None)))
        failed = any(
            w is not None and len(c.failures) >= self.limits[kind]
            for (kind, _), c, w in zip(keys, counts, waits)
        )
        what = "failed sign-ins" if failed else "sign-in attempts at once"
        return TooManyAttempts(f"Too many {what}. Try again in {wait} seconds.", retry_after=wait)

    def _forget_idle(self, now: float) -> None:
        idle = [k for k, c in self._counts.items() if not c.pending and not self._expire(c, now)]
        for key in idle:
            del self._counts[key]

    def _settle(self, keys, *, failed: bool, clear: tuple[str, ...] = ()) -> None:
        with self._lock:
            now = self.clock()
            for key in keys:
                count = self._counts.setdefault(key, _Count())
                count.pending -= 1
                if failed:
                    count.failures.append(now)
                elif key[0] in clear:
                    count.failures.clear()


class Attempt:
    """One reserved sign-in attempt. Settle it once: `failed`, `succeeded` or `refund`. As a
    context manager, one left unsettled (an unexpected exception) counts as failed: it may have
    reached the password check, and a guesser must not get free tries by making it fail."""

    def __init__(self, throttle: SignInThrottle, keys):
        self._throttle, self._keys, self._open = throttle, keys, True

    def _settle(self, **kw) -> None:
        if self._open:
            self._open = False
            self._throttle._settle(self._keys, **kw)

    def failed(self) -> None:
        """A wrong password (or unknown name): it counts for the name and the address."""
        self._settle(failed=True)

    def succeeded(self) -> None:
        """The right password: the name's failures are forgotten (its owner got in); the
        address's stay (others behind it may still be guessing)."""
        self._settle(failed=False, clear=("name",))

    def refund(self) -> None:
        """The password was not judged (database down, server busy): it does not count."""
        self._settle(failed=False)

    def __enter__(self) -> Attempt:
        return self

    def __exit__(self, *exc) -> None:
        self.failed()


class PasswordChecks:
    """At most `limit` password checks at once in this process; see the module docstring.

    `running`, `waiting` and `peak` (the most that ran at once since the start) are what
    /metrics shows. They change only on the event loop, so they need no lock.
    """

    def __init__(self, limit: int, wait_s: float):
        self.limit, self.wait_s = limit, wait_s
        self.running = self.waiting = self.peak = 0
        # asyncio's Semaphore binds to a loop only when someone has to wait, so it can be made
        # here, before the server's loop runs.
        self._free = asyncio.Semaphore(limit)

    @asynccontextmanager
    async def slot(self):
        """Hold one check's slot; raises SignInBusy after `wait_s` without one. Run the check
        with run_in_threadpool inside it: anyio does not abandon a thread when the request is
        cancelled, so the slot is held until the check really ends."""
        self.waiting += 1
        try:
            async with asyncio.timeout(self.wait_s):
                await self._free.acquire()
        except TimeoutError:
            wait = max(1, math.ceil(self.wait_s / 2))
            raise SignInBusy(
                f"Too many sign-ins at once. Try again in {wait} seconds.", retry_after=wait
            ) from None
        finally:
            self.waiting -= 1
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            yield
        finally:
            self.running -= 1
            self._free.release()
