"""Parsing HTML and XHTML safely, and what an element is.

XML is parsed with lxml configured against bombs: entities are never expanded
(``resolve_entities=False``: a "billion laughs" stays a handful of references), no DTD
or network is loaded, and ``huge_tree=False`` keeps libxml2's limits (nesting depth 256,
text node size): deeper XML is refused. libxml2's HTML parser drops what lies deeper
than 255 levels, so HTML that reaches that depth is refused too. XHTML that is not
well-formed XML (an ``&nbsp;`` without its DTD, as EPUB 2 books have) is read again
with the HTML parser.
"""

from __future__ import annotations

import re
import threading
from typing import Any, Final

from lxml import etree
from lxml import html as lxml_html

from preread.errors import BadDocument
from preread.readers.charset import declared_charset, decode_markup

OPS: Final = "{http://www.idpf.org/2007/ops}type"
XHTML: Final = "http://www.w3.org/1999/xhtml"
XML_LANG: Final = "{http://www.w3.org/XML/1998/namespace}lang"
MAX_DEPTH: Final = 256
"""Nesting deeper than this is refused (libxml2's own limit without XML_PARSE_HUGE)."""

Element = Any  # lxml's _Element; lxml ships no types mypy can use here
_PARSERS: Final = threading.local()


def _xml_parser() -> etree.XMLParser:
    """This thread's XML parser (made once: a parser is not shared between threads)."""
    parser: etree.XMLParser | None = getattr(_PARSERS, "xml", None)
    if parser is None:
        parser = _PARSERS.xml = _new_xml_parser()
    return parser


def _new_xml_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def _html_parser(encoding: str | None) -> lxml_html.HTMLParser:
    return lxml_html.HTMLParser(
        encoding=encoding,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def _too_deep(exc: Exception) -> bool:
    return "depth" in str(exc).lower()


def _bomb(exc: Exception) -> bool:
    message = str(exc).lower()
    return "amplification" in message or "entity reference loop" in message


def _refuse(exc: Exception, name: str) -> None:
    """``BadDocument`` for the parse errors that are attacks, not sloppy markup."""
    if _too_deep(exc):
        raise BadDocument(f"{name} is nested too deeply (over {MAX_DEPTH} levels)") from None
    if _bomb(exc):
        raise BadDocument(f"{name} defines entities that expand without bound (an XML bomb)")


def parse_xml(data: bytes, name: str) -> Element:
    """The root of an XML file (an OPF, a container, an NCX); ``BadDocument`` if it is
    not well-formed."""
    try:
        root = etree.fromstring(data, parser=_xml_parser())
    except etree.XMLSyntaxError as exc:
        _refuse(exc, name)
        raise BadDocument(f"{name} is not well-formed XML: {exc}") from None
    if root is None:
        raise BadDocument(f"{name} is empty")
    return root


def parse_html(data: bytes | str, name: str) -> Element:
    """The root of an HTML file (text, or bytes in the character set they declare: see
    ``charset``); ``BadDocument`` when nested too deeply, not valid in its character
    set, or unreadable."""
    if isinstance(data, bytes):
        data = decode_markup(data, name)
    encoded = data.encode("utf-8")
    if not encoded.strip():
        return lxml_html.fromstring("<html><body></body></html>")
    try:
        root = etree.fromstring(encoded, parser=_html_parser("utf-8"))
    except etree.XMLSyntaxError as exc:
        _refuse(exc, name)
        raise BadDocument(f"{name} is not readable HTML: {exc}") from None
    if root is None:
        return lxml_html.fromstring("<html><body></body></html>")
    depth = 0
    for event, _ in etree.iterwalk(root, events=("start", "end")):
        depth += 1 if event == "start" else -1
        if depth >= MAX_DEPTH - 1:  # libxml2 dropped what lay deeper: refuse, do not lose it
            raise BadDocument(f"{name} is nested too deeply (over {MAX_DEPTH - 2} levels)")
    return root


def parse_xhtml(data: bytes, name: str) -> Element:
    """An EPUB content document: XML if it is well-formed (in the character set its
    byte-order mark or XML declaration gives, else UTF-8), else read as HTML (where a
    ``<meta>`` declaration counts too: see ``charset``)."""
    text: str | None = None
    if declared_charset(data, name, meta=False)[0] != "utf-8":  # a ``<meta>`` does not count
        text = decode_markup(data, name, meta=False)  # strictly, saying where it is not valid
        data = _XML_DECLARATION.sub("", text, count=1).encode("utf-8")
    try:
        root = etree.fromstring(data, parser=_xml_parser())
    except etree.XMLSyntaxError as exc:
        _refuse(exc, name)
        return parse_html(data if text is None else text, name)
    if root is None:
        return parse_html(b"", name)
    return root


_XML_DECLARATION: Final = re.compile(r"^\s*<\?xml\s[^>]*\?>")


_NAMES: Final[dict[str, str]] = {}


def local(element: Element) -> str:
    """The tag without its namespace, lowercase; "" for comments and the like."""
    tag = element.tag
    if type(tag) is not str:
        return ""
    name = _NAMES.get(tag)
    if name is None:
        name = tag.rpartition("}")[2].lower()
        if len(_NAMES) < 4096:  # a document inventing tags cannot grow this without bound
            _NAMES[tag] = name
    return name


def marks(element: Element) -> frozenset[str]:
    """What the attributes say, in one set: ``epub:type``/``role`` tokens (``noteref``),
    classes with a dot (``.footnote-ref``), ``!hidden`` for a hidden element."""
    items = element.items()
    if not items:
        return _NONE
    found: frozenset[str] = _NONE
    for key, value in items:
        if key in _TYPE_KEYS:
            said = _said(value, "")
        elif key == "class":
            said = _said(value, ".")
        elif key == "hidden" or (key == "aria-hidden" and value == "true"):
            said = _HIDDEN
        else:
            continue
        found = said if not found else found | said
    return found


def _said(value: str, prefix: str) -> frozenset[str]:
    """The tokens of a type (``prefix`` "") or class (".") attribute, cached by value."""
    key = (prefix or "\x00") + value  # a class and a type never share an entry
    tokens = _SAID.get(key)
    if tokens is None:
        if prefix:
            tokens = frozenset(prefix + v.lower() for v in value.split())
        else:
            tokens = frozenset(v.removeprefix("doc-").lower() for v in value.split())
        if len(_SAID) < 4096:  # a document inventing values cannot grow this without bound
            _SAID[key] = tokens
    return tokens


_SAID: Final[dict[str, frozenset[str]]] = {}
_HIDDEN: Final = frozenset(["!hidden"])
_NONE: Final[frozenset[str]] = frozenset()
_TYPE_KEYS: Final = frozenset([OPS, "epub:type", "role"])


def semantics(element: Element) -> set[str]:
    """The element's ``epub:type`` and ``role`` tokens, ``doc-`` dropped (``noteref``)."""
    found: set[str] = set()
    for key in (OPS, "epub:type", "role"):
        value = element.get(key)
        if value:
            found.update(v.removeprefix("doc-").lower() for v in value.split())
    return found


def classes(element: Element) -> set[str]:
    value = element.get("class")
    return set(value.lower().split()) if value else set()


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# What elements are to a listener (by their tag without namespace, lowercase).
BLOCK: Final = _words(
    "address article aside blockquote body caption center details dialog div dl "
    "fieldset figcaption figure footer form header hgroup hr html legend main ol p "
    "section summary table tbody tfoot thead tr ul"
)
ITEMS: Final = _words("li dt dd td th")
"""Blocks whose text ends a sentence, as a heading does (a list item, a table cell)."""
SKIP: Final = _words(
    "head script style template nav noscript svg math rt rp object embed iframe audio "
    "video canvas button select textarea input title"
)
HEADINGS: Final = {f"h{n}": n for n in range(1, 7)}
PLAIN: Final = _words(
    "em strong i b u s small big span cite q abbr acronym dfn code kbd samp var mark "
    "time bdi bdo ins del strike tt font data sub wbr"
)
"""Inline elements that are only their text (unless their attributes say more)."""
PLAIN_TAGS: Final = frozenset([*PLAIN, *(f"{{{XHTML}}}{t}" for t in PLAIN)])
"""``PLAIN`` as raw tags: HTML's, and XHTML's with their namespace."""
HARMLESS: Final = frozenset(["id", "class", "lang", "dir", "style", "title", XML_LANG])
"""Attributes that change nothing a listener hears (a class naming a footnote aside)."""
SKIP_MARKS: Final = frozenset(
    ["pagebreak", "toc", "landmarks", "page-list", "loi", "lot", "!hidden"]
)
NOTE_MARKS: Final = frozenset(["footnote", "endnote", "rearnote", "note", ".footnote-item"])
NOTEREF_MARKS: Final = frozenset(["noteref", ".footnote-ref"])
BACKLINK_MARKS: Final = frozenset(["backlink", ".footnote-backref", ".footnote-back"])
_INVISIBLE: Final = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")


def clean(text: str) -> str:
    """Whitespace collapsed (no-break spaces too), soft hyphens and zero-width marks gone."""
    if text.isascii():
        if (  # already clean (most paragraphs): no ASCII space but single ones inside
            "\n" not in text
            and "\t" not in text
            and "\r" not in text
            and "\x0b" not in text
            and "\x0c" not in text
            and "\x1c" not in text
            and "\x1d" not in text
            and "\x1e" not in text
            and "\x1f" not in text
            and text[:1] != " "
            and text[-1:] != " "
            and "  " not in text  # CPython's search skips two characters a letter: 2× sre's
        ):
            return text
        return " ".join(text.split())
    return " ".join(_INVISIBLE.sub("", text).split())


def text_of(element: Element) -> str:
    """All text below ``element``, whitespace collapsed."""
    return " ".join("".join(element.itertext()).split())
