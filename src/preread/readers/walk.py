"""An HTML or XHTML tree → the pieces a listener should hear (paragraphs, headings, code).

What is not heard: ``head``, scripts and styles, ``nav`` and anything typed as a table
of contents or page list (``ReadOptions.toc_titles``: a table of contents is read as its
entries' titles), page-break markers, hidden elements, images (their alt text
only with ``ReadOptions.alt_text``), code blocks (``pre``; only with ``ReadOptions.code``).
A note reference (``epub:type="noteref"``, ``role="doc-noteref"``, a Markdown footnote
reference, or a superscript link like ``<sup><a href="#n3">3</a></sup>``) is taken out of
its sentence; the note it points to is read after the paragraph, once, and is not read
again where it stands. The walk keeps its own stack: no recursion, however deep the tree.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from html.entities import html5

from lxml import etree

from preread.readers.assemble import Note, Piece, PieceKind, heading_sentence
from preread.readers.tree import Element, local, marks


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


BLOCK = _words(
    "address article aside blockquote body caption center dd details dialog div dl dt "
    "fieldset figcaption figure footer form header hgroup hr html legend li main ol p "
    "section summary table tbody td tfoot th thead tr ul"
)
SKIP = _words(
    "head script style template nav noscript svg math rt rp object embed iframe audio "
    "video canvas button select textarea input title"
)
SKIP_MARKS = frozenset(["pagebreak", "toc", "landmarks", "page-list", "loi", "lot", "!hidden"])
NOTE_MARKS = frozenset(["footnote", "endnote", "rearnote", "note", ".footnote-item"])
NOTEREF_MARKS = frozenset(["noteref", ".footnote-ref"])
BACKLINK_MARKS = frozenset(["backlink", ".footnote-backref", ".footnote-back"])
HEADINGS = {f"h{n}": n for n in range(1, 7)}
_LABEL = re.compile(r"^[\[(]?(?:\d{1,4}|[a-z]|[ivxlc]{1,6}|[*†‡§¶#]{1,3})[\])]?$", re.IGNORECASE)
_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
_BACK_ARROWS = re.compile("[\u21a9\u2191\u2934][\ufe0e\ufe0f]?")

Lookup = Callable[[str], Element | None]
"""An ``href`` (``#fn1``, ``notes.xhtml#n3``) → the element it points to, or None."""


@dataclass(frozen=True)
class ReadOptions:
    """What is heard beyond the prose."""

    code: bool = False  # code blocks (``pre``)
    alt_text: bool = False  # images' alternative text
    notes: bool = True  # footnotes and endnotes, after the paragraph (else never)
    toc_titles: bool = False  # a table of contents read as its entries' titles (else skipped)


def clean(text: str) -> str:
    """Whitespace collapsed (no-break spaces too), soft hyphens and zero-width marks gone."""
    return " ".join((text if text.isascii() else _INVISIBLE.sub("", text)).split())


def is_note_body(element: Element, found: frozenset[str] | None = None) -> bool:
    return not (NOTE_MARKS.isdisjoint(marks(element) if found is None else found))


def _href(element: Element) -> str | None:
    href = element.get("href")
    if href is None:
        link = next(element.iter("{*}a", "a"), None)
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


def toc_titles(element: Element) -> list[Piece]:
    """A table of contents as heard with ``PREREAD_TOC=titles``: each entry's title, a
    sentence of its own (of the ``nav`` typed ``toc`` when ``element`` holds one)."""
    navs = [n for n in element.iter("{*}nav", "nav") if "toc" in marks(n)] or [element]
    titles = (clean("".join(a.itertext())) for nav in navs for a in nav.iter("{*}a", "a"))
    return [Piece(heading_sentence(t)) for t in titles if t]


class Notes:
    """The notes of one document (or book): each is read once, after its first reference."""

    def __init__(self, lookup: Lookup, read: set[Element] | None = None) -> None:
        self.lookup = lookup
        self.read: set[Element] = set() if read is None else read  # shared by a book's files

    def take(self, href: str) -> Element | None:
        """The note body ``href`` points to, unless it was read already."""
        target = self.lookup(href) if href else None
        while target is not None and local(target) not in BLOCK and not is_note_body(target):
            target = target.getparent()  # an anchor inside the note's paragraph
        if target is None or local(target) in ("body", "html") or target in self.read:
            return None
        self.read.add(target)
        return target


def traverse(
    root: Element,
    opened: Callable[[Element], bool],
    closed: Callable[[Element], None],
    text: Callable[[str], None],
) -> None:
    """Document order, without recursion (lxml's ``iterwalk``): ``opened(element)``
    (False skips its content), its text, its children, ``closed(element)``, its tail."""
    walker = etree.iterwalk(root, events=("start", "end"))
    skipped = None
    for event, element in walker:
        if event == "start":
            tag = element.tag
            if type(tag) is not str:  # an entity the parser left alone: HTML's, or a space
                if tag is etree.Entity:
                    text(html5.get(f"{element.name};", " "))
                walker.skip_subtree()
                skipped = element
            elif not opened(element):
                walker.skip_subtree()
                skipped = element
            elif element.text:
                text(element.text)
            continue
        if element is skipped:
            skipped = None
        else:
            closed(element)
        if element is not root:
            tail = element.tail
            if tail:
                text(tail)


def _is_backlink(element: Element) -> bool:
    if local(element) != "a":
        return False
    if not BACKLINK_MARKS.isdisjoint(marks(element)):
        return True
    label = "".join(element.itertext()).strip()
    return "#" in element.get("href", "") and _LABEL.match(label) is not None


def note_text(body: Element) -> str:
    """A note's text without its links back to the reference and its leading label."""
    parts: list[str] = []

    def opened(element: Element) -> bool:
        if element is body:
            return True
        return not (
            _is_backlink(element) or local(element) in SKIP or "pagebreak" in marks(element)
        )

    def closed(element: Element) -> None:
        if local(element) in BLOCK:
            parts.append(" ")

    traverse(body, opened, closed, parts.append)
    text = clean(_BACK_ARROWS.sub("", "".join(parts)))
    return _LEADING_LABEL.sub("", text)


_LEADING_LABEL = re.compile(r"^[\[(]?(?:\d{1,4}|[*†‡§])[\])]?[.:]?\s+")


class _Walker:
    """One document's walk. The loop is written out in ``run`` (not ``traverse``'s
    callbacks): most elements are plain paragraphs, and for them every call counts."""

    def __init__(self, options: ReadOptions, notes: Notes) -> None:
        self.options = options
        self.notes = notes
        self.pieces: list[Piece] = []
        self.buffer: list[str] = []
        self.pending: list[Note] = []
        self.heading: Element | None = None

    def flush(self, kind: PieceKind = "text", level: int = 0) -> None:
        if not self.buffer and not self.pending:
            return
        text = clean("".join(self.buffer))
        self.buffer.clear()
        if not text and not self.pending:
            return
        if not text:
            kind, level = "text", 0
        if self.pending:
            self.pieces.append(Piece(text, kind, level, tuple(self.pending)))
            self.pending.clear()
        else:
            self.pieces.append(Piece(text, kind, level))

    def _special(self, element: Element, found: frozenset[str]) -> bool:
        """Whether an element with telling attributes (or a superscript link) was dealt
        with here (skipped, a note reference, a note)."""
        if not SKIP_MARKS.isdisjoint(found):
            if "toc" in found and self.options.toc_titles:
                self.flush()
                self.pieces.extend(toc_titles(element))
            return True
        href = noteref_href(element, found)
        if href is not None:
            body = self.notes.take(href)
            if body is not None and self.options.notes:
                label = "".join(element.itertext()).strip().strip("[]()")
                self.pending.append(Note(label if len(label) <= 8 else "", note_text(body)))
            return True
        if is_note_body(element, found):  # a note nothing referred to: read where it stands
            self.notes.read.add(element)
            if self.options.notes:
                self.flush()
                self.pieces.append(Piece("", notes=(Note("", note_text(element)),)))
            return True
        return False

    def _opened(self, element: Element, action: int) -> bool:
        """A non-inline element opens: False skips its content."""
        if action == _IMG:
            alt = element.get("alt")
            if self.options.alt_text and alt and clean(alt):
                self.flush()  # a sentence of its own
                self.pieces.append(Piece(clean(alt)))
            return False
        if action == _BR:
            self.buffer.append(" ")
            return False
        if self.heading is not None:  # inside a heading, blocks only separate words
            self.buffer.append(" ")
            return True
        if action == _PRE:
            self.flush()
            if self.options.code:
                code = "".join(element.itertext())
                if code.strip():
                    self.pieces.append(Piece(code, "code"))
            return False
        if self.buffer or self.pending:
            self.flush()
        if action == _HEADING:
            self.heading = element
        return True

    def _closed(self, element: Element) -> None:
        """A block or heading closes inside a heading (or closes the heading)."""
        if element is self.heading:
            self.flush("heading", HEADINGS[local(element)])
            self.heading = None
        else:
            self.buffer.append(" ")

    def run(self, root: Element) -> list[Piece]:
        walker = etree.iterwalk(root, events=("start", "end"))
        buffer = self.buffer
        append = buffer.append
        read = self.notes.read
        known = _TAG_ACTIONS.get
        skipped = None
        for event, element in walker:
            tag = element.tag
            if event == "start":
                action = known(tag) or (_action(tag) if type(tag) is str else _SKIP)
                if action == _SKIP and self.options.toc_titles and "toc" in marks(element):
                    action = _INLINE  # a ``nav`` typed as a table of contents: its titles
                if action == _SKIP:
                    if tag is etree.Entity:  # left alone by the parser: HTML's, or a space
                        append(html5.get(f"{element.name};", " "))
                    walker.skip_subtree()
                    skipped = element
                    continue
                if (read and element in read) or (
                    (element.items() or action == _LINK) and self._special(element, marks(element))
                ):
                    walker.skip_subtree()
                    skipped = element
                    continue
                if action == _BLOCK and self.heading is None:
                    if buffer or self.pending:  # the common case, written out
                        self.flush()
                elif action > _LINK and not self._opened(element, action):
                    walker.skip_subtree()
                    skipped = element
                    continue
                text = element.text
                if text:
                    append(text)
                continue
            if element is skipped:
                skipped = None
            elif (known(tag) or (_action(tag) if type(tag) is str else _INLINE)) > _LINK:
                if self.heading is None:
                    if buffer or self.pending:
                        self.flush()
                else:
                    self._closed(element)
            if element is not root:
                tail = element.tail
                if tail:
                    append(tail)
        self.flush()
        return self.pieces


_INLINE, _LINK, _SKIP, _IMG, _BR, _PRE, _HEADING, _BLOCK = range(1, 9)  # all true
_ACTIONS = {
    **dict.fromkeys(BLOCK, _BLOCK),
    **dict.fromkeys(HEADINGS, _HEADING),
    **dict.fromkeys(SKIP, _SKIP),
    "img": _IMG,
    "br": _BR,
    "pre": _PRE,
    "a": _LINK,
    "sup": _LINK,
}
_TAG_ACTIONS: dict[str, int] = {}


def _action(tag: str) -> int:
    """What the walk does with a tag (``{xhtml-ns}p``, ``P``…), cached by the raw tag."""
    action = _TAG_ACTIONS.get(tag)
    if action is None:
        action = _ACTIONS.get(tag.rpartition("}")[2].lower(), _INLINE)
        if len(_TAG_ACTIONS) < 4096:
            _TAG_ACTIONS[tag] = action
    return action


def body_of(root: Element) -> Element:
    """The ``body`` element (the root when there is none)."""
    return next(root.iter("{*}body", "body"), root)


def pieces_of(root: Element, options: ReadOptions, notes: Notes) -> list[Piece]:
    """What a listener should hear of one HTML or XHTML document, in order."""
    return _Walker(options, notes).run(body_of(root))


def ids_of(root: Element) -> dict[str, Element]:
    """Every element with an ``id``, by id (the first wins)."""
    found: dict[str, Element] = {}
    for element in root.iter():
        key = element.get("id") if isinstance(element.tag, str) else None
        if key and key not in found:
            found[key] = element
    return found
