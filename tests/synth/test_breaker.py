"""The circuit breaker's states, on an injected clock."""

from __future__ import annotations

from preread.tts.breaker import Breaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_n_consecutive_failures_only() -> None:
    clock = Clock()
    breaker = Breaker(failures=3, cooldown=60, clock=clock)
    assert breaker.state == "closed"
    assert not breaker.failure("a") and not breaker.failure("b")
    breaker.success()  # a success resets the count
    assert not breaker.failure() and not breaker.failure()
    assert breaker.allow()
    assert breaker.failure("third in a row")  # this one opened it
    assert breaker.state == "open" and not breaker.allow()
    assert breaker.reason == "third in a row"
    assert not breaker.failure()  # already open: not reported again


def test_half_open_probe_closes_on_success_and_reopens_on_failure() -> None:
    clock = Clock()
    breaker = Breaker(failures=1, cooldown=60, clock=clock)
    breaker.failure("down")
    clock.now += 59.9
    assert breaker.state == "open" and not breaker.allow()
    clock.now += 0.1
    assert breaker.state == "half-open"
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # one probe at a time
    assert breaker.failure("still down")  # the probe failed: open again, for a new cool-down
    assert breaker.state == "open"
    clock.now += 60
    assert breaker.allow()
    breaker.success()
    assert breaker.state == "closed" and breaker.allow() and breaker.reason is None


def test_trip_opens_at_once_and_reports_once() -> None:
    clock = Clock()
    breaker = Breaker(failures=5, cooldown=300, clock=clock)
    assert breaker.trip("bad key")
    assert breaker.state == "open" and not breaker.allow()
    assert not breaker.trip("bad key")  # already open
    clock.now += 300
    assert breaker.allow()
    breaker.abandon()  # the probe was cancelled: another may go
    assert breaker.allow()


def test_a_failure_rate_over_the_window_opens_it() -> None:
    clock = Clock()
    breaker = Breaker(failures=5, cooldown=60, clock=clock, window=6, rate_failures=3)
    for _ in range(2):  # fail, succeed, fail, succeed: 2 of the last 4
        assert not breaker.failure("flaky")
        breaker.success()
    assert breaker.recent_failures == 2 and breaker.state == "closed"
    for _ in range(4):  # successes push the old failures out of the window
        breaker.success()
    assert breaker.recent_failures == 1
    for _ in range(2):  # never two in a row
        assert not breaker.failure()
        breaker.success()
    assert breaker.recent_failures == 2
    assert breaker.failure("third of the last 6")
    assert breaker.state == "open" and breaker.opened_by == "3 of its last 6 chunks"
    clock.now += 60
    assert breaker.allow()
    breaker.success()  # the probe: closed, and the window starts afresh
    assert breaker.state == "closed" and breaker.recent_failures == 0
    assert not breaker.failure() and not breaker.failure()
