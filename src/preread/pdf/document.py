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
from preread.pdf.hyphenation import Evidence
from preread.pdf.outline import chapters, metadata_title, page_labels
from preread.pdf.pages import format_pages, parse_pages
from preread.pdf.paragraphs import Paragraph, build_paragraphs, join_across_pages
from preread.pdf.sentences import sentence_spans, split_sentences


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


def _units(paragraphs: list[Paragraph]) -> list[Unit]:
    units: list[Unit] = []
    for paragraph in paragraphs:
        if paragraph.heading:
            # A heading has no end punctuation (that is part of what makes it one). Give
            # it a full stop, so a voice that gets the block's text in one piece (OpenAI
            # and compatible servers do) pauses after it instead of running it into the
            # paragraph: "1 The Path Along the Cliffs The lighthouse stands…".
            units.append(Unit(paragraph.text + ".", heading=True))
        else:
            units.extend(Unit(s) for s in split_sentences(paragraph.text))
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
    ) -> None:
        self.reader = reader
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
            tokens = Evidence.tokens(page.lines)
            self.evidence.add(tokens)
            self._window.append((page.number, tokens))
            yield page.number, page.lines

    def _forget_before(self, number: int) -> None:
        while self._window and self._window[0][0] < number - WINDOW:
            self.evidence.remove(self._window.popleft()[1])

    def pages(self, numbers: list[int], page_timeout: float) -> Iterator[tuple[int, list[Unit]]]:
        """``(page, units)`` for each page of ``numbers`` in order."""
        previous: tuple[int, list[Unit], str | None] | None = None
        stream = strip_edges(
            self._extracted(numbers, page_timeout), self.labels, WINDOW, self.headings
        )
        for number, lines in stream:
            self._forget_before(number)
            paragraphs = build_paragraphs(lines, self.evidence)
            if self.first_heading is None and number == 1:
                self.first_heading = next(
                    (p.text for p in paragraphs if p.heading and _title_like(p.text)), None
                )
            carried: list[Unit] = []
            if previous is not None:
                prev_number, prev_units, open_text = previous
                if open_text is not None:
                    if paragraphs and not paragraphs[0].heading and number == prev_number + 1:
                        joined = join_across_pages(open_text, paragraphs[0].text, self.evidence)
                        cut = len(open_text) - 1
                        for start, end in sentence_spans(joined):
                            text = joined[start:end].strip()
                            if text:
                                (prev_units if start < cut else carried).append(Unit(text))
                        paragraphs = paragraphs[1:]
                    else:
                        prev_units.extend(Unit(s) for s in split_sentences(open_text))
                yield prev_number, prev_units
            open_text = None
            if paragraphs and paragraphs[-1].is_open:
                open_text = paragraphs[-1].text
                paragraphs = paragraphs[:-1]
            previous = (number, carried + _units(paragraphs), open_text)
        if previous is not None:
            number, units, open_text = previous
            if open_text is not None:
                units.extend(Unit(s) for s in split_sentences(open_text))
            yield number, units


def read_document(
    source: Path | bytes,
    *,
    name: str | None = None,
    pages: str | None = None,
    password: str | None = None,
    page_timeout: float = PAGE_TIMEOUT,
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
    pipeline = _Pipeline(reader, labels, warnings, chapter_list)
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
