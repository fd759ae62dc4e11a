"""Running headers, footers and page numbers: found by repetition, never by position alone.

A line near the top or bottom of a page is removed when

* it is a bare page number or page label (``12``, ``- 12 -``, ``Page 12 of 80``,
  ``12 / 80``, ``xii``, or the page's own label), or
* the same line, compared with digits normalized (``Chapter 3 — 41`` matches
  ``Chapter 3 — 42``), sits near the edge of at least one other page within
  ``WINDOW`` pages.

Lines are removed from each edge inwards and the scan stops at the first line that is
neither, so a line in the body is never touched, and a line that appears once is never
removed for being near an edge. Only pages within the window are compared, so the
result for a page does not depend on which other pages were selected.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence

EDGE_LINES = 3
"""How many lines at the top and at the bottom of a page are candidates."""
WINDOW = 4
"""Pages on each side a running line is compared with."""
MAX_RUNNING_LEN = 120

_DIGITS = re.compile(r"\d+")
_ROMAN = re.compile(r"^(?=[mdclxvi])m{0,3}(cm|cd|d?c{0,3})(xc|xl|l?x{0,3})(ix|iv|v?i{0,3})$")
_PAGE_NUMBER = re.compile(
    r"""^(?:
        [-–—~\[(|]?\s*(?P<n1>\d{1,5}|[ivxlcdm]{1,8})\s*[-–—~\])|]?          # 12, - 12 -, [xii]
      | (?:page|p\.|pg\.?|seite|s\.)\s*(?P<n2>\d{1,5}|[ivxlcdm]{1,8})
            (?:\s*(?:of|/|von|sur|de)\s*\d{1,5})?                          # Page 12 of 80
      | (?P<n3>\d{1,5})\s*(?:/|of)\s*\d{1,5}                                # 12 / 80
    )$""",
    re.IGNORECASE | re.VERBOSE,
)


def running_key(line: str) -> str:
    """The form lines are compared in: digits normalized, case and spacing ignored."""
    return " ".join(_DIGITS.sub("#", line.casefold()).split())


def is_page_number(line: str, label: str | None = None) -> bool:
    """A bare page number or label: ``12``, ``- 12 -``, ``Page 12 of 80``, ``xii``."""
    text = line.strip()
    if not text:
        return False
    if label and text.casefold() == label.casefold():
        return True
    match = _PAGE_NUMBER.match(text)
    if not match:
        return False
    value = match.group("n1") or match.group("n2") or ""
    if value and not value.isdigit():
        return _ROMAN.match(value.casefold()) is not None
    return True


def _edge_lines(lines: Sequence[str]) -> list[str]:
    content = [line for line in lines if line]
    if len(content) <= 2 * EDGE_LINES:
        return content
    return content[:EDGE_LINES] + content[-EDGE_LINES:]


def edge_keys(lines: Sequence[str]) -> frozenset[str]:
    """The keys of a page's candidate lines, for comparing with other pages."""
    return frozenset(
        running_key(line) for line in _edge_lines(lines) if len(line) <= MAX_RUNNING_LEN
    )


def strip_page(
    lines: Sequence[str],
    others: Iterable[frozenset[str]],
    label: str | None = None,
    protected: Collection[str] = (),
) -> list[str]:
    """``lines`` without the running lines and page numbers at its two edges.

    ``others`` are the ``edge_keys`` of the neighbouring pages (not this one);
    ``protected`` are casefolded lines to keep even so (the outline's headings that
    point at this page: a chapter's title heads its first page and runs on the others).
    """
    seen: set[str] = set()
    for keys in others:
        seen.update(keys)

    def removable(line: str) -> bool:
        if is_page_number(line, label):
            return True
        if len(line) > MAX_RUNNING_LEN or running_key(line) not in seen:
            return False
        return " ".join(line.casefold().split()) not in protected

    out = list(lines)
    for from_top in (True, False):
        checked = 0
        while out and checked < EDGE_LINES:
            index = 0 if from_top else len(out) - 1
            line = out[index]
            if not line:
                out.pop(index)
                continue
            if not removable(line):
                break
            out.pop(index)
            checked += 1
    return out


def strip_edges(
    pages: Iterable[tuple[int, Sequence[str]]],
    labels: Sequence[str] = (),
    window: int = WINDOW,
    headings: Mapping[int, Collection[str]] | None = None,
) -> Iterator[tuple[int, list[str]]]:
    """Stream ``(page number, lines)`` → the same without running lines.

    Holds at most ``2 * window + 1`` pages. Pages are compared only with pages whose
    number is within ``window`` of theirs (gaps in the numbering are allowed).
    ``headings`` maps a page to the casefolded outline titles pointing at it (kept).
    """
    buffer: list[tuple[int, Sequence[str], frozenset[str]]] = []
    done = 0  # index in buffer of the next page to emit

    def emit(position: int) -> tuple[int, list[str]]:
        number, lines, _ = buffer[position]
        others = (
            keys
            for i, (other, _, keys) in enumerate(buffer)
            if i != position and abs(other - number) <= window
        )
        label = labels[number - 1] if 0 < number <= len(labels) else None
        protected = headings.get(number, ()) if headings else ()
        return number, strip_page(lines, others, label, protected)

    for number, lines in pages:
        buffer.append((number, lines, edge_keys(lines)))
        while done < len(buffer) and number - buffer[done][0] >= window:
            yield emit(done)
            done += 1
        next_number = buffer[done][0] if done < len(buffer) else number + 1
        while done > 0 and next_number - buffer[0][0] > window:
            buffer.pop(0)
            done -= 1
    while done < len(buffer):
        yield emit(done)
        done += 1
