"""A page's text runs (font, size, position from pypdf's text visitor) → styled lines.

pypdf's ``extract_text(visitor_text=…)`` reports every piece of text it emits with the
text matrix, the current transformation matrix, the font and the font size; the pieces,
put together, are exactly the page's text. This module collects them (``RunCollector``)
and cuts them into ``Line`` objects: strings (what the rest of the pipeline reads)
that also know their main font size, baseline, left edge, boldness and the space above
them. Superscripts are decided here, where their size and height are known: a footnote
marker after a word is dropped (and recorded), a power (``x`` ², ``10`` ⁶) is marked
(``⟨^2⟩``) for ``speak_powers`` to say in the page's language ("x squared", "10 to the
6", "x au carré"), anything else raised and small is dropped rather than glued on.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

_BOLD = re.compile(r"bold|black|heavy|semibold|demi|cmbx|cmb\d|-bd|\+bx|mediumit", re.IGNORECASE)
_UNICODE_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻ⁿⁱ", "0123456789+-ni")
_SUPERSCRIPT_CHARS = frozenset("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻ⁿⁱ")
_MARKER = re.compile(r"^(?:\d{1,3}|[*†‡§¶#]{1,3}|[a-z])$")
_POWER = re.compile(r"^[-+−]?(?:\d{1,3}|[a-z])(?:[-+−](?:\d{1,3}|[a-z]))?$")
_BASE = re.compile(r"(?:^|[\s(=+\-−*/·×])(?P<base>[A-Za-z]|10|[)\]])$")
POWER_OPEN, POWER_CLOSE = "\u27e8^", "\u27e9"
_POWER_MARK = re.compile("\u27e8\\^([^\u27e9]{1,12})\u27e9")
_POWER_WORDS = {
    # squared, cubed, "to the n", minus, plus
    "en": ("squared", "cubed", "to the {}", "minus", "plus"),
    "fr": ("au carré", "au cube", "puissance {}", "moins", "plus"),
    "de": ("Quadrat", "hoch drei", "hoch {}", "minus", "plus"),
}
MAX_RUNS = 100_000
"""Pieces collected per page at most; beyond that the page's styles are not kept."""


@dataclass(frozen=True)
class Run:
    text: str
    x: float
    y: float
    size: float
    bold: bool


class Line(str):
    """A line of page text that knows its layout. ``size`` is its main font size (by
    characters), ``y`` its baseline (PDF units, up is larger), ``gap`` the distance to
    the line above (0 for the first), ``markers`` the footnote markers dropped from it,
    ``role`` what the furniture pass made of it (``"heading"`` or ``""``)."""

    size: float
    y: float
    x: float
    bold: bool
    gap: float
    markers: tuple[str, ...]
    role: str

    def __new__(
        cls,
        text: str,
        size: float = 0.0,
        y: float = 0.0,
        x: float = 0.0,
        bold: bool = False,
        gap: float = 0.0,
        markers: tuple[str, ...] = (),
    ) -> Line:
        line = super().__new__(cls, text)
        line.size, line.y, line.x, line.bold, line.gap = size, y, x, bold, gap
        line.markers = markers
        line.role = ""
        return line

    def with_text(self, text: str) -> Line:
        return Line(text, self.size, self.y, self.x, self.bold, self.gap, self.markers)


def size_of(line: str) -> float:
    """A line's font size, 0 when unknown (a plain ``str``)."""
    return line.size if isinstance(line, Line) else 0.0


@dataclass
class RunCollector:
    """The ``visitor_text`` callback: collects a page's runs (bounded by ``MAX_RUNS``)."""

    runs: list[Run] = field(default_factory=list)
    overflow: bool = False
    _fonts: dict[int, bool] = field(default_factory=dict)

    def __call__(self, text: str, cm: Any, tm: Any, font: Any, size: Any) -> None:
        if not text:
            return
        if len(self.runs) >= MAX_RUNS:
            self.overflow = True
            self.runs.append(Run(text, 0.0, 0.0, 0.0, False))
            return
        try:
            a, b, c, d, e, f = tm
            ca, cb, cc, cd, ce, cf = cm
            x = e * ca + f * cc + ce
            y = e * cb + f * cd + cf
            ma, mb = a * ca + b * cc, a * cb + b * cd
            mc, md = c * ca + d * cc, c * cb + d * cd
            height = abs(size) * abs(ma * md - mb * mc) ** 0.5
        except (TypeError, ValueError):
            self.runs.append(Run(text, 0.0, 0.0, 0.0, False))
            return
        self.runs.append(Run(text, x, y, round(height, 1), self._bold(font)))

    def _bold(self, font: Any) -> bool:
        key = id(font)
        known = self._fonts.get(key)
        if known is None:
            try:
                name = str(font.get("/BaseFont", "")) if font is not None else ""
            except Exception:  # an odd font dictionary is not bold
                name = ""
            known = _BOLD.search(name) is not None
            self._fonts[key] = known
        return known

    def text(self) -> str:
        return "".join(run.text for run in self.runs)


def _pieces(runs: list[Run]) -> list[list[Run]]:
    """Runs cut at newlines into lines of runs; a "line" pypdf started for a run on the
    same baseline further right (a superscript set as its own text object, a footnote's
    label) is put back on its line."""
    lines: list[list[Run]] = [[]]
    for run in runs:
        parts = run.text.split("\n")
        for i, part in enumerate(parts):
            if i:
                lines.append([])
            if part:
                lines[-1].append(Run(part, run.x, run.y, run.size, run.bold))
    merged: list[list[Run]] = []
    for line in lines:
        if merged and line and merged[-1] and _same_line(merged[-1], line[0]):
            last, first = merged[-1][-1], line[0]
            alike = min(last.size, first.size) >= 0.9 * max(last.size, first.size)
            if alike and not last.text[-1:].isspace() and not first.text[:1].isspace():
                line[0] = Run(" " + first.text, first.x, first.y, first.size, first.bold)
            merged[-1].extend(line)
        else:
            merged.append(line)
    return merged


def _same_line(runs: list[Run], run: Run) -> bool:
    size = max(max(r.size for r in runs), run.size)
    last = runs[-1]
    return size > 0 and abs(run.y - last.y) <= 0.5 * size and run.x > last.x


def _main_style(runs: list[Run]) -> tuple[float, float, float, bool]:
    """(size, baseline, left x, bold) of the runs' main font (most characters)."""
    weight: Counter[float] = Counter()
    bold = 0
    letters = 0
    for run in runs:
        n = len(run.text) - run.text.count(" ")
        weight[run.size] += n
        letters += n
        if run.bold:
            bold += n
    if not weight:
        return 0.0, 0.0, 0.0, False
    size = weight.most_common(1)[0][0]
    main = [r for r in runs if r.size == size and r.text.strip()]
    y = main[0].y if main else runs[0].y
    x = min((r.x for r in runs if r.text.strip()), default=0.0)
    return size, y, x, bold * 2 > letters


def read_superscript(before: str, raised: str) -> tuple[str, str | None]:
    """What a raised run reads as, given the line's text before it: ``(text, marker)``.

    ``marker`` is set when it is a footnote marker (then ``text`` is empty)."""
    sup = raised.strip().translate(_UNICODE_SUPERSCRIPTS)
    if not sup:
        return raised, None
    if not before.strip():
        return sup + " ", None  # a footnote's own label at the line start: kept
    base = _BASE.search(before.rstrip() if before.endswith(" ") else before)
    if base is not None and not before.endswith(" ") and _POWER.match(sup):
        return f" {POWER_OPEN}{sup.replace('−', '-')}{POWER_CLOSE}", None
    if _MARKER.match(sup) and before[-1:] not in "([{":
        return "", sup
    if sup[:1].isupper():
        return raised, None  # a raised capital (the A of LaTeX): kept as printed
    return "", None


def speak_powers(text: str, language: str = "en") -> str:
    """The powers ``read_superscript`` marked, in words of ``language``: "x squared",
    "10 to the 6", "x au carré", "10 hoch 6"."""
    if POWER_OPEN not in text:
        return text
    squared, cubed, power, minus, plus = _POWER_WORDS.get(language, _POWER_WORDS["en"])

    def words(match: re.Match[str]) -> str:
        value = match.group(1)
        if value == "2":
            return squared
        if value == "3":
            return cubed
        spoken = value[0] + value[1:].replace("+", f" {plus} ").replace("-", f" {minus} ")
        if spoken.startswith("-"):
            spoken = f"{minus} {spoken[1:]}"
        return power.format(spoken.lstrip("+"))

    return _POWER_MARK.sub(words, text)


def _unicode_superscripts(text: str, markers: list[str]) -> str:
    """``x²`` → "x squared", ``word¹`` → "word" (a marker), in already joined text."""
    if not any(ch in _SUPERSCRIPT_CHARS for ch in text):
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] in _SUPERSCRIPT_CHARS:
            j = i
            while j < len(text) and text[j] in _SUPERSCRIPT_CHARS:
                j += 1
            spoken, marker = read_superscript("".join(out), text[i:j])
            if marker is not None:
                markers.append(marker)
            out.append(spoken)
            i = j
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _read_line(pieces: list[Run], size: float, baseline: float) -> tuple[str, list[str]]:
    """A line's text with its raised runs read (consecutive ones together), and the
    footnote markers dropped from it."""
    markers: list[str] = []
    parts: list[str] = []
    up: list[str] = []
    for run in [*pieces, None]:
        raised = (
            run is not None
            and size > 0
            and 0 < run.size < 0.9 * size
            and run.y > baseline + 0.15 * size
            and len(run.text.strip()) + sum(len(u) for u in up) <= 6
        )
        if run is not None and raised:
            up.append(run.text)
            continue
        if up:
            spoken, marker = read_superscript("".join(parts), "".join(up))
            if marker is not None:
                markers.append(marker)
            parts.append(spoken)
            up.clear()
        if run is not None:
            parts.append(run.text)
    return _unicode_superscripts("".join(parts), markers), markers


def styled_lines(runs: list[Run]) -> list[tuple[str, tuple[float, float, float, bool], list[str]]]:
    """Each line's raw text (superscripts read), main style and dropped markers."""
    result: list[tuple[str, tuple[float, float, float, bool], list[str]]] = []
    for pieces in _pieces(runs):
        style = _main_style(pieces)
        text, markers = _read_line(pieces, style[0], style[1])
        result.append((text, style, markers))
    return result
