"""Fixtures for the synthesis tests: documents built from text, no PDF needed."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest

from preread.model import Block, DocumentText

MakeDoc = Callable[..., DocumentText]


def document_from_pages(pages: list[list[str]], *, name: str = "doc.pdf") -> DocumentText:
    """One block per paragraph; a paragraph's sentences split at '. '."""
    blocks: list[Block] = []
    for page_number, paragraphs in enumerate(pages, start=1):
        for block_index, text in enumerate(paragraphs):
            parts = [p.strip() for p in text.split(". ")]
            sentences = tuple(p if p.endswith(".") else p + "." for p in parts if p)
            blocks.append(Block(len(blocks), page_number, block_index, text, sentences))
    digest = hashlib.sha256(repr((name, pages)).encode()).hexdigest()
    return DocumentText(
        document_id=digest,
        source_name=name,
        title=name.removesuffix(".pdf"),
        pages=len(pages),
        blocks=tuple(blocks),
    )


@pytest.fixture
def make_doc() -> MakeDoc:
    return document_from_pages
