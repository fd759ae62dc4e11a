"""Per-key single flight: one maker of a thing at a time, however many threads ask.

``Flights`` is one small registry, shared by everything in a process that makes
the same things: the preprocess workers, the server's live generation, its jobs
and ``/v1/audio/speech`` all share one for content keys (``preread.blobs.blob_key``),
so a block that two of them want is synthesized once, and the others reuse the
blob the first one stored. The live generator keeps a second one, keyed by chunk,
whose values are the flights its listeners join.

Two ways to use it::

    flight, leads = flights.join(key, make)   # non-blocking (an event loop):
    ...                                       # the key's flight, and whether we
    flights.land(key)                         # started it (then we land it)

    with flights.hold(key):                   # blocking (a thread): wait for
        ...                                   # the key's flight to land, then lead

``hold`` can also be split into ``lead(key)`` and ``land(key)`` (a flight handed
from one thread to another: the preprocess pipeline synthesizes in a worker and
stores in the main thread). Flights only order work within one process; across
processes, blobs are create-if-absent (``BlobStore.write``), so two runs that race
for a key store one blob and both use it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Hashable, Iterator
from typing import Generic, TypeVar

V = TypeVar("V")

POLL_SECONDS = 0.2  # how often a waiter looks at its cancel event


class Flights(Generic[V]):
    """A registry of what is being made now: key -> the flight's value."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._flights: dict[Hashable, tuple[V, threading.Event]] = {}

    def __len__(self) -> int:
        return len(self._flights)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._flights

    def get(self, key: Hashable) -> V | None:
        with self._guard:
            found = self._flights.get(key)
        return None if found is None else found[0]

    def join(self, key: Hashable, make: Callable[[], V]) -> tuple[V, bool]:
        """The flight of ``key``, and True if this call started it (with ``make()``)."""
        with self._guard:
            found = self._flights.get(key)
            if found is not None:
                return found[0], False
            value = make()
            self._flights[key] = (value, threading.Event())
            return value, True

    def land(self, key: Hashable) -> None:
        """End ``key``'s flight (by its leader): waiters wake, one of them may lead next."""
        with self._guard:
            found = self._flights.pop(key, None)
        if found is not None:
            found[1].set()

    def lead(self, key: Hashable, value: V, cancel: threading.Event | None = None) -> None:
        """Block until no flight of ``key`` is under way, then start one (``value``).

        Raises InterruptedError when ``cancel`` is set while waiting.
        """
        while True:
            with self._guard:
                found = self._flights.get(key)
                if found is None:
                    self._flights[key] = (value, threading.Event())
                    return
            landed = found[1]
            while not landed.wait(POLL_SECONDS if cancel is not None else None):
                if cancel is not None and cancel.is_set():
                    raise InterruptedError("cancelled while waiting for another maker")

    @contextlib.contextmanager
    def hold(
        self, key: Hashable, value: V, cancel: threading.Event | None = None
    ) -> Iterator[None]:
        """``lead`` on entry, ``land`` on exit."""
        self.lead(key, value, cancel)
        try:
            yield
        finally:
            self.land(key)
