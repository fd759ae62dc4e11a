"""Title, chapters and page labels: from the PDF's metadata, outline and catalog."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from pypdf import PdfReader

from preread.model import Chapter

MAX_DEPTH = 2
"""Outline levels kept as chapters: 1 = top level only, 2 = with sections."""
MAX_CHAPTERS = 2000
_JUNK_TITLE = re.compile(
    r"^(untitled|unknown|none|null|document\d*|microsoft word - .*|title|\W*)$", re.IGNORECASE
)
_WORD_PREFIX = re.compile(r"^microsoft (word|powerpoint|excel) - ", re.IGNORECASE)


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch == " ")
    return " ".join(text.split())


def metadata_title(reader: PdfReader) -> str | None:
    """The metadata title, cleaned; None when missing or a placeholder."""
    try:
        meta = reader.metadata
        raw = meta.title if meta is not None else None
    except Exception:  # broken info dictionary: no title
        return None
    if not raw:
        return None
    title = _clean(str(raw))
    stripped = _WORD_PREFIX.sub("", title)
    stripped = re.sub(r"\.(docx?|odt|pdf|tex|rtf)$", "", stripped, flags=re.IGNORECASE)
    if not stripped or _JUNK_TITLE.match(stripped):
        return None
    return stripped[:300]


def chapters(reader: PdfReader, max_depth: int = MAX_DEPTH) -> tuple[Chapter, ...]:
    """Outline entries down to ``max_depth`` levels, in outline order, 1-based pages.

    Entries whose destination cannot be resolved are left out.
    """
    found: list[Chapter] = []
    try:
        outline = reader.outline
    except Exception:  # a broken outline is no outline
        return ()

    def walk(items: Sequence[Any], depth: int) -> None:
        for item in items:
            if len(found) >= MAX_CHAPTERS:
                return
            if isinstance(item, list):
                if depth < max_depth:
                    walk(item, depth + 1)
                continue
            try:
                page = reader.get_destination_page_number(item)
                title = _clean(str(item.title or ""))
            except Exception:
                continue
            if page is not None and page >= 0 and title:
                found.append(Chapter(title=title[:300], page=page + 1))

    walk(outline, 1)
    return tuple(found)


def page_labels(reader: PdfReader) -> tuple[str, ...]:
    """The page labels (``i``, ``ii``, ``1``…) when the PDF defines them; else ()."""
    try:
        root = reader.trailer["/Root"].get_object()
        if not isinstance(root, dict) or "/PageLabels" not in root:
            return ()
        return tuple(str(label) for label in reader.page_labels)
    except Exception:  # malformed label tree: no labels
        return ()
