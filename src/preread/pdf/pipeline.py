"""The per-page pipeline: extracted pages → running lines out → furniture out →
paragraphs → sentences (in the page's language), with footnotes placed after the
paragraph that cites them and sentences completed across page breaks.

Pages stream through with a window of ``WINDOW`` pages each side (running lines and
hyphenation evidence). A sentence cut by a page break belongs to the page where it
starts; the footnotes its paragraph cites follow it there, never inside it.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass

from pypdf import PdfReader

from preread.model import Chapter
from preread.pdf.blocks import Unit
from preread.pdf.edges import WINDOW, heading_key, strip_edges, title_key
from preread.pdf.extract import iter_pages
from preread.pdf.furniture import Furniture, is_toc_page, strip_notes, strip_toc
from preread.pdf.hyphenation import Evidence
from preread.pdf.language import SAMPLE_CHARS, LanguageTracker
from preread.pdf.layout import size_of, speak_powers
from preread.pdf.paragraphs import Paragraph, build_paragraphs, join_across_pages
from preread.pdf.sentences import sentence_spans, split_sentences
from preread.settings import TextSettings

CITATION = re.compile(r"\s?\[\d{1,4}(?:\s*[,;–-]\s*\d{1,4})*\]")
"""A bracketed numeric citation (``[12]``, ``[3, 4]``), as ``PREREAD_CITATIONS=drop`` drops
it; public so other readers (``preread.readers``) drop the same."""
_CITATION = CITATION
_ENDS = re.compile(r"[.!?…:;][\"'”’»)\]]*$")
NOTE_PREFIX = {"en": "Note: ", "fr": "Note : ", "de": "Fußnote: "}
_NOT_TITLES = frozenset(
    [
        "contents",
        "table of contents",
        "abstract",
        "preface",
        "foreword",
        "introduction",
        "summary",
        "index",
        "inhaltsverzeichnis",
        "inhalt",
        "vorwort",
        "einleitung",
        "table des matières",
        "sommaire",
        "préface",
    ]
)
_NUMBERED_OR_TOC = re.compile(r"^\d+(?:\.\d+)*\.?\s|\s\d+$")


def title_like(text: str) -> bool:
    """A heading that may serve as the title: not "Contents", not numbered, not a
    table-of-contents entry ending in a page number."""
    return text.casefold().strip(" .:") not in _NOT_TITLES and _NUMBERED_OR_TOC.search(text) is None


class Notes:
    """One page's footnotes as units, taken as the paragraphs that cite them are read."""

    def __init__(self, notes: list[tuple[str, str]], read: bool, language: str) -> None:
        self.by_label: dict[str, list[Unit]] = {}
        if not read:
            return
        prefix = NOTE_PREFIX.get(language, NOTE_PREFIX["en"])
        for label, raw in notes:
            text = speak_powers(raw, language)
            sentences = split_sentences(text, language) or [text]
            sentences[0] = prefix + sentences[0]
            self.by_label.setdefault(label, []).extend(Unit(s) for s in sentences)

    def take(self, markers: tuple[str, ...]) -> list[Unit]:
        return [u for m in markers for u in self.by_label.pop(m, [])]

    def rest(self) -> list[Unit]:
        units = [u for us in self.by_label.values() for u in us]
        self.by_label.clear()
        return units


def paragraph_text(paragraph: Paragraph, drop_citations: bool, language: str) -> str:
    """What is read of a paragraph: powers in words, citations dropped if asked; a
    closed paragraph without end punctuation (a title-page line) gets a full stop."""
    text = speak_powers(paragraph.text, language)
    text = _CITATION.sub("", text) if drop_citations else text
    if paragraph.closed and not _ENDS.search(text):
        text += "."
    return text


def paragraph_units(
    paragraphs: list[Paragraph], notes: Notes, language: str, drop_citations: bool = False
) -> list[Unit]:
    """Paragraphs → units: a heading is one (with a full stop), a paragraph its
    sentences, each followed by the notes it cites."""
    units: list[Unit] = []
    for paragraph in paragraphs:
        if paragraph.heading:
            # A heading has no end punctuation (that is part of what makes it one). Give
            # it a full stop, so a voice that gets the block's text in one piece (OpenAI
            # and compatible servers do) pauses after it instead of running it into the
            # paragraph: "1 The Path Along the Cliffs The lighthouse stands…".
            text = speak_powers(paragraph.text, language).rstrip()
            units.append(Unit(text if _ENDS.search(text) else text + ".", heading=True))
        else:
            text = paragraph_text(paragraph, drop_citations, language)
            units.extend(Unit(s) for s in split_sentences(text, language))
        units.extend(notes.take(paragraph.markers))
    return units


@dataclass
class _Open:
    """A page's last paragraph, still open at the page break."""

    number: int
    units: list[Unit]
    language: str
    text: str | None
    notes: list[Unit]


class Pipeline:
    """Per-page state carried across page breaks."""

    def __init__(
        self,
        reader: PdfReader,
        labels: tuple[str, ...],
        warnings: list[str],
        chapter_list: tuple[Chapter, ...] = (),
        text: TextSettings | None = None,
    ) -> None:
        self.reader = reader
        self.text = text or TextSettings()
        self.sizes: Counter[float] = Counter()
        self.after_toc = False
        self.furniture: dict[int, Furniture] = {}
        self.labels = labels
        self.headings: dict[int, set[str]] = {}
        for chapter in chapter_list:
            title = " ".join(chapter.title.casefold().split())
            self.headings.setdefault(chapter.page, set()).add(title)
        self.warnings = warnings
        self.evidence = Evidence()
        self._window: deque[tuple[int, Counter[str]]] = deque()
        self._samples: dict[int, str] = {}
        self.text_pages: set[int] = set()
        self.first_heading: str | None = None
        self.languages = LanguageTracker(self.text.language)
        self.page_languages: dict[int, str] = {}
        # titles a running head may carry: the outline's, then each heading read
        self.titles: set[str] = {k for c in chapter_list if (k := title_key(c.title))}
        self.removed: dict[int, list[str]] = {}

    def _extracted(
        self, numbers: list[int], page_timeout: float
    ) -> Iterator[tuple[int, tuple[str, ...]]]:
        for page in iter_pages(self.reader, numbers, self.warnings, page_timeout):
            if page.lines:
                self.text_pages.add(page.number)
            for line in page.lines:
                size = size_of(line)
                if size > 0 and len(line) >= 20:
                    self.sizes[size] += len(line)
            tokens = Evidence.tokens(page.lines)
            self.evidence.add(tokens)
            self._window.append((page.number, tokens))
            self._samples[page.number] = " ".join(line for line in page.lines if line)[
                :SAMPLE_CHARS
            ]
            yield page.number, page.lines

    def _forget_before(self, number: int) -> None:
        while self._window and self._window[0][0] < number - WINDOW:
            gone, tokens = self._window.popleft()
            self.evidence.remove(tokens)
            self._samples.pop(gone, None)

    def body_size(self) -> float:
        """The body's font size: the size most characters of long lines have so far."""
        return self.sizes.most_common(1)[0][0] if self.sizes else 0.0

    def _furniture(self, lines: list[str]) -> tuple[list[str], Furniture]:
        furniture = Furniture()
        kept = strip_toc(lines, self.text.toc, self.after_toc, furniture)
        self.after_toc = is_toc_page(furniture, lines)
        kept = strip_notes(kept, self.body_size(), furniture)
        return kept, furniture

    def _language(self, number: int) -> str:
        if self.languages.current is None:
            window = [self._samples[n] for n in sorted(self._samples) if n >= number]
            self.languages.start(" ".join(window)[:SAMPLE_CHARS])
        sample = self._samples.get(number, "")
        language = self.languages.page(sample, self._samples.get(number + 1, ""))
        self.page_languages[number] = language
        return language

    def pages(
        self, numbers: list[int], page_timeout: float
    ) -> Iterator[tuple[int, list[Unit], str]]:
        """``(page, units, language)`` for each page of ``numbers`` in order."""
        previous: _Open | None = None
        drop = self.text.citations == "drop"
        read_notes = self.text.footnotes == "read"
        stream = strip_edges(
            self._extracted(numbers, page_timeout),
            self.labels,
            WINDOW,
            self.headings,
            self.titles,
            self.body_size,
            self.removed,
        )
        for number, all_lines in stream:
            self._forget_before(number)
            language = self._language(number)
            lines, furniture = self._furniture(all_lines)
            notes = Notes(furniture.notes, read_notes, language)
            paragraphs = build_paragraphs(lines, self.evidence, self.body_size(), language)
            furniture.markers = [m for p in paragraphs for m in p.markers]
            if furniture.toc or furniture.notes or furniture.markers:
                self.furniture[number] = furniture
            self.titles.update(k for p in paragraphs if p.heading and (k := heading_key(p.text)))
            if self.first_heading is None and number == 1:
                self.first_heading = next(
                    (
                        speak_powers(p.text, language)
                        for p in paragraphs
                        if p.heading and title_like(p.text)
                    ),
                    None,
                )
            carried: list[Unit] = []
            if previous is not None:
                continues = (
                    paragraphs and not paragraphs[0].heading and number == previous.number + 1
                )
                if previous.text is not None and continues:
                    first = paragraphs[0]
                    carried = self._join(previous, paragraph_text(first, drop, language))
                    carried.extend(notes.take(first.markers))
                    paragraphs = paragraphs[1:]
                elif previous.text is not None:
                    previous.units.extend(
                        Unit(s) for s in split_sentences(previous.text, previous.language)
                    )
                    previous.units.extend(previous.notes)
                yield previous.number, previous.units, previous.language
            open_text = None
            open_paragraph = None
            if paragraphs and paragraphs[-1].is_open:
                open_paragraph = paragraphs[-1]
                open_text = paragraph_text(open_paragraph, drop, language)
                paragraphs = paragraphs[:-1]
            units = carried + paragraph_units(paragraphs, notes, language, drop)
            pending = notes.take(open_paragraph.markers) if open_paragraph else []
            if open_text is None:
                units.extend(notes.rest())
            else:
                pending.extend(notes.rest())
            previous = _Open(number, units, language, open_text, pending)
        if previous is not None:
            if previous.text is not None:
                previous.units.extend(
                    Unit(s) for s in split_sentences(previous.text, previous.language)
                )
            previous.units.extend(previous.notes)
            yield previous.number, previous.units, previous.language

    def _join(self, previous: _Open, following: str) -> list[Unit]:
        """The open paragraph completed by the next page's first one: the sentences that
        start before the break go to the previous page (then the notes it cites), the
        rest are returned for the new page."""
        assert previous.text is not None
        language = previous.language
        joined = join_across_pages(previous.text, following, self.evidence, language)
        cut = len(previous.text) - 1
        carried: list[Unit] = []
        for start, end in sentence_spans(joined, language):
            text = joined[start:end].strip()
            if text:
                (previous.units if start < cut else carried).append(Unit(text))
        previous.units.extend(previous.notes)
        return carried
