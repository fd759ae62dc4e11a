"""The character set an HTML or XHTML file declares, and its text decoded by it.

In order, as browsers and XML parsers do: a byte-order mark (UTF-8, UTF-16), the XML
declaration (``<?xml version="1.0" encoding="iso-8859-1"?>``), then a ``<meta
charset="…">`` or ``<meta http-equiv="Content-Type" content="text/html; charset=…">``
in the file's first ``PRESCAN`` bytes; with none of them, UTF-8. Labels are read as the
WHATWG Encoding Standard reads them where it differs from Python (``iso-8859-1`` and
``us-ascii`` are windows-1252). Bytes that are not valid in the declared character set
are refused with one line saying which byte, where; so is a character set Python does not
know.
"""

from __future__ import annotations

import codecs
import contextlib
import re

from preread.errors import BadDocument

PRESCAN = 4096
"""Bytes searched for a ``<meta>`` declaration (browsers look at 1024)."""
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
_XML_DECLARATION = re.compile(
    rb"""^\s*<\?xml\s[^>]*?encoding\s*=\s*["']\s*([A-Za-z0-9._:-]{1,40})\s*["']"""
)
_META = re.compile(
    rb"""<meta\s[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]{1,40})""", re.IGNORECASE
)
_WHATWG = {"iso8859-1": "cp1252", "ascii": "cp1252"}


def _text_encoding(name: str) -> None:
    """``LookupError`` unless ``name`` decodes bytes to text (not ``base64_codec``…)."""
    with contextlib.suppress(UnicodeDecodeError):  # a lone "a" is not complete UTF-16
        b"a".decode(name)  # not b"": Python decodes nothing without asking the codec


def declared_charset(data: bytes, name: str, *, meta: bool = True) -> tuple[str, int, str]:
    """(Python codec name, length of the byte-order mark, the label as written) of what
    ``data`` declares (``meta``: a ``<meta>`` counts, as in HTML; XML ignores it); UTF-8
    when it declares nothing. ``BadDocument`` for a label Python does not know."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding, len(bom), encoding
    found = _XML_DECLARATION.match(data) or (_META.search(data[:PRESCAN]) if meta else None)
    if found is None:
        return "utf-8", 0, "utf-8"
    label = found.group(1).decode("ascii").lower()
    codec = _CODECS.get(label)
    if codec is None:
        codec = _codec(label, name)
        if len(_CODECS) < 256:  # labels a book invents cannot grow this without bound
            _CODECS[label] = codec
    return codec, 0, label


def _codec(label: str, name: str) -> str:
    """The Python codec reading what ``label`` declares (a book's every file names the
    same one: ``declared_charset`` keeps them)."""
    try:
        codec = codecs.lookup(label).name
        _text_encoding(codec)
    except LookupError:
        raise BadDocument(
            f"{name} declares the character set {label!r}, which preread does not know"
        ) from None
    if codec.startswith(("utf-16", "utf-32")):
        codec = "utf-8"  # a declaration readable as ASCII is not UTF-16 (WHATWG says UTF-8)
    return _WHATWG.get(codec, codec)


_CODECS: dict[str, str] = {}


def decode_markup(data: bytes, name: str, *, meta: bool = True) -> str:
    """The text of an HTML or XHTML file, decoded as it declares (see the module's
    docstring); ``BadDocument`` saying which byte, where, when it is not valid."""
    encoding, bom, label = declared_charset(data, name, meta=meta)
    try:
        return data[bom:].decode(encoding)
    except UnicodeDecodeError as exc:
        offset = bom + exc.start
        where = f"byte 0x{data[offset]:02x} at offset {offset}"
        if encoding == "utf-8":
            raise BadDocument(f"{name} is not valid UTF-8 ({where}); save it as UTF-8") from None
        raise BadDocument(
            f"{name} is not valid {label}, the character set it declares ({where})"
        ) from None
