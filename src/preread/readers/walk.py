"""An HTML or XHTML tree → the pieces a listener should hear (paragraphs, headings, code).

What is not heard: ``head``, scripts and styles, ``nav`` and anything typed as a table
of contents or page list (``ReadOptions.toc_titles``: a table of contents is read as its
entries' titles), page-break markers, hidden elements, images (their alt text
only with ``ReadOptions.alt_text``), code blocks (``pre``; only with ``ReadOptions.code``).
Notes are taken out of their sentence and read after the paragraph (``notes``). A
heading, a list item and a table cell end their sentence (a full stop is added when
they have no final punctuation), so they never run into what follows when spoken.

The walk keeps its own stack (lxml's ``iterwalk``: no recursion, however deep the
tree). A block whose content is only text and plain inline elements (``em``, ``span``…
without telling attributes: most paragraphs) is taken whole by lxml's text
serialisation, without a Python step per element inside it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from html.entities import html5
from typing import Final

from lxml import etree

from preread.readers.assemble import Note, Piece, PieceKind, ReadOptions, heading_sentence
from preread.readers.notes import (
    Notes,
    is_note_body,
    note,
    note_text,
    noteref_href,
    piece,
    references_below,
    toc_titles,
)
from preread.readers.tree import (
    BLOCK,
    HARMLESS,
    HEADINGS,
    ITEMS,
    PLAIN_TAGS,
    SKIP,
    SKIP_MARKS,
    Element,
    clean,
    local,
    marks,
)


def _only_text_below(element: Element, cuts: Collection[Element]) -> bool:
    """Nothing below ``element`` needs a step of its own: plain inline elements only, no
    entity left alone, no attribute that could say "note", "hidden" or "page break"."""
    for inner in element.iterdescendants():
        if inner.tag not in PLAIN_TAGS:
            return False
        for key, value in inner.items():
            if key not in HARMLESS or (key == "class" and "footnote" in value.lower()):
                return False
        if cuts and inner in cuts:
            return False
    return True


def text_below(element: Element) -> str:
    """All text below ``element`` (not its tail), serialised by libxml2: several times
    quicker than joining ``itertext()``."""
    if not len(element):
        return element.text or ""
    text: str = etree.tostring(element, method="text", encoding="unicode", with_tail=False)
    return text


class _Walker:
    """One document's walk. The loop is written out in ``run``: most elements are plain
    paragraphs, and for them every call counts."""

    def __init__(self, options: ReadOptions, notes: Notes, cuts: Collection[Element]) -> None:
        self.options = options
        self.notes = notes
        self.cuts = cuts
        self.starts: dict[Element, int] = {}  # a cut → the number of pieces before it
        self.pieces: list[Piece] = []
        self.buffer: list[str] = []
        self.pending: list[Note] = []
        self.heading: Element | None = None
        self.items = 0  # list items and table cells open around the text

    def flush(self, kind: PieceKind = "text", level: int = 0) -> None:
        if not self.buffer and not self.pending:
            return
        text = clean("".join(self.buffer))
        self.buffer.clear()
        if not text and not self.pending:
            return
        if not text:
            kind, level = "text", 0
        elif self.items and kind == "text":
            text = heading_sentence(text)
        if self.pending:
            self.pieces.append(piece(text, kind, level, tuple(self.pending)))
            self.pending.clear()
        else:
            self.pieces.append(piece(text, kind, level))

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
                label = text_below(element).strip().strip("[]()")
                self.pending.append(note(label if len(label) <= 8 else "", note_text(body)))
            return True
        if is_note_body(element, found):  # a note nothing referred to: read where it stands
            self.notes.read.add(element)
            if self.options.notes:
                self.flush()
                self.pieces.append(piece("", notes=(note("", note_text(element)),)))
            return True
        return False

    def _referring(self, element: Element, references: list[Element]) -> None:
        """A paragraph whose only steps are note references (``notes.references_below``), as
        the walk hears it: its text serialised by libxml2 without their labels, their
        notes after it."""
        for reference in references:
            self._special(reference, marks(reference))
        labels = [reference.text for reference in references]
        for reference in references:
            reference.text = None
        try:
            self.buffer.append(text_below(element))
        finally:
            for reference, label in zip(references, labels, strict=True):
                reference.text = label
        self.flush()

    def _opened(self, element: Element, action: int) -> bool:
        """A non-inline element opens: False skips its content."""
        if action == _IMG:
            alt = element.get("alt")
            if self.options.alt_text and alt and clean(alt):
                self.flush()  # a sentence of its own
                self.pieces.append(piece(clean(alt)))
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
                    self.pieces.append(piece(code, "code"))
            return False
        if self.buffer or self.pending:
            self.flush()
        if action == _HEADING:
            self.heading = element
        return True

    def _closed(self, element: Element, action: int) -> None:
        """A non-inline element closes."""
        if self.heading is None:
            if self.buffer or self.pending:
                self.flush()
            if action == _ITEM:
                self.items -= 1
        elif element is self.heading:
            self.flush("heading", HEADINGS[local(element)])
            self.heading = None
        else:
            self.buffer.append(" ")  # inside a heading, blocks only separate words

    def _cut(self, element: Element) -> None:
        """A section starts at ``element`` (an EPUB chapter that starts inside a file)."""
        if self.heading is None:
            self.flush()
            self.starts.setdefault(element, len(self.pieces))

    def run(self, root: Element) -> list[Piece]:
        """The walk: a stack of open elements, each with an iterator over its children
        (so a child dealt with whole costs one step, not a start and an end)."""
        append = self.buffer.append
        pieces = self.pieces
        read = self.notes.read
        cuts = self.cuts
        known = _TAG_ACTIONS.get
        action = known(root.tag) or _action(root.tag)
        if not self._entered(root, action, read):
            self.flush()
            return pieces
        if root.text:
            append(root.text)
        stack: list[tuple[Element, int, Iterator[Element]]] = [(root, action, iter(root))]
        while stack:
            parent, parent_action, children = stack[-1]
            for element in children:
                tag = element.tag
                action = known(tag) or (_action(tag) if type(tag) is str else _SKIP)
                if (
                    action == _BLOCK
                    and self.heading is None
                    and not self.items
                    and not element.items()
                    and not (read and element in read)
                    and not (cuts and element in cuts)
                ):  # a paragraph, the common case: written out
                    if self.buffer or self.pending:
                        self.flush()
                    if not len(element):
                        text = element.text
                    elif (references := references_below(element, cuts)) is not None:
                        if references:
                            self._referring(element, references)
                            text = None
                        else:
                            text = text_below(element)
                    else:
                        if element.text:
                            append(element.text)
                        stack.append((element, action, iter(element)))
                        break
                    if text:
                        text = clean(text)
                        if text:
                            pieces.append(piece(text))
                elif (
                    action == _INLINE
                    and not len(element)
                    and not element.items()
                    and not (read and element in read)
                    and not (cuts and element in cuts)
                ):  # an ``em`` with only text, in a paragraph walked for its note reference
                    if element.text:
                        append(element.text)
                elif (
                    action in (_HEADING, _IMG, _PRE)  # mypyc: three int comparisons
                    and self.heading is None
                    and not (read and element in read)
                    and not (cuts and element in cuts)
                    and self._plain_leaf(element, action)
                ):  # a heading with only text, an image, a code block: written out too
                    if action == _HEADING:
                        if self.buffer or self.pending:
                            self.flush()
                        text = element.text
                        if text:
                            text = clean(text)
                            if text:
                                pieces.append(piece(text, "heading", HEADINGS[local(element)]))
                    elif action == _PRE and (self.buffer or self.pending):
                        self.flush()
                elif self._entered(element, action, read):
                    if element.text:
                        append(element.text)
                    stack.append((element, action, iter(element)))
                    break
                tail = element.tail
                if tail and (action < _PRE or not tail.isspace()):  # blocks separate anyway
                    append(tail)
            else:
                stack.pop()
                if parent_action > _LINK:
                    self._closed(parent, parent_action)
                if parent is not root:
                    tail = parent.tail
                    if tail and (parent_action < _PRE or not tail.isspace()):
                        append(tail)
        self.flush()
        return pieces

    def _plain_leaf(self, element: Element, action: int) -> bool:
        """A heading with only text and no attributes, an image whose alt text is not
        heard, a code block not heard, without attributes that could say more."""
        if action == _HEADING:
            return not len(element) and not element.items()
        if action == _PRE:
            return not self.options.code and not element.items()
        if self.options.alt_text:
            return False
        for key, value in element.items():
            if key not in _IMAGE_KEYS or (key == "class" and "foot" in value.lower()):
                return False
        return True

    def _entered(self, element: Element, action: int, read: set[Element]) -> bool:
        """An element starts: True when the walk should go through its content, False
        when it was dealt with here (skipped, a note, or taken whole)."""
        if action == _SKIP:
            if self.options.toc_titles and "toc" in marks(element):
                action = _INLINE  # a ``nav`` typed as a table of contents: its titles
            else:
                if element.tag is etree.Entity:  # left alone by the parser: HTML's, or a space
                    self.buffer.append(html5.get(f"{element.name};", " "))
                return False
        if (read and element in read) or (
            (element.items() or action == _LINK) and self._special(element, marks(element))
        ):
            return False
        if self.cuts and element in self.cuts:
            self._cut(element)
        if action >= _BLOCK and self.heading is None:
            if self.buffer or self.pending:
                self.flush()
            if action == _ITEM:
                self.items += 1
            elif not len(element) and not self.items:  # a plain paragraph: written out
                text = element.text
                if text:
                    text = clean(text)
                    if text:
                        self.pieces.append(piece(text))
                return False
        elif action > _LINK and not self._opened(element, action):
            return False
        if len(element) and not _only_text_below(element, self.cuts):
            return True
        text = element.text if not len(element) else text_below(element)
        if text:
            self.buffer.append(text)
        if action > _LINK:
            self._closed(element, action)
        return False


# what the walk does with an element, by its tag (all true; Final: mypyc inlines them)
_INLINE: Final = 1
_LINK: Final = 2
_SKIP: Final = 3
_IMG: Final = 4
_BR: Final = 5
_PRE: Final = 6
_HEADING: Final = 7
_BLOCK: Final = 8
_ITEM: Final = 9
_ACTIONS: Final = {
    **dict.fromkeys(BLOCK, _BLOCK),
    **dict.fromkeys(ITEMS, _ITEM),
    **dict.fromkeys(HEADINGS, _HEADING),
    **dict.fromkeys(SKIP, _SKIP),
    "img": _IMG,
    "br": _BR,
    "pre": _PRE,
    "a": _LINK,
    "sup": _LINK,
}
_TAG_ACTIONS: Final[dict[str, int]] = {}
_IMAGE_KEYS: Final = HARMLESS | {"src", "alt", "width", "height"}


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
    return next(root.iter("{*}body"), root)  # "{*}": XHTML's namespace, or HTML's none


def pieces_of(root: Element, options: ReadOptions, notes: Notes) -> list[Piece]:
    """What a listener should hear of one HTML or XHTML document, in order."""
    return _Walker(options, notes, ()).run(body_of(root))


def cut_pieces_of(
    root: Element, options: ReadOptions, notes: Notes, cuts: Collection[Element]
) -> tuple[list[Piece], dict[Element, int]]:
    """``pieces_of``, and for each of ``cuts`` (elements where a new section should
    start) that is heard, how many pieces come before it."""
    walker = _Walker(options, notes, cuts)
    return walker.run(body_of(root)), walker.starts


_WITH_ID: Final = etree.XPath("descendant-or-self::*[@id]")


def ids_of(root: Element) -> dict[str, Element]:
    """Every element with an ``id``, by id (the first wins)."""
    return {e.get("id"): e for e in reversed(_WITH_ID(root)) if e.get("id")}
