"""From a PDF to what a listener should hear: blocks of whole sentences.

Public API::

    read_document(source, *, name=None, pages=None, password=None) -> DocumentText
    parse_pages(spec, page_count=None) -> list[int]

Modules, one step each: ``extract`` (pypdf, page by page, time-bounded), ``edges``
(running headers/footers, page numbers), ``hyphenation``, ``paragraphs`` (lines →
paragraphs and headings), ``sentences`` (Punkt + fixes), ``blocks`` (the packer),
``pages`` (the ``--pages`` syntax), ``outline`` (title, chapters, page labels) and
``document`` (the pipeline).
"""

from __future__ import annotations

from preread.pdf.blocks import MAX_BLOCK
from preread.pdf.document import read_document
from preread.pdf.pages import format_pages, parse_pages
from preread.pdf.sentences import split_sentences

__all__ = ["MAX_BLOCK", "format_pages", "parse_pages", "read_document", "split_sentences"]
