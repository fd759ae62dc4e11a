"""How long each provider takes to make a chunk: a small bounded journal in the store.

Every synthesis a chunk maker runs appends one line to ``stats/synthesis.tsv``
(``unix-time TAB provider TAB seconds TAB characters``, one ``write`` on an
``O_APPEND`` descriptor, so processes sharing a store interleave whole lines). When
the file holds twice ``KEEP`` lines it is cut to the last ``KEEP`` (temp + rename,
under a lock). ``summary`` gives P50/P95 per provider over what is kept: what
``preread stats`` prints. Losing a line (a crash between two writes) loses one
sample, nothing else; a line that does not parse is skipped.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from preread.fsutil import FileLock, atomic_write

KEEP = 2000  # samples kept (all providers together)
LINE_BYTES = 48  # a line's typical size: when the file is over 2 * KEEP of them, cut it


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (``share`` in 0–1) of non-empty ``values``."""
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


class SynthesisLog:
    """The journal at ``path`` (``Store.synthesis_log_path``)."""

    def __init__(self, path: Path, keep: int = KEEP) -> None:
        self.path = path
        self.keep = max(1, keep)

    def record(self, provider: str, seconds: float, chars: int) -> None:
        """Append one sample; never raises for a disk problem (a sample is not worth it)."""
        line = f"{time.time():.0f}\t{provider}\t{seconds:.4f}\t{chars}\n".encode()
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)
                size = os.fstat(fd).st_size
            finally:
                os.close(fd)
            if size > 2 * self.keep * LINE_BYTES:
                self._trim()

    def _trim(self) -> None:
        with FileLock(self.path.with_name(self.path.name + ".lock")):
            lines = self.path.read_bytes().splitlines(keepends=True)
            if len(lines) > self.keep:
                atomic_write(self.path, b"".join(lines[-self.keep :]))

    def samples(self) -> list[tuple[str, float]]:
        """(provider, seconds) of the kept samples, oldest first."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        out = []
        for line in raw.decode("utf-8", "replace").splitlines():
            parts = line.split("\t")
            if len(parts) != 4:
                continue
            try:
                seconds = float(parts[2])
            except ValueError:
                continue
            if parts[1] and math.isfinite(seconds) and seconds >= 0:
                out.append((parts[1], seconds))
        return out[-self.keep :]

    def summary(self) -> dict[str, dict[str, Any]]:
        return summarize(self.samples())


def summarize(samples: Iterable[tuple[str, float]]) -> dict[str, dict[str, Any]]:
    """``{provider: {count, p50, p95}}`` (seconds per chunk), providers sorted."""
    by_provider: dict[str, list[float]] = defaultdict(list)
    for provider, seconds in samples:
        by_provider[provider].append(seconds)
    return {
        name: {
            "count": len(values),
            "p50": round(percentile(values, 0.50), 4),
            "p95": round(percentile(values, 0.95), 4),
        }
        for name, values in sorted(by_provider.items())
    }
