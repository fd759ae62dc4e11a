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

    The outline is walked directly and each named destination is looked up on its own
    (pypdf's ``reader.outline`` first builds every named destination of the document,
    which for a LaTeX book is most of the cost). Entries whose destination cannot be
    resolved are left out; if the direct walk fails, pypdf's own outline is used.
    """
    try:
        return _walk_outline(reader, max_depth)
    except Exception:  # unusual structure: let pypdf try
        return _pypdf_outline(reader, max_depth)


def _walk_outline(reader: PdfReader, max_depth: int) -> tuple[Chapter, ...]:
    root: Any = reader.trailer["/Root"].get_object()
    outlines = root.get("/Outlines")
    if outlines is None:
        return ()
    first = outlines.get_object().get("/First")
    if first is None:
        return ()
    pages = {
        page.indirect_reference.idnum: i
        for i, page in enumerate(reader.pages)
        if page.indirect_reference is not None
    }
    names = _NameLookup(root)
    found: list[Chapter] = []
    seen: set[int] = set()

    def walk(ref: Any, depth: int) -> None:
        while ref is not None and len(found) < MAX_CHAPTERS:
            idnum = getattr(ref, "idnum", None)
            if idnum is not None:
                if idnum in seen:
                    return  # a loop in the outline
                seen.add(idnum)
            item = ref.get_object()
            page = _page_of(item, pages, names)
            title = _clean(str(item.get("/Title", "")))
            if page is not None and title:
                found.append(Chapter(title=title[:300], page=page + 1))
            child = item.get("/First")
            if child is not None and depth < max_depth:
                walk(child, depth + 1)
            ref = item.get("/Next")

    walk(first, 1)
    return tuple(found)


def _page_of(item: Any, pages: dict[int, int], names: _NameLookup) -> int | None:
    dest = item.get("/Dest")
    if dest is None:
        action = item.get("/A")
        action = action.get_object() if action is not None else None
        if action is None or action.get("/S") != "/GoTo":
            return None
        dest = action.get("/D")
    for _ in range(3):  # a name → an array, or a dictionary with /D
        dest = dest.get_object() if hasattr(dest, "get_object") else dest
        if isinstance(dest, str | bytes):
            dest = names.find(dest)
        elif isinstance(dest, dict):
            dest = dest.get("/D")
        else:
            break
    if isinstance(dest, list) and dest:
        target = dest[0]
        if isinstance(target, int) and not hasattr(target, "idnum"):
            return target if 0 <= target < len(pages) else None  # remote-style index
        idnum = getattr(target, "idnum", None)
        return pages.get(idnum) if idnum is not None else None
    return None


class _NameLookup:
    """Named destinations, looked up one at a time: the /Dests name tree (descending by
    /Limits) or the older /Dests dictionary."""

    def __init__(self, root: Any) -> None:
        names = root.get("/Names")
        names = names.get_object() if names is not None else None
        tree = names.get("/Dests") if names is not None else None
        self.tree = tree.get_object() if tree is not None else None
        old = root.get("/Dests")
        self.old = old.get_object() if old is not None else None

    def find(self, name: str | bytes) -> Any:
        key = name.decode("latin-1") if isinstance(name, bytes) else str(name)
        if self.old is not None:
            value = self.old.get(key if key.startswith("/") else f"/{key}")
            if value is not None:
                return value
        node = self.tree
        for _ in range(64):  # depth bound against loops
            if node is None:
                return None
            if "/Names" in node:
                entries = node["/Names"]
                for i in range(0, len(entries) - 1, 2):
                    if str(entries[i]) == key:
                        return entries[i + 1]
                return None
            next_node = None
            for kid in node.get("/Kids", []):
                kid = kid.get_object()
                limits = kid.get("/Limits")
                if limits is None or str(limits[0]) <= key <= str(limits[1]):
                    if limits is None and "/Kids" not in kid and "/Names" not in kid:
                        continue
                    next_node = kid
                    if limits is not None:
                        break
            node = next_node
        return None


def _pypdf_outline(reader: PdfReader, max_depth: int) -> tuple[Chapter, ...]:
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
