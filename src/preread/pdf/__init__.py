"""From a PDF to what a listener should hear: blocks of whole sentences.

Public API::

    read_document(source, *, name=None, pages=None, password=None, text=None) -> DocumentText
    parse_pages(spec, page_count=None) -> list[int]   (from preread.pages: the --pages syntax)
    split_sentences(text, language="en") -> list[str]

Format-neutral (they take text, not PDF objects; the other readers use them):
``sentences.split_sentences``/``sentence_spans`` (per language), ``language``
(``detect_language``, ``LanguageTracker``), ``hyphenation.join_broken`` (per language),
``blocks.pack`` and ``pipeline.paragraph_units``/``Notes``.

Modules, one step each: ``extract`` (pypdf, page by page, time-bounded), ``layout``
(the text visitor's runs → styled lines, superscripts), ``edges`` (running heads and
footers, page numbers), ``furniture`` (contents pages, footnote areas),
``hyphenation``, ``paragraphs`` (lines → paragraphs and headings), ``sentences`` and
``sentence_rules`` (Punkt + per-language fixes), ``language`` (detection), ``blocks``
(the packer), ``outline`` (title, chapters, page
labels), ``pipeline`` (per-page state across page breaks) and ``document`` (a PDF
read into blocks).
"""

from __future__ import annotations

from preread.pages import format_pages, parse_pages
from preread.pdf.blocks import MAX_BLOCK
from preread.pdf.document import read_document
from preread.pdf.sentences import split_sentences

__all__ = ["MAX_BLOCK", "format_pages", "parse_pages", "read_document", "split_sentences"]
