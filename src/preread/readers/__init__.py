"""Every input preread reads, recognised by its bytes, into one ``DocumentText``.

Public API::

    read_document(source, *, name=None, pages=None, password=None, options=None,
                  declared=None) -> DocumentText
    sniff(head, name, declared=None) -> Kind        # "pdf" | "epub" | "html" | "markdown" | "text"
    ReadOptions(code=False, alt_text=False)

Modules: ``sniff`` (what the bytes are), ``document`` (the dispatch), ``epub`` (the
container, spine, navigation and DRM), ``markup`` (Markdown and HTML), ``text`` (plain
text), ``tree`` (safe parsing), ``walk`` (a tree → paragraphs, headings, notes),
``compiled`` (whether those run compiled by mypyc or from source: ``COMPILED``),
and ``assemble`` (pieces → blocks through ``preread.pdf``'s sentences and packer →
the ``DocumentText``).
"""

from __future__ import annotations

from preread.readers.assemble import ReadOptions

# first: decides whether the compiled EPUB walk or its sources are imported (see compiled.py)
from preread.readers.compiled import IN_USE as COMPILED
from preread.readers.document import MAX_EPUB_BYTES, MAX_TEXT_BYTES, read_document, read_options
from preread.readers.sniff import ACCEPTED, KINDS, Kind, media_kind, sniff

__all__ = [
    "ACCEPTED",
    "COMPILED",
    "KINDS",
    "MAX_EPUB_BYTES",
    "MAX_TEXT_BYTES",
    "Kind",
    "ReadOptions",
    "media_kind",
    "read_document",
    "read_options",
    "sniff",
]
