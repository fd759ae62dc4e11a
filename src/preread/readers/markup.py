"""Markdown and HTML files: one tree walk, top-level sections as ``page``.

Markdown is rendered by ``markdown-it-py`` (CommonMark, with footnotes from
``mdit-py-plugins``) into HTML, then read like any HTML file. YAML front matter
(``---`` … ``---`` at the top) is not read; its ``title:`` names the document.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from markdown_it import MarkdownIt

from preread.model import DocumentText
from preread.readers.assemble import ReadOptions, finish, split_at_headings
from preread.readers.notes import Notes
from preread.readers.sniff import decode_utf8
from preread.readers.tree import Element, clean, parse_html
from preread.readers.walk import ids_of, pieces_of
from preread.settings import TextSettings

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(?P<body>.*?\n)(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_TITLE_LINE = re.compile(r"^title:[ \t]*(?P<title>.+?)[ \t]*$", re.MULTILINE)


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    from mdit_py_plugins.footnote import footnote_plugin

    return MarkdownIt("commonmark").use(footnote_plugin)


def _single_doc_notes(root: Element) -> Notes:
    ids = ids_of(root)

    def lookup(href: str) -> Element | None:
        path, _, fragment = href.partition("#")
        return ids.get(fragment) if not path else None

    return Notes(lookup)


def read_tree(
    root: Element,
    data: bytes,
    name: str,
    kind: str,
    options: ReadOptions,
    title: str | None,
    text: TextSettings | None,
) -> DocumentText:
    pieces = pieces_of(root, options, _single_doc_notes(root))
    sections, chapters = split_at_headings(pieces)
    first = next((p.text for p in pieces if p.kind == "heading"), None)
    return finish(
        kind=kind,
        data=data,
        name=name,
        title=title or first or Path(name).stem,
        sections=sections,
        chapters=chapters,
        text=text,
    )


def read_html(
    data: bytes, name: str, options: ReadOptions, text: TextSettings | None = None
) -> DocumentText:
    root = parse_html(data, name)  # in the character set it declares
    head_title = next(root.iter("title"), None)
    title = clean("".join(head_title.itertext())) if head_title is not None else None
    return read_tree(root, data, name, "html", options, title, text)


def read_markdown(
    data: bytes, name: str, options: ReadOptions, text: TextSettings | None = None
) -> DocumentText:
    source = decode_utf8(data, name)
    title = None
    front = _FRONT_MATTER.match(source)
    if front:
        found = _TITLE_LINE.search(front.group("body"))
        title = found.group("title").strip("\"'") if found else None
        source = source[front.end() :]
    root = parse_html("<html><body>" + _markdown().render(source) + "</body></html>", name)
    return read_tree(root, data, name, "markdown", options, title, text)
