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
stores in the main thread). With a ``lock_dir`` (a library's flights: the store's
``locks/flights``), a leader also holds an ``flock`` on ``lock_dir/KEY.flight`` from
``lead`` to ``land``, so the processes sharing a store (``preread serve --workers N``, a
CLI run next to a server) make a given content once too: the others wait for the
lock, then find the blob stored. The holder removes the file before releasing it;
a waiter that then locks a removed file opens it again (no lock files pile up).
Without one, blobs are still create-if-absent (``BlobStore.write``): two processes
that race for a key store one blob and both use it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from pathlib import Path
from typing import Generic, TypeVar

from preread.ids import is_full_id

V = TypeVar("V")

POLL_SECONDS = 0.2  # how often a waiter looks at its cancel event
FILE_POLL_SECONDS = 0.05  # how often a cancellable waiter tries another process's lock


def lock_file(path: Path, cancel: threading.Event | None = None) -> int:
    """An ``flock``-ed descriptor of ``path`` (created if missing), once no other process
    holds it; raises InterruptedError when ``cancel`` is set while waiting."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            if cancel is None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            else:
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if cancel.is_set():
                            raise InterruptedError(
                                "cancelled while waiting for another maker"
                            ) from None
                        time.sleep(FILE_POLL_SECONDS)
            held = os.fstat(fd)
            try:
                now = os.stat(path)
            except FileNotFoundError:
                now = None  # its holder removed it as it landed: lock a fresh one
            if now is not None and (now.st_ino, now.st_dev) == (held.st_ino, held.st_dev):
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)


def unlock_file(path: Path, fd: int) -> None:
    """Remove the lock file, then release it (closing the descriptor)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    os.close(fd)


class Flights(Generic[V]):
    """A registry of what is being made now: key -> the flight's value."""

    def __init__(self, lock_dir: Path | None = None) -> None:
        """``lock_dir``: where leaders of content keys (hex ids) also take a file lock
        that other processes sharing the store respect; None: this process only."""
        self._guard = threading.Lock()
        self._flights: dict[Hashable, tuple[V, threading.Event]] = {}
        self.lock_dir = lock_dir
        self._files: dict[Hashable, tuple[Path, int]] = {}

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
            held = self._files.pop(key, None)
        if held is not None:
            unlock_file(*held)
        if found is not None:
            found[1].set()

    def _lock_path(self, key: Hashable) -> Path | None:
        if self.lock_dir is None or not isinstance(key, str) or not is_full_id(key):
            return None
        return self.lock_dir / f"{key}.flight"

    def lead(self, key: Hashable, value: V, cancel: threading.Event | None = None) -> None:
        """Block until no flight of ``key`` is under way, then start one (``value``).

        Raises InterruptedError when ``cancel`` is set while waiting. With a
        ``lock_dir``, then waits for other processes' flight of ``key`` too.
        """
        while True:
            with self._guard:
                found = self._flights.get(key)
                if found is None:
                    self._flights[key] = (value, threading.Event())
                    break
            landed = found[1]
            while not landed.wait(POLL_SECONDS if cancel is not None else None):
                if cancel is not None and cancel.is_set():
                    raise InterruptedError("cancelled while waiting for another maker")
        path = self._lock_path(key)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = lock_file(path, cancel)
        except BaseException:
            self.land(key)  # this process's waiters go on (and try the file lock)
            raise
        with self._guard:
            self._files[key] = (path, fd)

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
