"""Running headers, footers and page numbers: found by repetition, never by position alone.

A line near the top or bottom of a page is removed when

* it is a bare page number or page label (``12``, ``- 12 -``, ``Page 12 of 80``,
  ``12 / 80``, ``xii``, or the page's own label), or
* the same line, compared with digits normalized (``Chapter 3 — 41`` matches
  ``Chapter 3 — 42``), runs on other pages within ``WINDOW`` pages: at the same place
  (same edge, same line counted from it, page numbers not counted) on at least one,
  or anywhere among their edge lines on at least two. The numbers in it must run
  like a running line's: each one the same on both pages (``Chapter 3``) or moving
  with the page (``41`` on page 41, ``42`` on page 42). A body line that happens to
  recur near another page's edge (a repeated sentence, ``Definition 17`` at the foot
  of one page and ``Definition 20`` at the head of a later one, ``Lösung zu Aufgabe
  1`` and ``Lösung zu Aufgabe 7`` three pages apart) is not a running line.

A running head that carries a title (the chapter's or the section's, changing with
each, alternating between even and odd pages, so it may appear only twice or once)
is found by what it says: an edge line whose words (numbers and page numbers left out)
are those of an outline title, or whose words and numbers (the page number left out)
are those of a heading already read, is a running line unless it is set larger than
the body (a heading at the top of a page) or it is a title the outline points at on
that very page.

Lines are removed from each edge inwards and the scan stops at the first line that is
neither, so a line in the body is never touched, and a line that appears once is never
removed for being near an edge. Only pages within the window are compared, so the
result for a page does not depend on which other pages were selected.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence

from preread.pdf.layout import size_of

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


_TITLE_NOISE = re.compile(
    r"\b(?:chapter|chap|section|part|appendix|kapitel|abschnitt|teil|anhang|chapitre|partie"
    r"|annexe|page|seite)\b|[^\w\s]|\d|_",
    re.IGNORECASE,
)
MIN_TITLE_LETTERS = 6


_NOISE_KEEP_DIGITS = re.compile(r"[^\w\s]|_")


def title_key(text: str) -> str:
    """An outline title as compared with running heads: no numbers, punctuation or
    "Chapter"; "" when too short to tell."""
    key = " ".join(_TITLE_NOISE.sub(" ", text.casefold()).split())
    return key if sum(1 for ch in key if ch.isalpha()) >= MIN_TITLE_LETTERS else ""


def heading_key(text: str, page: int = 0, label: str | None = None) -> str:
    """A heading as compared with running heads: its numbers kept (``1.1 Linear
    systems`` is not ``1.2 Linear systems``), the page's own number at either end left
    out; "" when it has fewer than two words."""
    words = _NOISE_KEEP_DIGITS.sub(" ", text.casefold()).split()
    own = {str(page), (label or "").casefold()}
    if words and words[0] in own:
        words = words[1:]
    if words and words[-1] in own:
        words = words[:-1]
    if sum(1 for w in words if w.isalpha()) < 2:
        return ""
    return "#" + " ".join(words)


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


EdgeKey = tuple[bool, int, str, tuple[int, ...], int]
"""(at the top?, line counted from that edge, ``running_key``, the line's numbers, the
page's number) of a candidate line."""


def _numbers(line: str) -> tuple[int, ...]:
    return tuple(int(d[-9:]) for d in _DIGITS.findall(line))


def _edge_positions(lines: Sequence[str], page: int) -> list[tuple[int, EdgeKey]]:
    """(index in ``lines``, its EdgeKey) for the candidate lines at each edge.

    Lines are counted from each edge over the non-empty lines that are not bare page
    numbers, so a page whose number sits on its own line lines up with one where it
    does not.
    """
    content = [i for i, line in enumerate(lines) if line and not is_page_number(line)]

    def key(top: bool, n: int, i: int) -> EdgeKey:
        return (top, n, running_key(lines[i]), _numbers(lines[i]), page)

    top = content[:EDGE_LINES]
    bottom = content[::-1][:EDGE_LINES]
    return [(i, key(True, n, i)) for n, i in enumerate(top)] + [
        (i, key(False, n, i)) for n, i in enumerate(bottom)
    ]


def edge_keys(lines: Sequence[str], page: int = 0) -> frozenset[EdgeKey]:
    """The keys of page ``page``'s candidate lines, for comparing with other pages."""
    return frozenset(
        key for i, key in _edge_positions(lines, page) if len(lines[i]) <= MAX_RUNNING_LEN
    )


def _runs_with(mine: EdgeKey, other: EdgeKey) -> bool:
    """``other`` is ``mine`` on another page: each number equal, or moved with the page."""
    shift = mine[4] - other[4]
    return all(a == b or a - b == shift for a, b in zip(mine[3], other[3], strict=True))


def strip_page(
    lines: Sequence[str],
    others: Iterable[frozenset[EdgeKey]],
    label: str | None = None,
    protected: Collection[str] = (),
    page: int = 0,
    titles: Collection[str] = (),
    body_size: float = 0.0,
    removed: list[str] | None = None,
) -> list[str]:
    """``lines`` (of page ``page``) without the running lines and page numbers at its
    two edges.

    ``others`` are the ``edge_keys`` of the neighbouring pages (not this one);
    ``protected`` are casefolded lines to keep even so (the outline's headings that
    point at this page: a chapter's title heads its first page and runs on the others).
    ``titles`` are the ``title_key`` of the outline's titles and the ``heading_key`` of
    headings read so far (a head carrying one is running) and ``body_size`` the body's
    font size (a larger line is a heading, kept); what is removed goes to ``removed``.
    """
    by_text: dict[tuple[bool, str], list[EdgeKey]] = {}
    for keys in others:
        for other in keys:
            by_text.setdefault((other[0], other[2]), []).append(other)

    def running(mine: EdgeKey) -> bool:
        alike = [o for o in by_text.get((mine[0], mine[2]), ()) if _runs_with(mine, o)]
        return any(o[1] == mine[1] for o in alike) or len({o[4] for o in alike}) >= 2

    positions = _edge_positions(lines, page)
    at_edge = {top: {i: key for i, key in positions if key[0] is top} for top in (True, False)}

    def removable(index: int, top: bool) -> bool:
        line = lines[index]
        if is_page_number(line, label):
            return True
        key = at_edge[top].get(index)
        if key is None or len(line) > MAX_RUNNING_LEN:
            return False
        if " ".join(line.casefold().split()) in protected:
            return False
        if running(key):
            return True
        larger = body_size > 0 and size_of(line) > 1.05 * body_size
        if larger or not titles:
            return False
        return title_key(line) in titles or heading_key(line, page, label) in titles

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
            if removed is not None:
                removed.append(str(lines[index]))
    return [line for line, kept in zip(lines, keep, strict=True) if kept]


def strip_edges(
    pages: Iterable[tuple[int, Sequence[str]]],
    labels: Sequence[str] = (),
    window: int = WINDOW,
    headings: Mapping[int, Collection[str]] | None = None,
    titles: Collection[str] = (),
    body_size: Callable[[], float] | None = None,
    removed: dict[int, list[str]] | None = None,
) -> Iterator[tuple[int, list[str]]]:
    """Stream ``(page number, lines)`` → the same without running lines.

    Holds at most ``2 * window + 1`` pages. Pages are compared only with pages whose
    number is within ``window`` of theirs (gaps in the numbering are allowed).
    ``headings`` maps a page to the casefolded outline titles pointing at it (kept);
    ``titles`` (outline ``title_key`` and ``heading_key`` set, growing as pages are read) and
    ``body_size`` (the body's font size so far) find running heads carrying a title;
    ``removed`` collects each page's removed lines.
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
        size = body_size() if body_size is not None else 0.0
        gone: list[str] | None = removed.setdefault(number, []) if removed is not None else None
        kept = strip_page(lines, others, label, protected, number, titles, size, gone)
        if removed is not None and not gone:
            del removed[number]
        return number, kept

    for number, lines in pages:
        buffer.append((number, lines, edge_keys(lines, number)))
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
