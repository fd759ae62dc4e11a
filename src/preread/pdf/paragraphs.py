"""Lines of a page → paragraphs and headings.

pypdf's plain mode gives one line per printed line. A paragraph ends at a blank line,
or at a line that ends a sentence and is clearly shorter than the page's usual line.
A heading is a short line standing alone: at the top of the page or after a paragraph
end, not ending in sentence punctuation, followed by a line starting with a capital
(or nothing), and shaped like a heading (numbered, Title Case or CAPITALS, few words).
Line-end hyphens are repaired as lines are joined (see ``hyphenation``).

When the layout is known (``layout.Line``): a line set clearly larger than the body is a
heading whatever its shape (consecutive such lines are one heading), a line the
furniture pass made a heading (a contents entry's title) is one, a line of figure
residue (no two letters: axis numbers, symbols) standing alone is dropped, and on a
sparse page (a title page) a line after a wide gap starts a paragraph of its own that
ends with the line, so title-page lines are sentences of their own.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from preread.pdf.hyphenation import Evidence, join_broken
from preread.pdf.layout import Line, size_of

MAX_HEADING_LEN = 90
MAX_HEADING_WORDS = 12
LARGER = 1.15
"""A line at least this much larger than the body is a heading."""
WIDE_GAP = 1.9
"""On a sparse page, a gap above a line of this many times its size starts a paragraph."""
_TERMINAL = re.compile(r"[.!?…:][\"'”’»)\]]*(?:\s?\d{1,2})?$")  # may end in a footnote mark
_NUMBERED = re.compile(
    r"^(?:(?:\d+(?:\.\d+)*\.?)|(?:[IVXLC]+\.)|(?:[A-Z]\.)|"
    r"(?:(?:chapter|part|section|appendix|kapitel|teil|anhang)\s+[\dIVXLCA-Z]+[.:]?))\s+\S",
    re.IGNORECASE,
)
_TWO_LETTERS = re.compile(r"[^\W\d_].*?[^\W\d_]")
_SMALL = "a an and as at but by for from in into of on or the to with vs via der die das und"
_SMALL_WORDS = frozenset([*_SMALL.split(), "von", "zu", "im", "des"])


@dataclass(frozen=True)
class Paragraph:
    text: str
    heading: bool = False
    markers: tuple[str, ...] = ()
    closed: bool = False  # ends where it ends even without sentence punctuation

    @property
    def is_open(self) -> bool:
        """Ends mid-sentence, so the next page's first paragraph may continue it."""
        return not self.heading and not self.closed and _TERMINAL.search(self.text) is None


def _typical_length(lines: Sequence[str]) -> float:
    lengths = [len(line) for line in lines if len(line) >= 20]
    if len(lengths) < 4:
        return 0.0
    return float(statistics.median(lengths))


def _looks_like_heading(line: str) -> bool:
    if len(line) > MAX_HEADING_LEN or len(line) < 2 or _TERMINAL.search(line):
        return False
    if line[-1] in ",;-–—(" or not any(ch.isalpha() for ch in line):
        return False
    numbered = _NUMBERED.match(line)
    if numbered:
        return line[numbered.end() - 1].isupper()
    words = line.split()
    if len(words) > MAX_HEADING_WORDS or not words[0][:1].isupper():
        return False
    if line.isupper():
        return True
    content = [w for w in words if w.casefold() not in _SMALL_WORDS and w[:1].isalpha()]
    capital = sum(1 for w in content if w[:1].isupper())
    return len(words) <= 3 or capital >= 0.6 * max(1, len(content))


_WORD3 = re.compile(r"[^\W\d_]{3}")


def _residue(line: str) -> bool:
    """A line of figure residue: no word of three letters, no sentence end (``0 10 20``,
    ``U2``, ``x y``)."""
    return _WORD3.search(line) is None and line.rstrip()[-1:] not in tuple(".!?…")


def _starts_new_sentence(line: str) -> bool:
    first = line.lstrip("\"'“‘«([")[:1]
    return first.isupper() or first.isdigit()


def _large(line: str, body_size: float) -> bool:
    size = size_of(line)
    return (
        body_size > 0
        and size >= LARGER * body_size
        and len(line) <= MAX_HEADING_LEN
        and _TWO_LETTERS.search(line) is not None
    )


def build_paragraphs(
    lines: Sequence[str],
    evidence: Evidence | None = None,
    body_size: float = 0.0,
    language: str = "en",
) -> list[Paragraph]:
    """Paragraphs of a page, in order; headings are their own paragraphs.

    ``body_size`` is the document's body font size (0: unknown, shapes only);
    ``language`` picks the hyphenation rules."""
    typical = _typical_length(lines)
    sparse = typical == 0.0 and any(size_of(line) > 0 for line in lines)
    paragraphs: list[Paragraph] = []
    current: str | None = None
    markers: list[str] = []
    previous_ended = True  # the previous line closed a paragraph (or page start)
    spread = False  # a sparse page whose lines stand apart: a title page

    def flush(closed: bool = False) -> None:
        nonlocal current
        if current:
            paragraphs.append(Paragraph(current, markers=tuple(markers), closed=closed))
        current = None
        markers.clear()

    def heading(text: str, line: str) -> None:
        flush()
        marks = line.markers if isinstance(line, Line) else ()
        if paragraphs and paragraphs[-1].heading and _large(line, body_size):
            last = paragraphs[-1]
            if isinstance(line, Line) and line.gap <= WIDE_GAP * line.size:
                paragraphs[-1] = Paragraph(f"{last.text} {text}", True, last.markers + marks)
                return
        paragraphs.append(Paragraph(text, heading=True, markers=marks))

    following = [""] * len(lines)  # the next non-blank line after each line
    upcoming = ""
    for i in range(len(lines) - 1, -1, -1):
        following[i] = upcoming
        if lines[i]:
            upcoming = lines[i]
    for i, line in enumerate(lines):
        if not line:
            flush()
            previous_ended = True
            continue
        next_line = following[i]
        short = len(line) < 0.75 * typical if typical else len(line) <= 60
        styled = isinstance(line, Line) and line.size > 0
        gap, size = (line.gap, line.size) if isinstance(line, Line) else (0.0, 0.0)
        if styled and previous_ended and _residue(line):
            continue  # figure residue standing alone: axis numbers, labels, a lone symbol
        if (isinstance(line, Line) and line.role == "heading") or _large(line, body_size):
            heading(line, line)
            previous_ended = True
            continue
        if (
            previous_ended
            and short
            and (not next_line or _starts_new_sentence(next_line))
            and _looks_like_heading(line)
        ):
            heading(line, line)
            previous_ended = True
            continue
        if sparse and styled and gap > WIDE_GAP * size and (current or paragraphs):
            flush(closed=True)
            spread = True
        if isinstance(line, Line):
            markers.extend(line.markers)
        if current is None:
            current = line
        else:
            joined = join_broken(current, line, evidence, language)
            current = joined if joined is not None else f"{current} {line}"
        ends = _TERMINAL.search(line) is not None
        # a line of figure residue (axis numbers, symbols) does not hold a sentence open
        previous_ended = ends or _TWO_LETTERS.search(line) is None
        if ends and short and next_line and _starts_new_sentence(next_line):
            flush()
    flush(closed=spread)
    return paragraphs


def join_across_pages(
    first: str, second: str, evidence: Evidence | None = None, language: str = "en"
) -> str:
    """A paragraph cut by a page break, put back together."""
    joined = join_broken(first, second, evidence, language)
    return joined if joined is not None else f"{first} {second}"
