"""Footnotes and endnotes in HTML and XHTML: references, the notes they point to, and a
note's text as heard.

A note reference (``epub:type="noteref"``, ``role="doc-noteref"``, a Markdown footnote
reference, or a superscript link like ``<sup><a href="#n3">3</a></sup>``) is taken out
of its sentence; the note it points to (``Notes.take``) is read after the paragraph,
once, and is not read again where it stands. A table of contents heard as titles
(``toc_titles``) lives here too: it is the other thing read from links.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from html.entities import html5
from typing import Final

from lxml import etree

from preread.readers.assemble import Note, Piece, PieceKind, heading_sentence
from preread.readers.tree import (
    BACKLINK_MARKS,
    BLOCK,
    HARMLESS,
    ITEMS,
    NOTE_MARKS,
    NOTEREF_MARKS,
    PLAIN_TAGS,
    SKIP,
    SKIP_MARKS,
    Element,
    clean,
    local,
    marks,
)

_LABEL: Final = re.compile(
    r"^[\[(]?(?:\d{1,4}|[a-z]|[ivxlc]{1,6}|[*†‡§¶#]{1,3})[\])]?$", re.IGNORECASE
)
_LEADING_LABEL: Final = re.compile(r"^[\[(]?(?:\d{1,4}|[*†‡§])[\])]?[.:]?\s+")
_BACK_ARROWS: Final = re.compile("[\u21a9\u2191\u2934][\ufe0e\ufe0f]?")
_BLOCKS: Final = BLOCK | ITEMS

Lookup = Callable[[str], Element | None]
"""An ``href`` (``#fn1``, ``notes.xhtml#n3``) → the element it points to, or None."""


def is_note_body(element: Element, found: frozenset[str] | None = None) -> bool:
    return not (NOTE_MARKS.isdisjoint(marks(element) if found is None else found))


def _href(element: Element) -> str | None:
    href = element.get("href")
    if href is None:
        link = next(element.iter("{*}a"), None)
        href = link.get("href") if link is not None else None
    return href if href and "#" in href else None


def noteref_href(element: Element, found: frozenset[str] | None = None) -> str | None:
    """The ``href`` of a note reference; None when ``element`` is not one."""
    if not NOTEREF_MARKS.isdisjoint(marks(element) if found is None else found):
        return _href(element) or ""
    tag = local(element)
    if tag not in ("a", "sup"):
        return None
    label = "".join(element.itertext()).strip()
    if not _LABEL.match(label):
        return None
    if tag == "a":
        parent = element.getparent()
        superscript = (parent is not None and local(parent) == "sup") or any(
            local(child) == "sup" for child in element
        )
        return _href(element) if superscript else None
    links = [child for child in element if local(child) == "a"]
    if len(links) == 1 and "".join(links[0].itertext()).strip() == label:
        return _href(links[0])
    return None


def references_below(element: Element, cuts: Collection[Element]) -> list[Element] | None:
    """The note references below ``element`` when nothing else below it needs a step of
    the walk (as for a plain paragraph): links typed as note references with only their
    label, without marks that would skip them or make them a note; None otherwise."""
    found: list[Element] = []
    for inner in element.iterdescendants():
        if cuts and inner in cuts:
            return None
        if inner.tag in PLAIN_TAGS:
            for key, value in inner.items():
                if key not in HARMLESS or (key == "class" and "footnote" in value.lower()):
                    return None
            continue
        if len(inner) or local(inner) != "a":
            return None
        said = marks(inner)
        if (
            NOTEREF_MARKS.isdisjoint(said)
            or not SKIP_MARKS.isdisjoint(said)
            or not NOTE_MARKS.isdisjoint(said)
        ):
            return None
        found.append(inner)
    return found


def piece(
    text: str, kind: PieceKind = "text", level: int = 0, notes: tuple[Note, ...] = ()
) -> Piece:
    """``Piece(...)`` without running the named tuple's ``__new__`` in the interpreter
    (compiled, the walk makes its thousands of pieces in C)."""
    return _NEW(Piece, (text, kind, level, notes))


def note(label: str, text: str) -> Note:
    """``Note(label, text)``, as ``piece``."""
    return _NEW(Note, (label, text))


_NEW: Final = tuple.__new__


def toc_titles(element: Element) -> list[Piece]:
    """A table of contents as heard with ``PREREAD_TOC=titles``: each entry's title, a
    sentence of its own (of the ``nav`` typed ``toc`` when ``element`` holds one)."""
    navs = [n for n in element.iter("{*}nav") if "toc" in marks(n)] or [element]
    titles = (clean("".join(a.itertext())) for nav in navs for a in nav.iter("{*}a"))
    return [piece(heading_sentence(t)) for t in titles if t]


class Notes:
    """The notes of one document (or book): each is read once, after its first reference."""

    def __init__(self, lookup: Lookup, read: set[Element] | None = None) -> None:
        self.lookup = lookup
        self.read: set[Element] = set() if read is None else read  # shared by a book's files

    def take(self, href: str) -> Element | None:
        """The note body ``href`` points to, unless it was read already."""
        target = self.lookup(href) if href else None
        while target is not None and local(target) not in _BLOCKS and not is_note_body(target):
            target = target.getparent()  # an anchor inside the note's paragraph
        if target is None or local(target) in ("body", "html") or target in self.read:
            return None
        self.read.add(target)
        return target


def _unheard(element: Element) -> bool:
    """Not read as part of a note: a link back to the reference, a page break…"""
    if type(element.tag) is not str:
        return True
    tag = local(element)
    if tag in SKIP:
        return True
    found = marks(element)
    if "pagebreak" in found or not BACKLINK_MARKS.isdisjoint(found):
        return True
    if tag != "a":
        return False
    label = "".join(element.itertext()).strip()
    return "#" in element.get("href", "") and _LABEL.match(label) is not None


def _plain_note(body: Element) -> bool:
    """Nothing below ``body`` to leave out or to keep apart: plain inline elements, and
    blocks without attributes that end where whitespace or their parent's end follows
    (so libxml2's text serialisation says the same as the walk in ``note_text``)."""
    for inner in body.iterdescendants():
        tag = inner.tag
        if tag in PLAIN_TAGS:
            for key, value in inner.items():
                if key not in HARMLESS or (key == "class" and "back" in value.lower()):
                    return False
            continue
        if type(tag) is not str or inner.items() or local(inner) not in _BLOCKS:
            return False
        tail = inner.tail
        if tail and not tail.isspace():
            return False
        parent = inner.getparent()
        if parent is not body and parent is not None and parent.tag in PLAIN_TAGS:
            return False
        if not tail and inner.getnext() is not None:
            return False
    return True


def note_text(body: Element) -> str:
    """A note's text without its links back to the reference and its leading label."""
    if _plain_note(body):  # most notes: one step in libxml2
        text: str = etree.tostring(body, method="text", encoding="unicode", with_tail=False)
        return _without_label(clean(text if text.isascii() else _BACK_ARROWS.sub("", text)))
    return walked_note_text(body)


def _without_label(text: str) -> str:
    """``text`` without its leading label ("3. ", "[12] ", "* ")."""
    first = text[:1]
    if first and (first in "[(*†‡§" or first.isdecimal()):  # where the pattern can match
        return _LEADING_LABEL.sub("", text)
    return text


def walked_note_text(body: Element) -> str:
    """``note_text``, element by element (whatever lies below ``body``)."""
    parts: list[str] = []
    append = parts.append
    walker = etree.iterwalk(body, events=("start", "end"))
    skipped = None
    for event, element in walker:
        tag = element.tag
        if event == "start":
            if (
                element is not body
                and (tag not in PLAIN_TAGS or element.items())
                and _unheard(element)
            ):
                if tag is etree.Entity:  # left alone by the parser: HTML's, or a space
                    append(html5.get(f"{element.name};", " "))
                walker.skip_subtree()
                skipped = element
                continue
            if element.text:
                append(element.text)
            continue
        if element is skipped:
            skipped = None
        elif tag not in PLAIN_TAGS and local(element) in _BLOCKS:
            append(" ")
        if element is not body and element.tail:
            append(element.tail)
    return _without_label(clean(_BACK_ARROWS.sub("", "".join(parts))))
