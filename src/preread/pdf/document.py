"""The pipeline: PDF bytes → cleaned pages → paragraphs → sentences → blocks.

Pages stream through: extraction (one page at a time, time-bounded), running-line
removal (a window of ``WINDOW`` pages each side), paragraphs with hyphenation repaired
(evidence from the same window), sentences, blocks. Pages outside the selection but
within the window are read as context only, so a page gives the same blocks whatever
else was selected. A sentence cut by a page break is completed from the next page and
belongs to the page where it starts.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Iterator
from pathlib import Path

from pypdf import PdfReader

from preread.errors import BadDocument, BadInput, NotFound
from preread.ids import document_id_of_bytes
from preread.model import Block, Chapter, DocumentText
from preread.pdf.blocks import Unit, pack
from preread.pdf.edges import WINDOW, strip_edges
from preread.pdf.extract import PAGE_TIMEOUT, iter_pages, open_pdf
from preread.pdf.furniture import Furniture, is_toc_page, strip_notes, strip_toc
from preread.pdf.hyphenation import Evidence
from preread.pdf.layout import size_of
from preread.pdf.outline import chapters, metadata_title, page_labels
from preread.pdf.pages import format_pages, parse_pages
from preread.pdf.paragraphs import Paragraph, build_paragraphs, join_across_pages
from preread.pdf.sentences import sentence_spans, split_sentences
from preread.settings import TextSettings


def _load(source: Path | bytes, name: str | None) -> tuple[bytes, str]:
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source), name or "document.pdf"
    path = Path(source)
    if not path.exists():
        raise NotFound(f"no such file: {path}")
    if not path.is_file():
        raise BadInput(f"not a file: {path}")
    try:
        return path.read_bytes(), name or path.name
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror or exc}") from exc


_CITATION = re.compile(r"\s?\[\d{1,4}(?:\s*[,;–-]\s*\d{1,4})*\]")
_ENDS = re.compile(r"[.!?…:;][\"'”’»)\]]*$")


class _Notes:
    """One page's footnotes as units, taken as the paragraphs that cite them are read."""

    def __init__(self, notes: list[tuple[str, str]], read: bool) -> None:
        self.by_label: dict[str, list[Unit]] = {}
        if not read:
            return
        for label, text in notes:
            sentences = split_sentences(text) or [text]
            sentences[0] = f"Note: {sentences[0]}"
            self.by_label.setdefault(label, []).extend(Unit(s) for s in sentences)

    def take(self, markers: tuple[str, ...]) -> list[Unit]:
        return [u for m in markers for u in self.by_label.pop(m, [])]

    def rest(self) -> list[Unit]:
        units = [u for us in self.by_label.values() for u in us]
        self.by_label.clear()
        return units


def _text_of(paragraph: Paragraph, drop_citations: bool) -> str:
    text = _CITATION.sub("", paragraph.text) if drop_citations else paragraph.text
    if paragraph.closed and not _ENDS.search(text):
        text += "."  # a title-page line: a sentence of its own
    return text


def _units(paragraphs: list[Paragraph], notes: _Notes, drop_citations: bool = False) -> list[Unit]:
    units: list[Unit] = []
    for paragraph in paragraphs:
        if paragraph.heading:
            # A heading has no end punctuation (that is part of what makes it one). Give
            # it a full stop, so a voice that gets the block's text in one piece (OpenAI
            # and compatible servers do) pauses after it instead of running it into the
            # paragraph: "1 The Path Along the Cliffs The lighthouse stands…".
            text = paragraph.text.rstrip()
            units.append(Unit(text if _ENDS.search(text) else text + ".", heading=True))
        else:
            units.extend(Unit(s) for s in split_sentences(_text_of(paragraph, drop_citations)))
        units.extend(notes.take(paragraph.markers))
    return units


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
    ]
)


_NUMBERED_OR_TOC = re.compile(r"^\d+(?:\.\d+)*\.?\s|\s\d+$")


def _title_like(text: str) -> bool:
    """A heading that may serve as the title: not "Contents", not numbered, not a
    table-of-contents entry ending in a page number."""
    return text.casefold().strip(" .:") not in _NOT_TITLES and _NUMBERED_OR_TOC.search(text) is None


def _has_images(reader: PdfReader, numbers: list[int]) -> bool:
    for number in numbers[:20]:
        try:
            resources = reader.pages[number - 1].get("/Resources")
            xobjects = resources.get_object().get("/XObject") if resources else None
            if xobjects:
                for ref in xobjects.get_object().values():
                    if ref.get_object().get("/Subtype") == "/Image":
                        return True
        except Exception:  # unreadable resources: not evidence of images
            continue
    return False


class _Pipeline:
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
        self.text_pages: set[int] = set()
        self.first_heading: str | None = None

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
            yield page.number, page.lines

    def _forget_before(self, number: int) -> None:
        while self._window and self._window[0][0] < number - WINDOW:
            self.evidence.remove(self._window.popleft()[1])

    def body_size(self) -> float:
        """The body's font size: the size most characters of long lines have so far."""
        return self.sizes.most_common(1)[0][0] if self.sizes else 0.0

    def _furniture(self, number: int, lines: list[str]) -> tuple[list[str], Furniture]:
        furniture = Furniture()
        kept = strip_toc(lines, self.text.toc, self.after_toc, furniture)
        self.after_toc = is_toc_page(furniture, lines)
        kept = strip_notes(kept, self.body_size(), furniture)
        return kept, furniture

    def pages(self, numbers: list[int], page_timeout: float) -> Iterator[tuple[int, list[Unit]]]:
        """``(page, units)`` for each page of ``numbers`` in order."""
        previous: tuple[int, list[Unit], str | None, list[Unit]] | None = None
        drop = self.text.citations == "drop"
        stream = strip_edges(
            self._extracted(numbers, page_timeout), self.labels, WINDOW, self.headings
        )
        for number, all_lines in stream:
            self._forget_before(number)
            lines, furniture = self._furniture(number, all_lines)
            if furniture.toc or furniture.notes:
                self.furniture[number] = furniture
            notes = _Notes(furniture.notes, self.text.footnotes == "read")
            paragraphs = build_paragraphs(lines, self.evidence, self.body_size())
            if self.first_heading is None and number == 1:
                self.first_heading = next(
                    (p.text for p in paragraphs if p.heading and _title_like(p.text)), None
                )
            carried: list[Unit] = []
            if previous is not None:
                prev_number, prev_units, open_text, open_notes = previous
                if open_text is not None:
                    if paragraphs and not paragraphs[0].heading and number == prev_number + 1:
                        first = paragraphs[0]
                        following = _text_of(first, drop)
                        joined = join_across_pages(open_text, following, self.evidence)
                        cut = len(open_text) - 1
                        for start, end in sentence_spans(joined):
                            text = joined[start:end].strip()
                            if text:
                                (prev_units if start < cut else carried).append(Unit(text))
                        # the notes the paragraph cites come after it, never inside
                        prev_units.extend(open_notes)
                        carried.extend(notes.take(first.markers))
                        paragraphs = paragraphs[1:]
                    else:
                        prev_units.extend(Unit(s) for s in split_sentences(open_text))
                        prev_units.extend(open_notes)
                yield prev_number, prev_units
            open_text = None
            open_paragraph = None
            if paragraphs and paragraphs[-1].is_open:
                open_paragraph = paragraphs[-1]
                open_text = _text_of(open_paragraph, drop)
                paragraphs = paragraphs[:-1]
            units = carried + _units(paragraphs, notes, drop)
            pending = notes.take(open_paragraph.markers) if open_paragraph else []
            if open_text is None:
                units.extend(notes.rest())
            else:
                pending.extend(notes.rest())
            previous = (number, units, open_text, pending)
        if previous is not None:
            number, units, open_text, open_notes = previous
            if open_text is not None:
                units.extend(Unit(s) for s in split_sentences(open_text))
            units.extend(open_notes)
            yield number, units


def read_document(
    source: Path | bytes,
    *,
    name: str | None = None,
    pages: str | None = None,
    password: str | None = None,
    page_timeout: float = PAGE_TIMEOUT,
    text: TextSettings | None = None,
) -> DocumentText:
    """Read a PDF (a path or its bytes) into the blocks a listener should hear.

    ``pages`` selects pages (``3-7,10``); ``Block.index`` counts over the selection.
    Raises ``NotFound`` (no such path), ``BadInput`` (bad ``pages``) or ``BadDocument``
    (not a PDF, corrupt, encrypted without the right password, no text).
    """
    data, source_name = _load(source, name)
    reader = open_pdf(data, source_name, password)
    count = len(reader.pages)
    selected = parse_pages(pages, count) if pages else list(range(1, count + 1))
    wanted = set(selected)
    needed = sorted(
        {q for p in selected for q in range(max(1, p - WINDOW), min(count, p + WINDOW) + 1)}
    )
    labels = page_labels(reader)
    chapter_list = chapters(reader)
    warnings: list[str] = []
    pipeline = _Pipeline(reader, labels, warnings, chapter_list, text)
    blocks: list[Block] = []
    for number, units in pipeline.pages(needed, page_timeout):
        if number not in wanted:
            continue
        for block_index, sentences in enumerate(pack(units)):
            blocks.append(
                Block(
                    index=len(blocks),
                    page=number,
                    block_index=block_index,
                    text=" ".join(sentences),
                    sentences=tuple(sentences),
                )
            )
    if not blocks:
        raise _no_text(reader, source_name, selected, count, pipeline.text_pages, warnings)
    title = metadata_title(reader) or pipeline.first_heading or Path(source_name).stem
    return DocumentText(
        document_id=document_id_of_bytes(data),
        source_name=source_name,
        title=title,
        pages=count,
        chapters=chapter_list,
        blocks=tuple(blocks),
        page_labels=labels,
        warnings=tuple(w for w in warnings if _warning_page(w) in wanted | {0}),
    )


_WARNING_PAGE = re.compile(r"^page (\d+) ")


def _warning_page(warning: str) -> int:
    """The page a warning is about; warnings about context pages are not reported."""
    match = _WARNING_PAGE.match(warning)
    return int(match.group(1)) if match else 0


def _no_text(
    reader: PdfReader,
    name: str,
    selected: list[int],
    count: int,
    text_pages: set[int],
    warnings: list[str],
) -> BadDocument:
    which = f"page{'s' if len(selected) > 1 else ''} {format_pages(selected)}"
    where = name if len(selected) == count else f"{name} ({which})"
    skipped = [w for w in warnings if "skipped" in w and _warning_page(w) in selected]
    if skipped and len(skipped) >= len(selected):
        return BadDocument(f"{where}: no page could be read ({skipped[0]})")
    if not text_pages.intersection(selected) and _has_images(reader, selected):
        return BadDocument(f"{where} has no text layer (scanned images?); OCR is not supported")
    if not text_pages.intersection(selected):
        return BadDocument(f"{where} has only empty pages")
    if _has_images(reader, selected):
        return BadDocument(
            f"{where} has no text layer beyond a repeated line on each page (scanned "
            "images?); OCR is not supported"
        )
    return BadDocument(f"{where} has no text to read (only page numbers or headers)")
