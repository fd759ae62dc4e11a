"""The server's background cleaner: the same cleanup as ``preread cleanup``, debounced,
in a worker thread, never on the request path.

The server calls ``notify_written(n)`` after writing ``n`` bytes of audio (a live chunk,
a job's chunk): an O(1) update of an estimate of the store's size. When the estimate goes
over the limit, a cleanup is scheduled ``debounce`` seconds later (writes in between
join it). Each cleanup rescans the store and resets the estimate to the real size, and a
periodic check every ``interval`` seconds catches what other processes wrote.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from preread.lifecycle.cleanup import CleanupReport, run_cleanup
from preread.settings import Settings
from preread.store import Store

log = logging.getLogger("preread.lifecycle")


class BackgroundCleaner:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        debounce: float = 5.0,
        interval: float | None = 600.0,
        grace_seconds: float | None = None,  # None: the settings' grace_minutes
        on_report: Callable[[CleanupReport], None] | None = None,
    ) -> None:
        self.store = store
        self.max_bytes = settings.max_bytes
        self.pin_minutes = settings.pin_minutes
        self.debounce = debounce
        self.interval = interval
        self.grace_seconds = (
            settings.grace_minutes * 60.0 if grace_seconds is None else grace_seconds
        )
        self.on_report = on_report
        self.runs = 0
        self.last_report: CleanupReport | None = None
        self._estimate: int | None = None  # unknown until the first scan
        self._due: float | None = time.monotonic() + debounce  # a first check at start
        self._next_periodic = None if interval is None else time.monotonic() + interval
        self._closed = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._loop, name="preread-cleaner", daemon=True)
        self._thread.start()

    @property
    def estimated_size(self) -> int | None:
        return self._estimate

    def notify_written(self, nbytes: int) -> None:
        """``nbytes`` of audio were just written to the store. Cheap; never blocks on I/O."""
        with self._cond:
            if self._estimate is not None:
                self._estimate += max(0, nbytes)
                if self._estimate <= self.max_bytes:
                    return
            self._schedule()

    def request(self) -> None:
        """Run a cleanup soon (after ``debounce``) whatever the estimate."""
        with self._cond:
            self._schedule()

    def _schedule(self) -> None:
        if self._due is None:
            self._due = time.monotonic() + self.debounce
            self._cond.notify_all()

    def wait_for_runs(self, count: int, timeout: float) -> bool:
        """Wait until ``count`` cleanups have finished (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.runs < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self, timeout: float = 30.0) -> None:
        """Stop the worker (a cleanup in progress finishes first)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout)

    def _wait_until_due(self) -> bool:
        """Block until a run is due; False when closed."""
        with self._cond:
            while not self._closed:
                now = time.monotonic()
                if self._next_periodic is not None and now >= self._next_periodic:
                    self._due = now  # the run resets the next periodic check
                    self._next_periodic = None
                if self._due is not None and now >= self._due:
                    self._due = None
                    return True
                wakes = [t for t in (self._due, self._next_periodic) if t is not None]
                self._cond.wait(max(0.0, min(wakes) - now) if wakes else None)
            return False

    def _loop(self) -> None:
        while self._wait_until_due():
            report: CleanupReport | None = None
            try:
                report = run_cleanup(
                    self.store,
                    max_bytes=self.max_bytes,
                    pin_minutes=self.pin_minutes,
                    grace_seconds=self.grace_seconds,
                )
            except Exception:  # never let the worker die: log and try again later
                log.exception("background cleanup failed")
            with self._cond:
                if self.interval is not None:
                    self._next_periodic = time.monotonic() + self.interval
                if report is not None and report.skipped is None:
                    self._estimate = report.size_after
                else:
                    self._estimate = None
                self.last_report = report
                self.runs += 1
                self._cond.notify_all()
            if report is not None and report.did_something:
                log.info(
                    "cleanup removed %d documents and %d blobs, freed %d bytes (%d of %d)",
                    len(report.removed),
                    report.blobs_removed,
                    report.freed_bytes,
                    report.size_after,
                    self.max_bytes,
                )
            if report is not None and self.on_report is not None:
                try:
                    self.on_report(report)
                except Exception:
                    log.exception("cleanup report callback failed")
