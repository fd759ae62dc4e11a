"""A circuit breaker per provider: skip an engine that keeps failing, probe it later.

``closed`` (requests go through) → ``open`` after ``failures`` consecutive failures,
or ``rate_failures`` failures among the last ``window`` outcomes (a failure rate:
a provider failing every other chunk never fails ``failures`` times in a row), or at
once on a refusal retrying cannot fix (``trip``: bad key, unknown voice) →
``half-open`` once ``cooldown`` seconds have passed: one probe goes through; its
success closes the breaker, its failure opens it for another cool-down. Pure logic
with an injectable clock (``clock``: seconds, monotonic), safe across threads.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Literal

State = Literal["closed", "open", "half-open"]

DEFAULT_FAILURES = 5
DEFAULT_COOLDOWN = 300.0
DEFAULT_WINDOW = 20
DEFAULT_RATE_FAILURES = 10


class Breaker:
    def __init__(
        self,
        failures: int = DEFAULT_FAILURES,
        cooldown: float = DEFAULT_COOLDOWN,
        clock: Callable[[], float] = time.monotonic,
        *,
        window: int = DEFAULT_WINDOW,
        rate_failures: int = DEFAULT_RATE_FAILURES,
    ) -> None:
        self.failures = max(1, failures)
        self.cooldown = max(0.0, cooldown)
        self.window = max(1, window)
        self.rate_failures = min(max(1, rate_failures), self.window)
        self.clock = clock
        self._lock = threading.Lock()
        self._outcomes: deque[bool] = deque(maxlen=self.window)  # True: a failure
        self._consecutive = 0
        self._opened_at: float | None = None
        self._probing = False
        self.reason: str | None = None  # why it last opened
        self.opened_by = ""  # which rule last opened it: "5 times in a row", "10 of its last 20"

    @property
    def state(self) -> State:
        with self._lock:
            return self._state()

    def _state(self) -> State:
        if self._opened_at is None:
            return "closed"
        if self.clock() - self._opened_at >= self.cooldown:
            return "half-open"
        return "open"

    def allow(self) -> bool:
        """Whether a request may go to the provider now (half-open: one probe at a time)."""
        with self._lock:
            state = self._state()
            if state == "closed":
                return True
            if state == "half-open" and not self._probing:
                self._probing = True
                return True
            return False

    def abandon(self) -> None:
        """A request ended neither in success nor failure (cancelled): free the probe."""
        with self._lock:
            self._probing = False

    @property
    def recent_failures(self) -> int:
        """Failures among the last ``window`` outcomes since it last closed or opened."""
        with self._lock:
            return sum(self._outcomes)

    def success(self) -> None:
        with self._lock:
            self._consecutive = 0
            if self._opened_at is not None:
                self._outcomes.clear()  # a probe's success: a fresh start
            else:
                self._outcomes.append(False)
            self._opened_at = None
            self._probing = False
            self.reason = None

    def failure(self, reason: str = "") -> bool:
        """Count a failure; True when this one opened the breaker."""
        with self._lock:
            self._consecutive += 1
            self._outcomes.append(True)
            if self._opened_at is not None and not self._probing:
                return False  # already open (a request that was under way)
            if self._probing:
                self.opened_by = "its probe"
            elif self._consecutive >= self.failures:
                self.opened_by = f"{self._consecutive} times in a row"
            elif sum(self._outcomes) >= self.rate_failures:
                self.opened_by = f"{sum(self._outcomes)} of its last {len(self._outcomes)} chunks"
            else:
                return False
            return self._open(reason)

    def trip(self, reason: str = "") -> bool:
        """Open at once (a refusal retrying cannot fix); True when it was not open yet."""
        with self._lock:
            return self._open(reason)

    def _open(self, reason: str) -> bool:
        was_open = self._opened_at is not None and not self._probing
        self._opened_at = self.clock()
        self._outcomes.clear()
        self._probing = False
        self.reason = reason or self.reason
        return not was_open
