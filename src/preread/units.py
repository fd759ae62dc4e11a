"""Parsing of human sizes (``5GB``, ``500MB``, ``5GiB``) and durations (``7d``, ``30m``)."""

from __future__ import annotations

import re

from preread.errors import BadSettings

_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 10**3,
    "kb": 10**3,
    "m": 10**6,
    "mb": 10**6,
    "g": 10**9,
    "gb": 10**9,
    "t": 10**12,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$")

_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")


def parse_size(text: str) -> int:
    """``"5GB"`` → 5_000_000_000; ``"5GiB"`` → 5 * 2**30; ``"1234"`` → 1234 bytes."""
    match = _SIZE_RE.match(text.lower())
    if not match or match.group(2) not in _SIZE_UNITS:
        raise BadSettings(f"bad size {text!r}: use e.g. 5GB, 500MB, 5GiB or a number of bytes")
    value = int(float(match.group(1)) * _SIZE_UNITS[match.group(2)])
    if value <= 0:
        raise BadSettings(f"bad size {text!r}: must be more than 0")
    return value


def parse_duration(text: str) -> float:
    """``"7d"`` → 604800.0 seconds; a bare number is seconds."""
    match = _DURATION_RE.match(text.lower())
    if not match:
        raise BadSettings(f"bad duration {text!r}: use e.g. 7d, 12h, 30m or 90s")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2) or "s"]


def format_size(n: int | float) -> str:
    """Bytes for people: ``1.5 GB``, ``320 KB``, ``12 B``."""
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if abs(value) < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")
