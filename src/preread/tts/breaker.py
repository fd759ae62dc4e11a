"""A circuit breaker per provider: skip an engine that keeps failing, probe it later.

``closed`` (requests go through) → ``open`` after ``failures`` consecutive failures,
or at once on a refusal retrying cannot fix (``trip``: bad key, unknown voice) →
``half-open`` once ``cooldown`` seconds have passed: one probe goes through; its
success closes the breaker, its failure opens it for another cool-down. Pure logic
with an injectable clock (``clock``: seconds, monotonic), safe across threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

State = Literal["closed", "open", "half-open"]

DEFAULT_FAILURES = 5
DEFAULT_COOLDOWN = 300.0


class Breaker:
    def __init__(
        self,
        failures: int = DEFAULT_FAILURES,
        cooldown: float = DEFAULT_COOLDOWN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failures = max(1, failures)
        self.cooldown = max(0.0, cooldown)
        self.clock = clock
        self._lock = threading.Lock()
        self._consecutive = 0
        self._opened_at: float | None = None
        self._probing = False
        self.reason: str | None = None  # why it last opened

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

    def success(self) -> None:
        with self._lock:
            self._consecutive = 0
            self._opened_at = None
            self._probing = False
            self.reason = None

    def failure(self, reason: str = "") -> bool:
        """Count a failure; True when this one opened the breaker."""
        with self._lock:
            self._consecutive += 1
            if self._probing or (self._opened_at is None and self._consecutive >= self.failures):
                return self._open(reason)
            return False

    def trip(self, reason: str = "") -> bool:
        """Open at once (a refusal retrying cannot fix); True when it was not open yet."""
        with self._lock:
            return self._open(reason)

    def _open(self, reason: str) -> bool:
        was_open = self._opened_at is not None and not self._probing
        self._opened_at = self.clock()
        self._probing = False
        self.reason = reason or self.reason
        return not was_open
