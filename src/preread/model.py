"""The document as text: what the PDF pipeline produces and everything else consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Block:
    """One unit of speech: ≤ 450 characters, whole sentences, one page.

    ``index`` is 0-based over the whole document (or page selection), ``page`` is
    1-based, ``block_index`` is 0-based within the page.
    """

    index: int
    page: int
    block_index: int
    text: str
    sentences: tuple[str, ...]
    language: str = ""  # ISO 639-1 code the text was read in ("" when unknown)

    def to_json(self) -> dict[str, Any]:
        """The ``preread blocks --json`` shape from the contract (plus ``language``)."""
        data: dict[str, Any] = {
            "index": self.index,
            "page": self.page,
            "blockIndex": self.block_index,
            "text": self.text,
            "sentences": list(self.sentences),
        }
        if self.language:
            data["language"] = self.language
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Block:
        return cls(
            index=int(data["index"]),
            page=int(data["page"]),
            block_index=int(data["blockIndex"]),
            text=str(data["text"]),
            sentences=tuple(str(s) for s in data["sentences"]),
            language=str(data.get("language", "")),
        )


@dataclass(frozen=True)
class Chapter:
    title: str
    page: int  # 1-based
    language: str = ""  # set only when the chapter's language differs from the document's

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"title": self.title, "page": self.page}
        if self.language:
            data["language"] = self.language
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Chapter:
        return cls(str(data["title"]), int(data["page"]), str(data.get("language", "")))


@dataclass(frozen=True)
class PageFurniture:
    """What the reader took out of one page, kept as data: running heads, footers and
    page numbers, table-of-contents lines, footnotes (label, text) and the footnote
    markers dropped from the body."""

    page: int
    running: tuple[str, ...] = ()
    toc: tuple[str, ...] = ()
    notes: tuple[tuple[str, str], ...] = ()
    markers: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"page": self.page}
        for name in ("running", "toc", "markers"):
            if getattr(self, name):
                data[name] = list(getattr(self, name))
        if self.notes:
            data["notes"] = [{"label": label, "text": text} for label, text in self.notes]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PageFurniture:
        return cls(
            page=int(data["page"]),
            running=tuple(str(x) for x in data.get("running", [])),
            toc=tuple(str(x) for x in data.get("toc", [])),
            notes=tuple((str(n["label"]), str(n["text"])) for n in data.get("notes", [])),
            markers=tuple(str(x) for x in data.get("markers", [])),
        )


@dataclass(frozen=True)
class DocumentText:
    """A document read into blocks. ``pages`` is the PDF's page count (or the number of
    sections of a format without pages: ``unit`` says which), whatever was selected.
    ``kind`` is what the bytes are: pdf, epub, html, markdown or text."""

    document_id: str
    source_name: str
    title: str
    pages: int
    chapters: tuple[Chapter, ...] = ()
    blocks: tuple[Block, ...] = ()
    page_labels: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())
    language: str = ""  # ISO 639-1 code of most of the text
    # Lines the pipeline removed as page furniture (running headers and footers, page
    # numbers), each once: ``/v1/audio/speech`` skips them in a reader's text.
    furniture: tuple[str, ...] = ()
    removed: tuple[PageFurniture, ...] = ()  # all that was taken out, page by page
    kind: str = "pdf"

    @property
    def unit(self) -> str:
        """What ``page`` counts: PDF pages, or the sections of other formats."""
        return "page" if self.kind == "pdf" else "section"

    def to_json(self) -> dict[str, Any]:
        return {
            "documentId": self.document_id,
            "sourceName": self.source_name,
            "title": self.title,
            "kind": self.kind,
            "unit": self.unit,
            "pages": self.pages,
            "language": self.language,
            "chapters": [c.to_json() for c in self.chapters],
            "pageLabels": list(self.page_labels),
            "blocks": [b.to_json() for b in self.blocks],
            "furniture": list(self.furniture),
            "removed": [f.to_json() for f in self.removed],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DocumentText:
        return cls(
            document_id=str(data["documentId"]),
            source_name=str(data.get("sourceName", "")),
            title=str(data.get("title", "")),
            pages=int(data.get("pages", 0)),
            chapters=tuple(Chapter.from_json(c) for c in data.get("chapters", [])),
            blocks=tuple(Block.from_json(b) for b in data.get("blocks", [])),
            page_labels=tuple(str(p) for p in data.get("pageLabels", [])),
            language=str(data.get("language", "")),
            furniture=tuple(str(line) for line in data.get("furniture", [])),
            kind=str(data.get("kind", "pdf")),
            removed=tuple(PageFurniture.from_json(f) for f in data.get("removed", [])),
        )
