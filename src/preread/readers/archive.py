"""An EPUB's zip container, read entry by entry with bounds, and what it turns out to be.

``Archive`` reads an entry with a bound on its inflated size, so a zip bomb costs at
most ``MAX_ENTRY`` bytes (``MAX_TOTAL`` for the whole book); ``check_kind`` names the
zips that are not EPUBs (a Word or OpenDocument file), ``check_drm`` the protected ones
(obfuscated fonts are not DRM). Every failure is one ``BadDocument`` line.
"""

from __future__ import annotations

import io
import zipfile
import zlib

from preread.errors import BadDocument
from preread.readers.tree import Element, parse_xml

MAX_ENTRY = 32 * 2**20
"""Inflated bytes read from one entry of the archive, at most."""
MAX_TOTAL = 64 * 2**20
"""Inflated bytes read from the whole archive, at most (only the package, navigation and
spine documents are read, never images; a long novel is 2–5 MB)."""
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


class Archive:
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
        except _ZIP_ERRORS as exc:  # damaged, encrypted, or an unknown compression
            raise BadDocument(
                f"{self.name}: {path} cannot be read from the archive: {exc}"
            ) from None
        self.total += len(data)
        if len(data) > MAX_ENTRY or self.total > MAX_TOTAL:
            raise BadDocument(f"{self.name}: {path} inflates to more than preread reads")
        return data

    def xml(self, path: str) -> Element:
        return parse_xml(self.read(path), f"{self.name}: {path}")


def check_kind(archive: Archive) -> None:
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


def check_drm(archive: Archive) -> None:
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
