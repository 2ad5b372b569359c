"""Sign-in's guards as units (server/guards/throttle.py): attempts reserved per name and address before
the password check, and the bound on password checks running at once. tests/test_auth.py has
the same over HTTP, against a real server."""

from __future__ import annotations

import asyncio

import pytest

from localvision.errors import SignInBusy, TooManyAttempts
from localvision.server.guards import throttle as throttle_module
from localvision.server.guards.throttle import IN_FLIGHT_RETRY_S, PasswordChecks, SignInThrottle


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def refused(throttle: SignInThrottle, name="dave", address="10.0.0.1") -> TooManyAttempts:
    with pytest.raises(TooManyAttempts) as info:
        throttle.reserve(name, address)
    return info.value


def test_attempts_being_checked_count_against_the_limit():
    throttle = SignInThrottle(per_name=5, per_address=20)
    pending = [throttle.reserve("dave", "10.0.0.1") for _ in range(5)]  # none settled yet
    exc = refused(throttle)
    assert exc.retry_after == IN_FLIGHT_RETRY_S and "at once" in exc.message
    for attempt in pending:
        attempt.failed()
    exc = refused(throttle)
    assert "failed sign-ins" in exc.message and 299 <= exc.retry_after <= 300
    assert throttle.failures("name", "dave") == 5 and throttle.failures("address", "10.0.0.1") == 5
    throttle.reserve("carol", "10.0.0.1").succeeded()  # another name from the address: allowed


def test_a_success_or_an_unjudged_attempt_gives_its_reservation_back():
    throttle = SignInThrottle(per_name=2, per_address=20)
    throttle.reserve("dave", "a").failed()
    throttle.reserve("dave", "a").refund()  # the database was down: not a guess
    assert throttle.failures("name", "dave") == 1
    throttle.reserve("dave", "a").succeeded()  # the owner got in: the name's failures go
    assert throttle.failures("name", "dave") == 0 and throttle.failures("address", "a") == 1
    attempt = throttle.reserve("dave", "a")
    attempt.failed()
    attempt.succeeded()  # settled once: the second does nothing
    assert throttle.failures("name", "dave") == 1


def test_an_attempt_left_unsettled_by_an_exception_counts_as_failed():
    throttle = SignInThrottle(per_name=1, per_address=20)
    with pytest.raises(RuntimeError), throttle.reserve("dave", "a"):
        raise RuntimeError("the check blew up")
    assert throttle.failures("name", "dave") == 1
    refused(throttle, address="a")


def test_the_address_limit_holds_across_names():
    throttle = SignInThrottle(per_name=5, per_address=3)
    pending = [throttle.reserve(f"user{i}", "10.0.0.9") for i in range(3)]
    exc = refused(throttle, name="carol", address="10.0.0.9")
    assert exc.retry_after == IN_FLIGHT_RETRY_S
    throttle.reserve("carol", "10.0.0.8").refund()  # another address is not affected
    for attempt in pending:
        attempt.failed()
    refused(throttle, name="carol", address="10.0.0.9")
    # the refusals took nothing from carol's name: all 5 of its tries are still there
    for i in range(5):
        throttle.reserve("carol", f"10.0.1.{i}")
    refused(throttle, name="carol", address="10.0.0.6")


def test_failures_leave_the_window_and_retry_after_says_when():
    clock = Clock()
    throttle = SignInThrottle(per_name=2, per_address=20, window=300, clock=clock)
    throttle.reserve("dave", "a").failed()
    clock.now += 100
    throttle.reserve("dave", "a").failed()
    assert refused(throttle, address="a").retry_after == 200  # the first failure leaves then
    clock.now += 200
    attempt = throttle.reserve("dave", "a")  # one has left; this one takes its place
    assert refused(throttle, address="a").retry_after == 100
    attempt.refund()
    clock.now += 100
    assert throttle.failures("name", "dave") == 0


def test_a_spray_of_names_does_not_grow_the_table_for_ever(monkeypatch):
    monkeypatch.setattr(throttle_module, "MAX_KEYS", 10)
    clock = Clock()
    throttle = SignInThrottle(window=300, clock=clock)
    for i in range(8):
        throttle.reserve(f"user{i}", f"10.0.0.{i}").failed()
    clock.now += 301  # all of them idle now
    throttle.reserve("late", "10.0.1.1").failed()
    throttle.reserve("later", "10.0.1.2").failed()  # over MAX_KEYS: the idle ones go
    assert len(throttle._counts) <= 4


def run(coro):
    return asyncio.run(coro)


async def until(condition) -> None:
    """Let the other tasks run until `condition()` holds (no timing: they are all on this loop
    and each step makes progress)."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the tasks never got there")


def test_no_more_than_the_limit_of_password_checks_run_at_once():
    async def main():
        checks, release = PasswordChecks(limit=2, wait_s=300), asyncio.Event()
        inside = []

        async def check(i):
            async with checks.slot():
                inside.append(i)
                await release.wait()

        tasks = [asyncio.create_task(check(i)) for i in range(10)]
        await until(lambda: checks.running + checks.waiting == 10)
        assert (checks.running, checks.waiting, checks.peak, len(inside)) == (2, 8, 2, 2)
        release.set()
        await asyncio.gather(*tasks)
        assert (checks.running, checks.waiting, checks.peak, len(inside)) == (0, 0, 2, 10)

    run(main())


def test_a_check_that_finds_no_slot_in_time_is_refused_and_leaks_nothing():
    async def main():
        checks, release = PasswordChecks(limit=1, wait_s=0.05), asyncio.Event()

        async def hold():
            async with checks.slot():
                await release.wait()

        holder = asyncio.create_task(hold())
        await until(lambda: checks.running == 1)
        with pytest.raises(SignInBusy) as info:
            async with checks.slot():
                pass
        assert info.value.status == 503 and info.value.code == "sign_in_busy"
        assert info.value.retry_after >= 1 and checks.waiting == 0
        waiter = asyncio.create_task(hold())  # a waiter cancelled (its client went away)
        await until(lambda: checks.waiting == 1)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        release.set()
        await holder
        assert (checks.running, checks.waiting) == (0, 0)
        async with checks.slot():  # the slot came back
            assert checks.running == 1

    run(main())
