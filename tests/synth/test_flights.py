"""``preread.flights.Flights``: one leader per key, waiters follow, cancel stops a waiter."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from preread.flights import Flights
from preread.library import Library
from preread.settings import Settings, VoiceSettings
from preread.tts.fake import FakeProvider


def test_one_holder_per_key_and_the_next_leads_after_landing() -> None:
    flights: Flights[str] = Flights()
    order: list[str] = []
    flights.lead("k", "first")
    assert flights.get("k") == "first" and len(flights) == 1

    def second() -> None:
        with flights.hold("k", "second"):
            order.append("second")

    thread = threading.Thread(target=second)
    thread.start()
    time.sleep(0.1)
    assert order == [] and flights.get("k") == "first"  # still waiting
    with flights.hold("other", "x"):  # other keys do not wait
        order.append("other")
    flights.land("k")
    thread.join(5)
    assert order == ["other", "second"] and len(flights) == 0


def test_join_starts_once_and_a_cancelled_waiter_gives_up() -> None:
    flights: Flights[object] = Flights()
    made: list[str] = []

    def make(value: str) -> str:
        made.append(value)
        return value

    first, started = flights.join("k", lambda: make("v"))
    again, started_again = flights.join("k", lambda: make("w"))
    assert (first, started, again, started_again, made) == ("v", True, "v", False, ["v"])
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(InterruptedError):
        flights.lead("k", "z", cancel)
    flights.land("k")
    assert "k" not in flights


def test_a_library_shares_one_registry_between_its_makers_and_runs(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, voice=VoiceSettings(provider="fake"))
    library = Library(settings, provider=FakeProvider())
    assert library.engines.maker("fake").flights is library.flights
