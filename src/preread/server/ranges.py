"""HTTP conditional and range requests (RFC 9110), as pure functions.

``parse_range`` turns a ``Range`` header into byte ranges for a file of ``size``
bytes; ``etag_matches`` answers ``If-None-Match`` / ``If-Range``. No I/O here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_RANGES = 16  # more parts than this: the Range header is ignored (RFC 9110 §14.2 allows it)
_DIGITS = re.compile(r"[0-9]{1,30}")  # ASCII only: str.isdigit() also takes "²" (latin-1 0xB2)


class Unsatisfiable(Exception):
    """No range of a syntactically valid header overlaps the file: answer 416."""


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


def parse_range(header: str | None, size: int) -> list[ByteRange] | None:
    """The ranges to send, or None to send the whole file.

    None when there is no header, a unit other than bytes, a malformed header, or
    too many parts (all of which RFC 9110 says to ignore). Raises ``Unsatisfiable``
    when the header is valid but no range overlaps ``size`` bytes. Overlapping or
    adjacent ranges are merged.
    """
    if not header:
        return None
    unit, sep, spec = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    parts = [p.strip() for p in spec.split(",")]
    if not parts or len(parts) > MAX_RANGES:
        return None
    ranges: list[ByteRange] = []
    for part in parts:
        first, dash, last = part.partition("-")
        first, last = first.strip(), last.strip()
        if not dash or any(x and not _DIGITS.fullmatch(x) for x in (first, last)):
            return None
        if not first and not last:
            return None
        if not first:  # suffix: the last N bytes
            suffix = int(last)
            if suffix == 0 or size == 0:
                continue
            ranges.append(ByteRange(max(0, size - suffix), size - 1))
            continue
        start = int(first)
        end = int(last) if last else size - 1
        if last and end < start:
            return None
        if start >= size:
            continue
        ranges.append(ByteRange(start, min(end, size - 1)))
    if not ranges:
        raise Unsatisfiable(f"bytes */{size}")
    return _merge(ranges)


def _merge(ranges: list[ByteRange]) -> list[ByteRange]:
    out: list[ByteRange] = []
    for r in sorted(ranges, key=lambda r: r.start):
        if out and r.start <= out[-1].end + 1:
            out[-1] = ByteRange(out[-1].start, max(out[-1].end, r.end))
        else:
            out.append(r)
    return out


def _tags(header: str) -> list[str]:
    return [t.strip().removeprefix("W/") for t in header.split(",") if t.strip()]


def etag_matches(header: str | None, etag: str) -> bool:
    """``If-None-Match``: weak comparison, ``*`` matches any current representation."""
    if not header:
        return False
    tags = _tags(header)
    return "*" in tags or etag.removeprefix("W/") in tags


def if_range_allows(header: str | None, etag: str) -> bool:
    """``If-Range``: the Range applies only if the strong ETag matches (dates never do)."""
    if header is None:
        return True
    value = header.strip()
    return not value.startswith("W/") and value == etag


def multipart_boundary(etag: str) -> str:
    """A boundary that cannot occur in the part headers (derived from the ETag)."""
    return "preread-" + "".join(c for c in etag if c.isalnum())[:32]
