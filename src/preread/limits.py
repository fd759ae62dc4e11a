"""How long and how often each provider of an engine chain is tried: ``ProviderLimits``.

Each setting is read per provider, else for every provider, else a default:
``PREREAD_{PROVIDER}_{NAME}``, then ``PREREAD_{NAME}`` (``PREREAD_OPENAI_TIMEOUT=20``,
``PREREAD_BREAKER_COOLDOWN=60``):

=========================  =======  ====================================================
name                       default  meaning
=========================  =======  ====================================================
``TIMEOUT``                60       seconds one request may take (then it is a failure)
``RETRIES``                4        requests after the first, per chunk
``RETRY_BUDGET``           60       seconds of waiting between a chunk's requests, at
                                    most (a longer ``Retry-After`` goes to the fallback)
``BREAKER_FAILURES``       5        consecutive failed chunks that open the breaker
``BREAKER_WINDOW``         20       ... or the last M chunks (the window) ...
``BREAKER_RATE_FAILURES``  10       ... of which N failed open it
``BREAKER_COOLDOWN``       300      seconds the breaker stays open before a probe
=========================  =======  ====================================================

Timeouts and retries apply to providers that make requests (``openai``); the
breaker numbers to every provider of a chain.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from preread.errors import BadSettings


@dataclass(frozen=True)
class ProviderLimits:
    timeout: float = 60.0
    retries: int = 4
    retry_budget: float = 60.0
    breaker_failures: int = 5
    breaker_window: int = 20
    breaker_rate_failures: int = 10
    breaker_cooldown: float = 300.0

    @property
    def attempts(self) -> int:
        return self.retries + 1

    @classmethod
    def load(
        cls, env: Mapping[str, str] | None = None, provider: str | None = None
    ) -> ProviderLimits:
        """The limits of ``provider`` (None: those every provider shares)."""
        env = os.environ if env is None else env
        prefix = f"PREREAD_{provider.upper()}_" if provider else None

        def raw(name: str) -> tuple[str, str] | None:
            for var in ([prefix + name] if prefix else []) + ["PREREAD_" + name]:
                value = env.get(var, "").strip()
                if value:
                    return var, value
            return None

        def seconds(name: str, default: float, *, zero: bool) -> float:
            found = raw(name)
            if found is None:
                return default
            var, value = found
            try:
                number = float(value)
            except ValueError:
                number = math.nan
            if not (number >= 0 if zero else number > 0) or not math.isfinite(number):
                floor = "≥ 0" if zero else "> 0"
                raise BadSettings(f"bad {var} {value!r}: seconds {floor}")
            return number

        def whole(name: str, default: int, least: int) -> int:
            found = raw(name)
            if found is None:
                return default
            var, value = found
            try:
                number = int(value)
            except ValueError:
                number = least - 1
            if number < least:
                raise BadSettings(f"bad {var} {value!r}: a whole number ≥ {least}")
            return number

        base = cls()
        limits = cls(
            timeout=seconds("TIMEOUT", base.timeout, zero=False),
            retries=whole("RETRIES", base.retries, 0),
            retry_budget=seconds("RETRY_BUDGET", base.retry_budget, zero=True),
            breaker_failures=whole("BREAKER_FAILURES", base.breaker_failures, 1),
            breaker_window=whole("BREAKER_WINDOW", base.breaker_window, 1),
            breaker_rate_failures=whole("BREAKER_RATE_FAILURES", base.breaker_rate_failures, 1),
            breaker_cooldown=seconds("BREAKER_COOLDOWN", base.breaker_cooldown, zero=True),
        )
        if limits.breaker_rate_failures > limits.breaker_window:
            where = prefix or "PREREAD_"
            raise BadSettings(
                f"bad {where}BREAKER_RATE_FAILURES {limits.breaker_rate_failures}: at most"
                f" {where}BREAKER_WINDOW ({limits.breaker_window})"
            )
        return limits


def load_limits(
    env: Mapping[str, str] | None, providers: Iterable[str]
) -> tuple[tuple[str, ProviderLimits], ...]:
    """Each provider's limits, checked now (a bad setting: exit 2 before any work)."""
    return tuple((name, ProviderLimits.load(env, name)) for name in dict.fromkeys(providers))
