"""A page's furniture that is not body text: tables of contents and footnote areas.

Works on ``layout.Line`` objects (plain strings work too, with less evidence):

* **Tables of contents**: a line with dot leaders and a page number (``1.1 Linear
  systems . . . . 5``) is an entry; on a page headed "Contents" (or its French and
  German names), or after a contents page, a line ending in a page number is one too.
  ``toc="skip"`` drops the entries and the "Contents" heading; ``toc="titles"`` keeps
  each entry's title (no leaders, no page number) as a heading.
* **Footnote areas**: at the foot of a page, lines in a smaller font than the body
  whose first line starts with a label (``1``, ``*``, ``†``…). They are taken out of the
  page and returned as notes keyed by label, for the reader to place after the
  paragraph that references them (or to drop).

What was taken out is returned as data (``Furniture``), so nothing is lost silently.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from preread.pdf.edges import is_page_number
from preread.pdf.layout import Line, size_of

_LEADERS = re.compile(r"(?:\s*[.·…_]){4,}\s*(?P<page>\d{1,4}|[ivxlcdm]{1,7})\s*$", re.IGNORECASE)
_TRAILING_PAGE = re.compile(r"^(?P<title>.*?\S)\s+(?P<page>\d{1,4}|[ivxlcdm]{1,7})$")
_TOC_HEADINGS = frozenset(
    [
        "contents",
        "table of contents",
        "inhaltsverzeichnis",
        "inhalt",
        "table des matières",
        "sommaire",
        "contenu",
    ]
)
_LABEL = re.compile(r"^(?P<label>\d{1,3}|[*†‡§¶]{1,3}|[a-z])(?:\s+|(?=[A-ZÀ-ÖØ-Þ„“\"(]))(?=\S)")
SMALLER = 0.92
"""A footnote line's size is at most this fraction of the body's."""
MAX_NOTE_LINES = 40


@dataclass
class Furniture:
    """What one page's furniture pass took out: TOC lines, notes (label, text), and the
    footnote markers the layout pass dropped from its body."""

    toc: list[str] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)
    markers: list[str] = field(default_factory=list)


def toc_entry(line: str, on_toc_page: bool) -> str | None:
    """The entry's title when ``line`` is a table-of-contents entry, else None."""
    match = _LEADERS.search(line)
    if match:
        title = line[: match.start()].strip(" .·…_")
        return title or line[: match.start()]
    if on_toc_page:
        trailing = _TRAILING_PAGE.match(line)
        if trailing and any(ch.isalpha() for ch in trailing.group("title")):
            return trailing.group("title")
    return None


def _is_toc_heading(line: str) -> bool:
    return " ".join(line.casefold().strip(" .:").split()) in _TOC_HEADINGS


def strip_toc(lines: Sequence[str], mode: str, after_toc: bool, out: Furniture) -> list[str]:
    """``lines`` without table-of-contents entries (``skip``) or with each entry's
    title only (``titles``, as a heading). ``after_toc``: the previous page was one."""
    content = [line for line in lines if line]
    headed = any(_is_toc_heading(line) for line in content[:3])
    leaders = sum(1 for line in content if _LEADERS.search(line))
    trailing = sum(1 for line in content if _TRAILING_PAGE.match(line))
    on_toc = headed or leaders >= 3 or (after_toc and trailing * 2 >= max(1, len(content)))
    if not on_toc and leaders == 0:
        return list(lines)
    kept: list[str] = []
    pending: list[str] = []  # a wrapped entry's first lines, waiting for its page number
    for line in lines:
        if not line:
            kept.extend(pending)
            pending = []
            kept.append(line)
            continue
        if on_toc and _is_toc_heading(line):
            out.toc.append(line)
            if mode == "titles":
                kept.append(_as_heading(line, line))
            continue
        title = toc_entry(line, on_toc)
        if title is None:
            if on_toc and len(pending) < 2 and not line.rstrip().endswith((".", "!", "?")):
                pending.append(line)
            else:
                kept.extend(pending)
                pending = []
                kept.append(line)
            continue
        out.toc.extend([*pending, line])
        if mode == "titles":
            full = " ".join([*(str(p) for p in pending), title])
            kept.append(_as_heading(line, full))
        pending = []
    kept.extend(pending)
    return kept


def is_toc_page(furniture: Furniture, lines: Sequence[str]) -> bool:
    """The page was mostly a table of contents (so the next may continue it)."""
    return len(furniture.toc) >= 3 and len(furniture.toc) * 2 >= sum(1 for x in lines if x)


def _as_heading(line: str, text: str) -> Line:
    base = line if isinstance(line, Line) else Line(line)
    heading = base.with_text(text)
    heading.role = "heading"
    return heading


def strip_notes(lines: Sequence[str], body_size: float, out: Furniture) -> list[str]:
    """``lines`` without the footnote area at the foot of the page (into ``out.notes``)."""
    if body_size <= 0:
        return list(lines)
    end = len(lines)
    while end > 0 and (not lines[end - 1] or is_page_number(lines[end - 1])):
        end -= 1
    start = end
    while start > 0 and end - start < MAX_NOTE_LINES:
        line = lines[start - 1]
        size = size_of(line)
        if not line or not 0 < size <= SMALLER * body_size:
            break
        start -= 1
    while start < end and not _LABEL.match(lines[start]):
        start += 1  # the area starts at a labelled line
    if start >= end or start == 0:
        return list(lines)
    notes: list[tuple[str, list[str]]] = []
    for line in lines[start:end]:
        match = _LABEL.match(line)
        if match:
            notes.append((match.group("label"), [line[match.end() :].strip()]))
        else:
            notes[-1][1].append(str(line))
    from preread.pdf.hyphenation import join_broken

    for label, parts in notes:
        text = parts[0]
        for part in parts[1:]:
            joined = join_broken(text, part)
            text = joined if joined is not None else f"{text} {part}"
        out.notes.append((label, text))
    return [*lines[:start], *lines[end:]]
