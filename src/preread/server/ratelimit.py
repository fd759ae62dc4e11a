"""A per-client token bucket for live generation (a chunk GET that must synthesize).

Each client (by address) may start ``per_minute`` live generations a minute, with
bursts up to ``burst``; past that, ``RateLimited`` (429 with Retry-After). The
table of clients is bounded so a flood of addresses cannot grow memory.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from preread.errors import RateLimited


class RateLimiter:
    def __init__(
        self,
        per_minute: float,
        burst: int,
        *,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, client: str) -> None:
        """Take one token for ``client`` or raise RateLimited."""
        if self.rate <= 0:
            return
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.pop(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[client] = (tokens, now)
                wait = (1.0 - tokens) / self.rate
                raise RateLimited(
                    "too many live generations from this client; retry later",
                    retry_after=wait,
                )
            self._buckets[client] = (tokens - 1.0, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
