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

from typing import Any

from lxml import etree
from lxml import html as lxml_html

from preread.errors import BadDocument

OPS = "{http://www.idpf.org/2007/ops}type"
XHTML = "http://www.w3.org/1999/xhtml"
MAX_DEPTH = 256
"""Nesting deeper than this is refused (libxml2's own limit without XML_PARSE_HUGE)."""

Element = Any  # lxml's _Element; lxml ships no types mypy can use here


def _xml_parser() -> etree.XMLParser:
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
    """The root of an HTML file (text, or bytes in UTF-8 or a declared encoding);
    ``BadDocument`` when nested too deeply or unreadable."""
    encoding: str | None = "utf-8"
    if isinstance(data, str):
        data = data.encode("utf-8")
    else:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            encoding = None  # libxml2 reads the document's own declaration
    if not data.strip():
        return lxml_html.fromstring("<html><body></body></html>")
    try:
        root = etree.fromstring(data, parser=_html_parser(encoding))
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
    """An EPUB content document: XML if it is well-formed, else read as HTML."""
    try:
        root = etree.fromstring(data, parser=_xml_parser())
    except etree.XMLSyntaxError as exc:
        _refuse(exc, name)
        return parse_html(data, name)
    if root is None:
        return parse_html(b"", name)
    return root


_NAMES: dict[str, str] = {}


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
    found: set[str] = set()
    for key, value in items:
        if key in _TYPE_KEYS:
            found.update(v.removeprefix("doc-").lower() for v in value.split())
        elif key == "class":
            found.update("." + v.lower() for v in value.split())
        elif key == "hidden" or (key == "aria-hidden" and value == "true"):
            found.add("!hidden")
    return frozenset(found)


_NONE: frozenset[str] = frozenset()
_TYPE_KEYS = frozenset([OPS, "epub:type", "role"])


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


def text_of(element: Element) -> str:
    """All text below ``element``, whitespace collapsed."""
    return " ".join("".join(element.itertext()).split())
