"""UTF-8 plain text: paragraphs at blank lines, sections of about 3,000 characters.

Lines inside a paragraph are joined (hard-wrapped text reads as one paragraph, a
line-end hyphen repaired as in PDFs); a file with no blank line at all has a paragraph
per line. A short line standing alone and shaped like a heading is read as one (the PDF
reader's rule). A section (``page``) ends at the first paragraph end after
``SECTION_CHARS`` characters, never right after a heading.
"""

from __future__ import annotations

from pathlib import Path

from preread.model import Chapter, DocumentText
from preread.pdf.paragraphs import build_paragraphs
from preread.readers.assemble import Piece, Section, finish
from preread.readers.sniff import decode_utf8
from preread.settings import TextSettings

SECTION_CHARS = 3000


def _groups(text: str) -> list[list[str]]:
    """Runs of non-blank lines (each line alone when the text has no blank line)."""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    if "" not in lines:
        return [[line] for line in lines]
    groups: list[list[str]] = []
    current: list[str] = []
    for line in lines:
        if line:
            current.append(line)
        elif current:
            groups.append(current)
            current = []
    if current:
        groups.append(current)
    return groups


def text_pieces(text: str) -> list[Piece]:
    pieces: list[Piece] = []
    for group in _groups(text):
        for paragraph in build_paragraphs(group):
            if paragraph.heading:
                pieces.append(Piece(paragraph.text, "heading", 1))
            else:
                pieces.append(Piece(paragraph.text))
    return pieces


def sections_of(pieces: list[Piece]) -> tuple[list[Section], list[Chapter]]:
    sections: list[Section] = []
    chapters: list[Chapter] = []
    current = Section()
    size = 0
    for piece in pieces:
        current.pieces.append(piece)
        size += len(piece.text) + 1
        if piece.kind == "heading":
            chapters.append(Chapter(title=piece.text[:300], page=len(sections) + 1))
        elif size >= SECTION_CHARS:
            sections.append(current)
            current, size = Section(), 0
    if current.pieces:
        sections.append(current)
    return sections, chapters


def read_text(data: bytes, name: str, text: TextSettings | None = None) -> DocumentText:
    pieces = text_pieces(decode_utf8(data, name))
    sections, chapters = sections_of(pieces)
    first = pieces[0] if pieces else None
    title = first.text if first is not None and first.kind == "heading" else Path(name).stem
    return finish(
        kind="text",
        data=data,
        name=name,
        title=title,
        sections=sections,
        chapters=chapters,
        text=text,
    )
