"""One entry point for every input: ``read_document(path_or_bytes) -> DocumentText``.

The bytes decide the reader (``sniff``); PDFs go to ``preread.pdf``, the rest to the
readers of this package, which share the PDF pipeline's sentences and blocks.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from preread.errors import BadDocument, BadInput, NotFound, PayloadTooLarge
from preread.model import DocumentText
from preread.pages import format_pages, parse_pages
from preread.readers.assemble import ReadOptions
from preread.readers.sniff import HEAD, Kind, sniff
from preread.settings import TextSettings
from preread.units import format_size

if TYPE_CHECKING:
    from preread.settings import Settings

MAX_TEXT_BYTES = 16_000_000
"""Text, Markdown and HTML files larger than this are refused (``PayloadTooLarge``): after
extraction, sentences and language detection run at ≈ 0.15–0.3 MB/s on this project's
machine, so this bounds a reading to about a minute or two."""
MAX_EPUB_BYTES = 500_000_000
_TEXT_KINDS = ("text", "markdown", "html")
_EXT = {"markdown": "md", "text": "txt"}


def read_options(settings: Settings) -> ReadOptions:
    """What the settings say is heard beyond the prose (``PREREAD_READ_CODE``,
    ``PREREAD_READ_ALT_TEXT``, ``PREREAD_FOOTNOTES``, ``PREREAD_TOC``)."""
    return ReadOptions(
        code=settings.read_code,
        alt_text=settings.read_alt_text,
        notes=settings.text.footnotes == "read",
        toc_titles=settings.text.toc == "titles",
    )


def _head(source: Path | bytes) -> tuple[bytes, int]:
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source[:HEAD]), len(source)
    path = Path(source)
    if not path.exists():
        raise NotFound(f"no such file: {path}")
    if not path.is_file():
        raise BadInput(f"not a file: {path}")
    try:
        with path.open("rb") as handle:
            return handle.read(HEAD), path.stat().st_size
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror or exc}") from exc


def _check_size(kind: Kind, size: int, name: str) -> None:
    limit = MAX_TEXT_BYTES if kind in _TEXT_KINDS else MAX_EPUB_BYTES
    if size > limit:
        what = "an EPUB" if kind == "epub" else "a text, Markdown or HTML file"
        raise PayloadTooLarge(
            f"{name} is {format_size(size)}: preread reads {what} up to {format_size(limit)}"
        )


def _select(document: DocumentText, pages: str) -> DocumentText:
    wanted = set(parse_pages(pages, document.pages))
    chosen = [b for b in document.blocks if b.page in wanted]
    if not chosen:
        which = format_pages(sorted(wanted))
        raise BadDocument(f"{document.source_name} (sections {which}) has no text to read")
    blocks = tuple(replace(b, index=i) for i, b in enumerate(chosen))
    return replace(document, blocks=blocks)


def read_document(
    source: Path | bytes,
    *,
    name: str | None = None,
    pages: str | None = None,
    password: str | None = None,
    options: ReadOptions | None = None,
    declared: Kind | None = None,
    text: TextSettings | None = None,
) -> DocumentText:
    """Read a PDF, EPUB, Markdown, HTML or UTF-8 text file (a path or its bytes).

    ``pages`` selects pages (PDF) or sections (the others); ``declared`` is a media
    type's kind, which only chooses among the text kinds; ``text`` goes to the PDF
    reader, ``options`` (default: from ``text``) to the others. Raises ``NotFound``,
    ``BadInput`` (bad ``pages``), ``PayloadTooLarge`` or ``BadDocument``.
    """
    head, size = _head(source)
    if isinstance(source, Path | str):
        name = name or Path(source).name
    kind = sniff(head, name or "the document", declared)
    name = name or f"document.{_EXT.get(kind, kind)}"
    if kind == "pdf":
        from preread.pdf import read_document as read_pdf

        return read_pdf(source, name=name, pages=pages, password=password, text=text)
    _check_size(kind, size, name)
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    else:
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise BadInput(f"cannot read {source}: {exc.strerror or exc}") from exc
    if options is None:
        text = text or TextSettings()
        options = ReadOptions(notes=text.footnotes == "read", toc_titles=text.toc == "titles")
    document = _read(kind, data, name, options, text)
    return _select(document, pages) if pages else document


def _read(
    kind: Kind, data: bytes, name: str, options: ReadOptions, text: TextSettings | None
) -> DocumentText:
    if kind == "epub":
        from preread.readers.epub import read_epub

        return read_epub(data, name, options, text)
    if kind == "html":
        from preread.readers.markup import read_html

        return read_html(data, name, options, text)
    if kind == "markdown":
        from preread.readers.markup import read_markdown

        return read_markdown(data, name, options, text)
    from preread.readers.text import read_text

    return read_text(data, name, text)
