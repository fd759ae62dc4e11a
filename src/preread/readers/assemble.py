"""Structured text → blocks, through the PDF pipeline's own sentence splitter and packer.

A reader hands over sections (``Section``: an EPUB spine item, a top-level section of
a Markdown or HTML file, a plain-text chunk), each a list of ``Piece``: a paragraph, a
heading or a line of code, with the notes it refers to. ``assemble`` turns them into
``Block``s whose ``page`` is the 1-based section number, and ``finish`` into the
``DocumentText``. A heading is a sentence of its own that starts a new block; a
paragraph's notes are read after it, announced as the PDF reader announces a footnote
(``Note: …``), so a note never interrupts a sentence. Languages, sentence rules,
citations and the note prefix are the PDF pipeline's (``preread.pdf``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from preread.errors import BadDocument
from preread.ids import document_id_of_bytes
from preread.model import Block, Chapter, DocumentText
from preread.pdf import split_sentences
from preread.pdf.blocks import Unit, pack
from preread.pdf.document import chapter_languages
from preread.pdf.language import SAMPLE_CHARS, LanguageTracker
from preread.pdf.pipeline import CITATION, NOTE_PREFIX
from preread.settings import TextSettings

PieceKind = Literal["text", "heading", "code"]
MAX_TITLE = 300
_TERMINAL = ".!?…:;"
_CLOSERS = "\"'”’»)]"


@dataclass(frozen=True)
class ReadOptions:
    """What is heard beyond the prose. (Here, not in the compiled ``walk``: a plain
    dataclass, pickled and copied the same whether the walk is compiled or not.)"""

    code: bool = False  # code blocks (``pre``)
    alt_text: bool = False  # images' alternative text
    notes: bool = True  # footnotes and endnotes, after the paragraph (else never)
    toc_titles: bool = False  # a table of contents read as its entries' titles (else skipped)


class Note(NamedTuple):
    label: str  # "1", "*", "" when the reference had no text
    text: str


class Piece(NamedTuple):
    """A paragraph, a heading or a code block, with the notes read after it. (Named
    tuples: the compiled walk makes thousands, with ``tuple.__new__``, in C.)"""

    text: str
    kind: PieceKind = "text"
    level: int = 0  # 1–6 for a heading
    notes: tuple[Note, ...] = ()


@dataclass
class Section:
    pieces: list[Piece] = field(default_factory=list)


def heading_sentence(text: str) -> str:
    """A heading as spoken: with a full stop unless it ends in punctuation already, so a
    voice fed the whole block pauses after it (as the PDF reader does)."""
    return text if text.rstrip(_CLOSERS)[-1:] in _TERMINAL else text + "."


class _Speaker:
    """Pieces → units in a language, with the text settings (citations, notes)."""

    def __init__(self, text: TextSettings) -> None:
        self.drop_citations = text.citations == "drop"

    def units(self, pieces: Iterable[Piece], language: str) -> list[Unit]:
        units: list[Unit] = []
        prefix = NOTE_PREFIX.get(language, NOTE_PREFIX["en"])
        for piece in pieces:
            if piece.kind == "heading":
                units.append(Unit(heading_sentence(piece.text), heading=True))
            elif piece.kind == "code":
                lines = (" ".join(line.split()) for line in piece.text.splitlines())
                units.extend(Unit(line) for line in lines if line)
            else:
                text = CITATION.sub("", piece.text) if self.drop_citations else piece.text
                units.extend(Unit(s) for s in split_sentences(text, language))
            for note in piece.notes:
                sentences = split_sentences(note.text, language)
                if sentences:  # announced as the PDF reader announces a footnote
                    sentences[0] = prefix + sentences[0]
                units.extend(Unit(s) for s in sentences)
        return units


def _sample(section: Section) -> str:
    return " ".join(p.text for p in section.pieces if p.kind == "text")[:SAMPLE_CHARS]


def assemble(sections: Sequence[Section], text: TextSettings | None = None) -> list[Block]:
    """The blocks of ``sections`` in order; ``page`` is the 1-based section number. Each
    section is read in its language (``LanguageTracker``, as PDF pages are)."""
    text = text or TextSettings()
    speaker = _Speaker(text)
    tracker = LanguageTracker(text.language)
    samples = [_sample(s) for s in sections]
    blocks: list[Block] = []
    for page, section in enumerate(sections, start=1):
        following = samples[page] if page < len(samples) else ""
        language = tracker.page(samples[page - 1], following)
        for block_index, sentences in enumerate(pack(speaker.units(section.pieces, language))):
            blocks.append(
                Block(
                    index=len(blocks),
                    page=page,
                    block_index=block_index,
                    text=" ".join(sentences),
                    sentences=tuple(sentences),
                    language=language,
                )
            )
    return blocks


def split_at_headings(pieces: list[Piece]) -> tuple[list[Section], list[Chapter]]:
    """A Markdown or HTML file's top-level sections, and its chapters.

    Sections start at each heading of the top level: the shallowest heading level used,
    or the next one down when the shallowest is used once, first, as the title. Chapters
    are the headings down to the level below that, on the section they open or sit in.
    """
    levels = sorted({p.level for p in pieces if p.kind == "heading"})
    if not levels:
        return [Section(pieces)], []
    top = levels[0]
    tops = [i for i, p in enumerate(pieces) if p.kind == "heading" and p.level == top]
    title_only = not any(p.kind != "heading" for p in pieces[: tops[0]])
    if len(tops) == 1 and len(levels) > 1 and title_only:
        top = levels[1]  # a title heading over the real sections
    sections: list[Section] = []
    chapters: list[Chapter] = []
    current = Section()
    for piece in pieces:
        starts = piece.kind == "heading" and piece.level == top
        if starts and any(p.kind != "heading" for p in current.pieces):
            sections.append(current)
            current = Section()
        current.pieces.append(piece)
        if piece.kind == "heading" and piece.level <= top + 1:
            chapters.append(Chapter(title=piece.text[:300], page=len(sections) + 1))
    if current.pieces:
        sections.append(current)
    return sections, chapters


def finish(
    *,
    kind: str,
    data: bytes,
    name: str,
    title: str,
    sections: Sequence[Section],
    chapters: Sequence[Chapter] = (),
    text: TextSettings | None = None,
) -> DocumentText:
    """The document every reader returns; ``BadDocument`` when nothing would be heard."""
    blocks = assemble(sections, text)
    if not blocks:
        raise BadDocument(f"{name} has no text to read")
    read: Counter[str] = Counter()
    for block in blocks:
        read[block.language] += len(block.text)
    language = read.most_common(1)[0][0]
    return DocumentText(
        document_id=document_id_of_bytes(data),
        source_name=name,
        title=" ".join(title.split())[:MAX_TITLE] or name,
        pages=len(sections),
        chapters=chapter_languages(tuple(chapters), blocks, language),
        blocks=tuple(blocks),
        kind=kind,
        language=language,
    )
