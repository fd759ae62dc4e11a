"""Running headers, footers and page numbers: found by repetition, never by position alone.

A line near the top or bottom of a page is removed when

* it is a bare page number or page label (``12``, ``- 12 -``, ``Page 12 of 80``,
  ``12 / 80``, ``xii``, or the page's own label), or
* the same line, compared with digits normalized (``Chapter 3 — 41`` matches
  ``Chapter 3 — 42``), runs on other pages within ``WINDOW`` pages: at the same place
  (same edge, same line counted from it, page numbers not counted) on at least one,
  or anywhere among their edge lines on at least two. A body line that happens to
  recur near another page's edge (a repeated sentence, ``Definition 17`` at the foot
  of one page and ``Definition 20`` at the head of a later one) is not a running line.

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


EdgeKey = tuple[bool, int, str]
"""(at the top?, line counted from that edge, ``running_key``) of a candidate line."""


def _edge_positions(lines: Sequence[str]) -> list[tuple[int, EdgeKey]]:
    """(index in ``lines``, its EdgeKey) for the candidate lines at each edge.

    Lines are counted from each edge over the non-empty lines that are not bare page
    numbers, so a page whose number sits on its own line lines up with one where it
    does not.
    """
    content = [i for i, line in enumerate(lines) if line and not is_page_number(line)]
    top = content[:EDGE_LINES]
    bottom = content[::-1][:EDGE_LINES]
    return [(i, (True, n, running_key(lines[i]))) for n, i in enumerate(top)] + [
        (i, (False, n, running_key(lines[i]))) for n, i in enumerate(bottom)
    ]


def edge_keys(lines: Sequence[str]) -> frozenset[EdgeKey]:
    """The keys of a page's candidate lines, for comparing with other pages."""
    return frozenset(key for i, key in _edge_positions(lines) if len(lines[i]) <= MAX_RUNNING_LEN)


def strip_page(
    lines: Sequence[str],
    others: Iterable[frozenset[EdgeKey]],
    label: str | None = None,
    protected: Collection[str] = (),
) -> list[str]:
    """``lines`` without the running lines and page numbers at its two edges.

    ``others`` are the ``edge_keys`` of the neighbouring pages (not this one);
    ``protected`` are casefolded lines to keep even so (the outline's headings that
    point at this page: a chapter's title heads its first page and runs on the others).
    """
    placed: set[EdgeKey] = set()
    pages_with: dict[tuple[bool, str], int] = {}
    for keys in others:
        placed.update(keys)
        for edge_text in {(top, text) for top, _, text in keys}:
            pages_with[edge_text] = pages_with.get(edge_text, 0) + 1
    positions = _edge_positions(lines)
    at_edge = {top: {i: key for i, key in positions if key[0] is top} for top in (True, False)}

    def removable(index: int, top: bool) -> bool:
        line = lines[index]
        if is_page_number(line, label):
            return True
        key = at_edge[top].get(index)
        if key is None or len(line) > MAX_RUNNING_LEN:
            return False
        if key not in placed and pages_with.get((key[0], key[2]), 0) < 2:
            return False
        return " ".join(line.casefold().split()) not in protected

    keep = [True] * len(lines)
    for top, order in ((True, range(len(lines))), (False, range(len(lines) - 1, -1, -1))):
        checked = 0
        for index in order:
            if checked >= EDGE_LINES:
                break
            if not keep[index] or not lines[index]:
                keep[index] = False
                continue
            if not removable(index, top):
                break
            keep[index] = False
            checked += 1
    return [line for line, kept in zip(lines, keep, strict=True) if kept]


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
    buffer: list[tuple[int, Sequence[str], frozenset[EdgeKey]]] = []
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
