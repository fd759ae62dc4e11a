"""EPUB 2 and 3: the zip container, the package (OPF), the spine and the navigation.

Read with ``zipfile`` and lxml (see the README for why not ``ebooklib``). Each spine
item is a section (``page`` = its 1-based number), split where the navigation says a
chapter starts inside it (``ch1.xhtml#s2``: a new section from the block where ``s2``
starts), so every chapter starts a section; the navigation document (EPUB 3), or else
the NCX (EPUB 2), gives the chapters, else the headings do. The
navigation document and other table-of-contents pages are not read. Every entry is
read with a bound on its inflated size, so a zip bomb costs at most ``MAX_ENTRY`` bytes.
"""

from __future__ import annotations

import bisect
import io
import itertools
import posixpath
import zipfile
import zlib
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote

from preread.errors import BadDocument
from preread.model import Chapter, DocumentText
from preread.readers.assemble import Piece, ReadOptions, Section, finish
from preread.readers.notes import Notes, toc_titles
from preread.readers.tree import (
    HEADINGS,
    Element,
    clean,
    local,
    parse_xhtml,
    parse_xml,
    semantics,
    text_of,
)
from preread.readers.walk import cut_pieces_of, ids_of, text_below
from preread.settings import TextSettings

MAX_ENTRY = 32 * 2**20
"""Inflated bytes read from one entry of the archive, at most."""
MAX_TOTAL = 64 * 2**20
"""Inflated bytes read from the whole archive, at most (only the package, navigation and
spine documents are read, never images; a long novel is 2–5 MB)."""
MAX_DEPTH = 2
"""Navigation levels kept as chapters, as for PDF outlines."""
_FONT_OBFUSCATION = frozenset(
    ["http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC"]
)
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    ValueError,
    OSError,
    RuntimeError,
    NotImplementedError,
)
_DOCUMENT_TYPES = frozenset(["application/xhtml+xml", "text/html", "application/xml"])


class _Archive:
    """The zip, read entry by entry with bounds."""

    def __init__(self, data: bytes, name: str) -> None:
        self.name = name
        self.total = 0
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(data))
            self.names = set(self.zip.namelist())
        except _ZIP_ERRORS as exc:
            raise BadDocument(
                f"{name} is a damaged zip archive, not a readable EPUB: {exc}"
            ) from None

    def read(self, path: str) -> bytes:
        try:
            info = self.zip.getinfo(path)
        except KeyError:
            raise BadDocument(f"{self.name}: {path} is missing from the archive") from None
        if info.file_size > MAX_ENTRY or self.total + info.file_size > MAX_TOTAL:
            raise BadDocument(f"{self.name}: {path} inflates to more than preread reads")
        try:
            with self.zip.open(info) as handle:
                data = handle.read(MAX_ENTRY + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError) as exc:
            raise BadDocument(
                f"{self.name}: {path} cannot be read from the archive: {exc}"
            ) from None
        except (RuntimeError, NotImplementedError) as exc:  # encrypted or unknown compression
            raise BadDocument(
                f"{self.name}: {path} cannot be read from the archive: {exc}"
            ) from None
        self.total += len(data)
        if len(data) > MAX_ENTRY or self.total > MAX_TOTAL:
            raise BadDocument(f"{self.name}: {path} inflates to more than preread reads")
        return data

    def xml(self, path: str) -> Element:
        return parse_xml(self.read(path), f"{self.name}: {path}")


def _check_kind(archive: _Archive) -> None:
    if "META-INF/container.xml" in archive.names:
        return
    names = archive.names
    if "word/document.xml" in names:
        what = "a Word document"
    elif "content.xml" in names and "mimetype" in names:
        what = "an OpenDocument file"
    elif "mimetype" in names and archive.read("mimetype").strip() == b"application/epub+zip":
        raise BadDocument(f"{archive.name} is an EPUB without META-INF/container.xml")
    else:
        what = "a zip archive"
    raise BadDocument(f"{archive.name} is {what}, not an EPUB (no META-INF/container.xml)")


def _check_drm(archive: _Archive) -> None:
    for marker in ("META-INF/rights.xml", "META-INF/sinf.xml"):
        if marker in archive.names:
            raise BadDocument(f"{archive.name} is DRM-protected ({marker}); preread cannot read it")
    if "META-INF/encryption.xml" not in archive.names:
        return
    root = archive.xml("META-INF/encryption.xml")
    for data in root.iter("{*}EncryptedData"):
        method = next(data.iter("{*}EncryptionMethod"), None)
        algorithm = method.get("Algorithm", "") if method is not None else ""
        if algorithm not in _FONT_OBFUSCATION:  # obfuscated fonts are not DRM
            raise BadDocument(
                f"{archive.name} is DRM-protected (META-INF/encryption.xml encrypts its "
                "content); preread cannot read it"
            )


def _resolve(base: str, href: str) -> tuple[str, str]:
    """``href`` (relative to the file ``base``) → (archive path, fragment)."""
    path, _, fragment = href.partition("#")
    return (_join(base, path) if path else base), fragment


@lru_cache(maxsize=4096)
def _join(base: str, path: str) -> str:
    return posixpath.normpath(posixpath.join(posixpath.dirname(base), unquote(path))).lstrip("/")


class _Package:
    """The OPF: manifest, spine, title and where the navigation lives."""

    def __init__(self, archive: _Archive) -> None:
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


def _nav_entries(archive: _Archive, package: _Package) -> Iterator[tuple[str, str, str]]:
    """(title, archive path, fragment) of the table of contents, down to ``MAX_DEPTH``
    levels."""
    if package.nav and package.nav in archive.names:
        root = parse_xhtml(archive.read(package.nav), f"{archive.name}: {package.nav}")
        for nav in root.iter("{*}nav", "nav"):
            if "toc" not in semantics(nav):
                continue
            for link in nav.iter("{*}a", "a"):
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


def extract_epub(data: bytes, name: str, options: ReadOptions) -> Extracted:
    """The book's title, sections of pieces, and chapters: everything before sentences
    and blocks. A section is a spine item, split where the navigation says a chapter
    starts inside it (``file.xhtml#id``). ``BadDocument`` when it is not an EPUB, is
    DRM-protected, or lacks a file its spine names."""
    archive = _Archive(data, name)
    _check_kind(archive)
    _check_drm(archive)
    package = _Package(archive)
    roots: dict[str, Element | None] = {}
    for path, media in package.spine:
        if path in roots:
            continue
        document = media in _DOCUMENT_TYPES or path.lower().endswith((".xhtml", ".html", ".htm"))
        roots[path] = parse_xhtml(archive.read(path), f"{name}: {path}") if document else None
    entries = list(_nav_entries(archive, package))
    fragments: dict[str, set[str]] = {}
    for _, path, fragment in entries:
        if fragment:
            fragments.setdefault(path, set()).add(fragment)
    ids: dict[str, dict[str, Element]] = {}
    read: set[Element] = set()
    spine_paths = set(roots)
    skipped = {package.nav, *package.toc_pages}
    sections: list[Section] = []
    pages: Pages = {}
    for path, _ in package.spine:
        root = roots[path]
        pages.setdefault((path, ""), len(sections) + 1)
        if root is None:
            sections.append(Section())
            continue
        if path in skipped:
            sections.append(Section(toc_titles(root) if options.toc_titles else []))
            continue

        def lookup(href: str, base: str = path) -> Element | None:
            target, fragment = _resolve(base, href)
            if target not in roots or roots[target] is None or not fragment:
                return None
            if target not in ids:
                ids[target] = ids_of(roots[target])
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
