"""A PDF read into blocks: PDF bytes → cleaned pages → paragraphs → sentences → blocks.

Pages stream through: extraction (one page at a time, time-bounded), running-line
removal (a window of ``WINDOW`` pages each side), paragraphs with hyphenation repaired
(evidence from the same window), sentences, blocks. Pages outside the selection but
within the window are read as context only, so a page gives the same blocks whatever
else was selected. A sentence cut by a page break is completed from the next page and
belongs to the page where it starts. Each page is read in its language (``language``:
detected, or ``TextSettings.language``); the document's language is that of most of
its text, and a chapter mostly in another language says so.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

from pypdf import PdfReader

from preread.errors import BadDocument, BadInput, NotFound
from preread.ids import document_id_of_bytes
from preread.model import Block, Chapter, DocumentText, PageFurniture
from preread.pages import format_pages, parse_pages
from preread.pdf.blocks import pack
from preread.pdf.edges import WINDOW
from preread.pdf.extract import PAGE_TIMEOUT, open_pdf
from preread.pdf.outline import chapters, metadata_title, page_labels
from preread.pdf.pipeline import Pipeline
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
    pipeline = Pipeline(reader, labels, warnings, chapter_list, text)
    blocks: list[Block] = []
    read: Counter[str] = Counter()
    for number, units, language in pipeline.pages(needed, page_timeout):
        if number not in wanted:
            continue
        for block_index, sentences in enumerate(pack(units)):
            block_text = " ".join(sentences)
            read[language] += len(block_text)
            blocks.append(
                Block(
                    index=len(blocks),
                    page=number,
                    block_index=block_index,
                    text=block_text,
                    sentences=tuple(sentences),
                    language=language,
                )
            )
    if not blocks:
        raise _no_text(reader, source_name, selected, count, pipeline.text_pages, warnings)
    title = metadata_title(reader) or pipeline.first_heading or Path(source_name).stem
    language = read.most_common(1)[0][0] if read else pipeline.languages.document_language()
    return DocumentText(
        document_id=document_id_of_bytes(data),
        source_name=source_name,
        title=title,
        pages=count,
        chapters=chapter_languages(chapter_list, blocks, language),
        blocks=tuple(blocks),
        page_labels=labels,
        language=language,
        furniture=tuple(dict.fromkeys(x.strip() for ls in pipeline.removed.values() for x in ls)),
        removed=_furniture(pipeline, wanted),
        warnings=tuple(w for w in warnings if _warning_page(w) in wanted | {0}),
    )


def _furniture(pipeline: Pipeline, wanted: set[int]) -> tuple[PageFurniture, ...]:
    """What was taken out of the selected pages, as data (a reader app or a voice may
    want the page numbers, heads or notes back)."""
    pages = sorted((set(pipeline.removed) | set(pipeline.furniture)) & wanted)
    out = []
    for page in pages:
        found = pipeline.furniture.get(page)
        out.append(
            PageFurniture(
                page=page,
                running=tuple(pipeline.removed.get(page, ())),
                toc=tuple(found.toc) if found else (),
                notes=tuple(found.notes) if found else (),
                markers=tuple(found.markers) if found else (),
            )
        )
    return tuple(out)


def chapter_languages(
    chapter_list: tuple[Chapter, ...], blocks: list[Block], language: str
) -> tuple[Chapter, ...]:
    """The chapters, each with its language when most of its blocks are in another
    language than the document's."""
    out: list[Chapter] = []
    for i, chapter in enumerate(chapter_list):
        end = next((c.page for c in chapter_list[i + 1 :] if c.page > chapter.page), None)
        read: Counter[str] = Counter()
        for block in blocks:
            if block.page >= chapter.page and (end is None or block.page < end):
                read[block.language] += len(block.text)
        mostly = read.most_common(1)[0][0] if read else language
        out.append(replace(chapter, language=mostly if mostly != language else ""))
    return tuple(out)


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
