"""What a file is, from its bytes: PDF, EPUB, HTML, Markdown or UTF-8 plain text.

HTML may be in any character set it declares (``preread.readers.charset``); Markdown and
plain text are UTF-8.

The file's name plays no part. A declared media type (an upload's ``Content-Type``)
only chooses among the text kinds, whose bytes can say the same thing: a ``text/plain``
upload that happens to use ``#`` is still read as plain text.
"""

from __future__ import annotations

import re
from typing import Literal

from preread.errors import BadDocument

Kind = Literal["pdf", "epub", "html", "markdown", "text"]
KINDS: tuple[Kind, ...] = ("pdf", "epub", "html", "markdown", "text")
ACCEPTED = "PDF, EPUB, Markdown, HTML or UTF-8 plain text"
MEDIA_TYPES: dict[str, Kind] = {
    "application/pdf": "pdf",
    "application/epub+zip": "epub",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "text/plain": "text",
}
HEAD = 64 * 1024
"""Bytes looked at to decide."""

_ZIP = (b"PK\x03\x04", b"PK\x05\x06")
_HTML_START = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*"
    rb"<(?:!doctype\s+html|html|head|body)[\s>]",
    re.IGNORECASE | re.DOTALL,
)
_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")

# Markdown evidence, line by line: strong marks one is enough for; weak ones need two kinds.
_STRONG = {
    "heading": re.compile(r"^ {0,3}#{1,6}[ \t]+\S", re.MULTILINE),
    "fence": re.compile(r"^ {0,3}(?:```|~~~)", re.MULTILINE),
    "link": re.compile(r"!?\[[^\]\n]+\]\([^)\s]+(?:\s+\"[^\"\n]*\")?\)"),
    "footnote": re.compile(r"\[\^[^\]\s]+\]"),
    "setext": re.compile(r"^[^\n]*\w[^\n]*\n {0,3}(?:=+|-{2,})[ \t]*$", re.MULTILINE),
    "refdef": re.compile(r"^ {0,3}\[[^\]\n]+\]:[ \t]+\S", re.MULTILINE),
}
_WEAK = {
    "list": re.compile(r"^ {0,3}(?:[-*+]|\d{1,9}[.)])[ \t]+\S", re.MULTILINE),
    "emphasis": re.compile(r"(?:\*\*|__)\S[^\n]*?\S(?:\*\*|__)"),
    "code": re.compile(r"`[^`\n]+`"),
    "quote": re.compile(r"^ {0,3}>[ \t]?\S", re.MULTILINE),
    "rule": re.compile(r"^ {0,3}(?:\*[ \t]*){3,}$|^ {0,3}(?:_[ \t]*){3,}$", re.MULTILINE),
}


def looks_like_markdown(text: str) -> bool:
    """Enough Markdown syntax that rendering it changes what is heard."""
    if any(p.search(text) for p in _STRONG.values()):
        return True
    return sum(1 for p in _WEAK.values() if p.search(text)) >= 2


def media_kind(content_type: str | None) -> Kind | None:
    """The kind a media type names (``text/markdown; charset=utf-8`` → markdown)."""
    if not content_type:
        return None
    return MEDIA_TYPES.get(content_type.split(";", 1)[0].strip().lower())


def sniff(head: bytes, name: str, declared: Kind | None = None) -> Kind:
    """The kind of a file whose first bytes are ``head`` (``HEAD`` of them suffice).

    Raises ``BadDocument`` for anything else, naming the accepted kinds.
    """
    if b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(_ZIP):
        return "epub"  # the EPUB reader says what else a zip archive is
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = head[:HEAD].decode("utf-16", errors="ignore").encode("utf-8")
        if declared == "html" or _HTML_START.match(text):
            return "html"  # HTML honours its byte-order mark
        raise BadDocument(f"{name} is UTF-16 text; preread reads {ACCEPTED}: save it as UTF-8")
    if not head.strip():
        raise BadDocument(f"{name} is empty")
    if _CONTROL.search(head[:HEAD]):
        raise BadDocument(f"{name} is not a document preread reads ({ACCEPTED})")
    if not _utf8_prefix(head[:HEAD]):
        if declared == "html" or _HTML_START.match(head[:HEAD]):
            return "html"  # read in the character set it declares, or refused saying where
        decode_utf8(head[:HEAD], name)  # raises, saying where
    if declared in ("html", "markdown", "text"):
        return declared
    if _HTML_START.match(head[:HEAD]):
        return "html"
    sample = head[:HEAD].decode("utf-8", errors="ignore")
    return "markdown" if looks_like_markdown(sample) else "text"


def _utf8_prefix(head: bytes) -> bool:
    """``head`` is UTF-8, allowing a character cut at its end."""
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3 and exc.reason == "unexpected end of data"
    return True


def decode_utf8(data: bytes, name: str) -> str:
    """The text of a UTF-8 file (a byte-order mark is dropped); ``BadDocument`` saying
    where, when it is not UTF-8."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadDocument(
            f"{name} is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "save it as UTF-8"
        ) from None
    return text.removeprefix("\ufeff")
