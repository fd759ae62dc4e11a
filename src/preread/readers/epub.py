"""EPUB 2 and 3: the zip container, the package (OPF), the spine and the navigation.

Read with ``zipfile`` and lxml (see the README for why not ``ebooklib``). Each spine
item is a section (``page`` = its 1-based number), split where the navigation says a
chapter starts inside it (``ch1.xhtml#s2``: a new section from the block where ``s2``
starts), so every chapter starts a section; the navigation document (EPUB 3), or else
the NCX (EPUB 2), gives the chapters, else the headings do. The
navigation document and other table-of-contents pages are not read. Every entry is
read with a bound on its inflated size (``archive``). A spine document is parsed when
the walk reaches it (or a note is looked up in it), so it is walked while in cache.
"""

from __future__ import annotations

import bisect
import gc
import itertools
import posixpath
import threading
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Final, NamedTuple
from urllib.parse import unquote

from preread.errors import BadDocument
from preread.model import Chapter, DocumentText
from preread.readers.archive import Archive, check_drm, check_kind
from preread.readers.assemble import Piece, ReadOptions, Section, finish
from preread.readers.notes import Notes, toc_titles
from preread.readers.tree import (
    HEADINGS,
    Element,
    clean,
    local,
    parse_xhtml,
    semantics,
    text_of,
)
from preread.readers.walk import cut_pieces_of, ids_of, text_below
from preread.settings import TextSettings

MAX_DEPTH = 2
"""Navigation levels kept as chapters, as for PDF outlines."""
_DOCUMENT_TYPES = frozenset(["application/xhtml+xml", "text/html", "application/xml"])


def _resolve(base: str, href: str) -> tuple[str, str]:
    """``href`` (relative to the file ``base``) → (archive path, fragment)."""
    path, _, fragment = href.partition("#")
    return (_join(base, path) if path else base), fragment


@lru_cache(maxsize=4096)
def _join(base: str, path: str) -> str:
    return posixpath.normpath(posixpath.join(posixpath.dirname(base), unquote(path))).lstrip("/")


class _Package:
    """The OPF: manifest, spine, title and where the navigation lives."""

    def __init__(self, archive: Archive) -> None:
        container = archive.xml("META-INF/container.xml")
        rootfile = next((r for r in container.iter("{*}rootfile") if r.get("full-path")), None)
        if rootfile is None:
            raise BadDocument(f"{archive.name}: META-INF/container.xml names no package file")
        self.path = unquote(str(rootfile.get("full-path"))).lstrip("/")
        opf = archive.xml(self.path)
        self.items: dict[str, tuple[str, str, set[str]]] = {}
        for item in opf.iter("{*}item"):
            key, href = item.get("id"), item.get("href")
            if key and href:
                path = _resolve(self.path, href)[0]
                media = (item.get("media-type") or "").lower()
                self.items[key] = (path, media, set((item.get("properties") or "").split()))
        spine = next(opf.iter("{*}spine"), None)
        if spine is None:
            raise BadDocument(f"{archive.name}: the package {self.path} has no spine")
        self.spine: list[tuple[str, str]] = []
        for ref in spine.iter("{*}itemref"):
            idref = ref.get("idref") or ""
            if idref not in self.items:
                raise BadDocument(
                    f"{archive.name}: the spine names {idref!r}, which the manifest does not list"
                )
            path, media, _ = self.items[idref]
            if path not in archive.names:
                raise BadDocument(f"{archive.name}: the spine's {path} is missing from the archive")
            self.spine.append((path, media))
        if not self.spine:
            raise BadDocument(f"{archive.name}: the spine is empty")
        title = next(opf.iter("{http://purl.org/dc/elements/1.1/}title"), None)
        self.title = text_of(title) if title is not None else ""
        self.nav = next((p for p, _, props in self.items.values() if "nav" in props), None)
        ncx_id = spine.get("toc")
        ncx = self.items.get(ncx_id or "") or next(
            (i for i in self.items.values() if i[1] == "application/x-dtbncx+xml"), None
        )
        self.ncx = ncx[0] if ncx else None
        self.toc_pages = {
            _resolve(self.path, ref.get("href", ""))[0]
            for ref in opf.iter("{*}reference")
            if (ref.get("type") or "").lower() == "toc"
        }


def _nav_entries(archive: Archive, package: _Package) -> Iterator[tuple[str, str, str]]:
    """(title, archive path, fragment) of the table of contents, down to ``MAX_DEPTH``
    levels."""
    if package.nav and package.nav in archive.names:
        root = parse_xhtml(archive.read(package.nav), f"{archive.name}: {package.nav}")
        for nav in root.iter("{*}nav"):
            if "toc" not in semantics(nav):
                continue
            for link in nav.iter("{*}a"):
                depth = sum(1 for a in link.iterancestors() if local(a) in ("ol", "ul"))
                if depth <= MAX_DEPTH and link.get("href"):
                    yield text_of(link), *_resolve(package.nav, link.get("href"))
            return
    if package.ncx and package.ncx in archive.names:
        root = archive.xml(package.ncx)
        for point in root.iter("{*}navPoint"):
            depth = sum(1 for a in point.iterancestors() if local(a) == "navpoint") + 1
            label = next(point.iter("{*}text"), None)
            content = next(point.iter("{*}content"), None)
            if depth <= MAX_DEPTH and label is not None and content is not None:
                yield text_of(label), *_resolve(package.ncx, content.get("src", ""))


def _is_toc_page(root: Element, path: str, spine_paths: set[str], heard: int) -> bool:
    """Mostly links into other spine files (``heard`` characters in all): a table of
    contents the book did not mark."""
    links = [a for a in root.iter("{*}a") if a.get("href")]  # "{*}": any namespace or none
    if len(links) < 3 or sum(len(text_below(a)) for a in links) < 0.6 * max(1, heard):
        return False  # most pages: settled without resolving a link (or collapsing spaces)
    others = spine_paths - {path}
    inward = [a for a in links if _resolve(path, a.get("href"))[0] in others]
    linked = sum(len(text_of(a)) for a in inward)
    return len(inward) >= 3 and linked >= 0.6 * max(1, heard)


Pages = dict[tuple[str, str], int]
"""(archive path, fragment) → the section where it starts; ``""``: the file's first."""


def _chapters(
    entries: list[tuple[str, str, str]], pages: Pages, sections: list[Section]
) -> list[Chapter]:
    found = [
        Chapter(title=clean(title)[:300], page=pages.get((path, fragment)) or pages[(path, "")])
        for title, path, fragment in entries
        if clean(title) and (path, "") in pages
    ]
    if found:
        return found
    return [
        Chapter(title=piece.text[:300], page=number)
        for number, section in enumerate(sections, start=1)
        for piece in section.pieces
        if piece.kind == "heading" and piece.level <= 2
    ]


def _starts(
    root: Element, fragments: set[str], ids: dict[str, Element]
) -> dict[Element, list[str]]:
    """The elements where the navigation says chapters start inside a file (a heading
    for an anchor inside one), with the fragments naming each."""
    found: dict[Element, list[str]] = {}
    for fragment in sorted(fragments):
        element = ids.get(fragment)
        if element is None:
            continue
        heading = next((a for a in element.iterancestors() if local(a) in HEADINGS), None)
        found.setdefault(heading if heading is not None else element, []).append(fragment)
    return found


def _split(
    pieces: list[Piece], at: dict[Element, int], named: dict[Element, list[str]]
) -> tuple[list[Section], dict[str, int]]:
    """A file's pieces → sections, a new one where each chapter starts; and each
    fragment's section (0-based, in this file)."""
    cuts = sorted({i for i in at.values() if 0 < i < len(pieces)})
    bounds = [0, *cuts, len(pieces)]
    sections = [Section(pieces[a:b]) for a, b in itertools.pairwise(bounds)]
    where = {f: bisect.bisect_right(cuts, i) for e, i in at.items() for f in named[e]}
    return sections, where


class Extracted(NamedTuple):
    title: str
    sections: list[Section]
    chapters: list[Chapter]


_GC_LOCK: Final = threading.Lock()
_gc_pauses = 0  # extractions running with the collector paused (threads, re-entry)
_gc_was_enabled = False


def _pause_gc() -> None:
    global _gc_pauses, _gc_was_enabled
    with _GC_LOCK:
        if not _gc_pauses:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1


def _resume_gc() -> None:
    global _gc_pauses
    with _GC_LOCK:
        _gc_pauses -= 1
        if not _gc_pauses and _gc_was_enabled:
            gc.enable()


def extract_epub(data: bytes, name: str, options: ReadOptions) -> Extracted:
    """The book's title, sections of pieces, and chapters: everything before sentences
    and blocks. A section is a spine item, split where the navigation says a chapter
    starts inside it (``file.xhtml#id``). ``BadDocument`` when it is not an EPUB, is
    DRM-protected, or lacks a file its spine names.

    Python's cyclic garbage collector is paused meanwhile (the walk makes thousands of
    objects and no cycles; the collections they set off cost more than a tenth of the
    extraction), and resumed as it was when the last extraction running ends."""
    _pause_gc()
    try:
        return _extract(data, name, options)
    finally:
        _resume_gc()


def _extract(data: bytes, name: str, options: ReadOptions) -> Extracted:
    archive = Archive(data, name)
    check_kind(archive)
    check_drm(archive)
    package = _Package(archive)
    documents = {
        path: media in _DOCUMENT_TYPES or path.lower().endswith((".xhtml", ".html", ".htm"))
        for path, media in package.spine
    }
    roots: dict[str, Element | None] = {}  # parsed when first needed: walked while in cache

    def root_of(path: str) -> Element | None:
        if path not in roots:
            document = documents[path]
            roots[path] = parse_xhtml(archive.read(path), f"{name}: {path}") if document else None
        return roots[path]

    entries = list(_nav_entries(archive, package))
    fragments: dict[str, set[str]] = {}
    for _, path, fragment in entries:
        if fragment:
            fragments.setdefault(path, set()).add(fragment)
    ids: dict[str, dict[str, Element]] = {}
    read: set[Element] = set()
    spine_paths = set(documents)
    skipped = {package.nav, *package.toc_pages}
    sections: list[Section] = []
    pages: Pages = {}
    for path, _ in package.spine:
        root = root_of(path)
        pages.setdefault((path, ""), len(sections) + 1)
        if root is None:
            sections.append(Section())
            continue
        if path in skipped:
            sections.append(Section(toc_titles(root) if options.toc_titles else []))
            continue

        def lookup(href: str, base: str = path) -> Element | None:
            target, fragment = _resolve(base, href)
            if not fragment or target not in documents:
                return None
            found = root_of(target)
            if found is None:
                return None
            if target not in ids:
                ids[target] = ids_of(found)
            return ids[target].get(fragment)

        starts: dict[Element, list[str]] = {}
        if path in fragments:
            if path not in ids:
                ids[path] = ids_of(root)
            starts = _starts(root, fragments[path], ids[path])
        pieces, at = cut_pieces_of(root, options, Notes(lookup, read), starts)
        if all(p.kind == "heading" for p in pieces) and any(e in read for e in root.iter()):
            pieces = []  # a notes page whose notes were all read after their references
        elif _is_toc_page(root, path, spine_paths, sum(len(p.text) for p in pieces)):
            pieces, at = (toc_titles(root) if options.toc_titles else []), {}
        if not at or not pieces:
            sections.append(Section(pieces))
            continue
        parts, where = _split(pieces, at, starts)
        for fragment, offset in where.items():
            pages.setdefault((path, fragment), len(sections) + 1 + offset)
        sections.extend(parts)
    first = next((p.text for s in sections for p in s.pieces if p.kind == "heading"), None)
    title = package.title or first or Path(name).stem
    return Extracted(title, sections, _chapters(entries, pages, sections))


def read_epub(
    data: bytes, name: str, options: ReadOptions, text: TextSettings | None = None
) -> DocumentText:
    """An EPUB's spine items as sections of blocks (see ``extract_epub``)."""
    book = extract_epub(data, name, options)
    return finish(
        kind="epub",
        data=data,
        name=name,
        title=book.title,
        sections=book.sections,
        chapters=book.chapters,
        text=text,
    )
