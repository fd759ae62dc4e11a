"""The ``--pages`` selection: ``3-7,10``, ``5``, ``8-`` (to the end), ``-4`` (from the start)."""

from __future__ import annotations

import re

from preread.errors import BadInput

_PART = re.compile(r"^(?P<a>\d+)?\s*(?P<dash>[-–])?\s*(?P<b>\d+)?$")
MAX_PAGE = 1_000_000


def parse_pages(spec: str, page_count: int | None = None) -> list[int]:
    """Sorted unique 1-based pages of ``spec``; ``BadInput`` for bad syntax or pages
    beyond ``page_count``. An open range (``8-``) needs ``page_count``."""
    text = spec.strip()
    if not text:
        raise BadInput("bad --pages '': expected pages like 3-7,10")
    pages: set[int] = set()
    for raw in text.split(","):
        part = raw.strip()
        match = _PART.match(part)
        if not part or not match or not (match.group("a") or match.group("b")):
            raise BadInput(f"bad --pages {spec!r}: {part!r} is not a page or a range like 3-7")
        first = int(match.group("a")) if match.group("a") else 1
        if match.group("dash"):
            if match.group("b"):
                last = int(match.group("b"))
            elif page_count is not None:
                last = page_count
            else:
                raise BadInput(f"bad --pages {spec!r}: an open range needs the page count")
        else:
            last = first
        if first < 1 or last < 1:
            raise BadInput(f"bad --pages {spec!r}: pages start at 1")
        if first > last:
            raise BadInput(f"bad --pages {spec!r}: range {part} runs backwards")
        if last > MAX_PAGE:
            raise BadInput(f"bad --pages {spec!r}: page {last} is too large")
        if page_count is not None and last > page_count:
            plural = "" if page_count == 1 else "s"
            raise BadInput(
                f"bad --pages {spec!r}: page {last} is beyond the document's {page_count} "
                f"page{plural}"
            )
        pages.update(range(first, last + 1))
    return sorted(pages)


def format_pages(pages: list[int]) -> str:
    """The inverse: ``[3, 4, 5, 7]`` → ``3-5,7``."""
    parts: list[str] = []
    ordered = sorted(set(pages))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)
