"""Markdown, HTML and plain text with known text → exactly that text; what the bytes are."""

from __future__ import annotations

from pathlib import Path

import pytest

from preread.errors import BadDocument, PayloadTooLarge
from preread.model import DocumentText
from preread.readers import ReadOptions, read_document, sniff
from preread.readers.text import SECTION_CHARS
from preread.settings import TextSettings

MARKDOWN = """---
title: "Notes on Lighthouses"
author: nobody
---
# Lighthouses

Intro text before the first chapter, e.g. this one.

## The Cliff

The lighthouse stands on the cliff.[^tall] It was built in 1850 by
Dr. Smith, who *also* built the **harbour**.

![A photograph of the tower](tower.png)

```python
print("code is not heard")
```

- Lamps were lit at dusk.
- Oil came by boat.

## The Keeper

The keeper wrote `every` entry in a log.[^log] See [the log](log.html).

> Quiet nights were rare.

[^tall]: It is 30 m tall.
[^log]: The log survives. It is in a museum.
"""
SPOKEN_MD = {
    1: ["Lighthouses.", "Intro text before the first chapter, e.g. this one."],
    2: [
        "The Cliff.",
        "The lighthouse stands on the cliff.",
        "It was built in 1850 by Dr. Smith, who also built the harbour.",
        "Note: It is 30 m tall.",
        "Lamps were lit at dusk.",
        "Oil came by boat.",
    ],
    3: [
        "The Keeper.",
        "The keeper wrote every entry in a log.",
        "See the log.",
        "Note: The log survives.",
        "It is in a museum.",
        "Quiet nights were rare.",
    ],
}

HTML = """<!DOCTYPE html>
<html lang="en"><head><title>A Harbour Guide</title><style>p{color:red}</style>
<script>document.write("never heard")</script></head>
<body>
<nav><ul><li><a href="#one">One</a></li><li><a href="#two">Two</a></li></ul></nav>
<h1 id="one">Arrival</h1>
<p>Boats arrive at noon.<sup><a href="#fn-1" id="ref-1">1</a></sup> The harbour&nbsp;is small.</p>
<div><p>Visitors walk along the pier.</p><img src="pier.jpg" alt="The pier at dusk"></div>
<pre><code>harbour.open()</code></pre>
<h1 id="two">Departure</h1>
<p>Boats leave at six. <span hidden>A hidden line.</span>Nobody stays.</p>
<table><tr><td>Monday</td><td>Closed.</td></tr></table>
<footer><p id="fn-1"><a href="#ref-1">1</a> Except on Sundays.</p></footer>
</body></html>"""
SPOKEN_HTML = {
    1: [
        "Arrival.",
        "Boats arrive at noon.",
        "The harbour is small.",
        "Note: Except on Sundays.",
        "Visitors walk along the pier.",
    ],
    2: ["Departure.", "Boats leave at six.", "Nobody stays.", "Monday.", "Closed."],
}


def spoken(document: DocumentText) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for block in document.blocks:
        out.setdefault(block.page, []).extend(block.sentences)
    return out


def test_markdown_sections_footnotes_and_what_is_not_heard(tmp_path: Path) -> None:
    path = tmp_path / "guide.md"
    path.write_text(MARKDOWN, encoding="utf-8")
    document = read_document(path)
    assert (document.kind, document.unit, document.title) == (
        "markdown",
        "section",
        "Notes on Lighthouses",
    )
    assert spoken(document) == SPOKEN_MD
    assert [(c.title, c.page) for c in document.chapters] == [
        ("Lighthouses", 1),
        ("The Cliff", 2),
        ("The Keeper", 3),
    ]


def test_markdown_code_blocks_and_alt_text_on_request() -> None:
    options = ReadOptions(code=True, alt_text=True)
    heard = spoken(read_document(MARKDOWN.encode(), name="g.md", options=options))[2]
    assert heard[3:6] == [
        "Note: It is 30 m tall.",
        "A photograph of the tower",
        'print("code is not heard")',
    ]


def test_html_skips_head_nav_hidden_and_reads_notes_after_the_paragraph() -> None:
    document = read_document(HTML.encode(), name="guide.html")
    assert (document.kind, document.title) == ("html", "A Harbour Guide")
    assert spoken(document) == SPOKEN_HTML
    assert [(c.title, c.page) for c in document.chapters] == [("Arrival", 1), ("Departure", 2)]


def test_deeply_nested_html_is_refused_not_silently_cut() -> None:
    deep = "<html><body>" + "<div>" * 100_000 + "Deep text." + "</div>" * 100_000
    with pytest.raises(BadDocument, match=r"deep\.html is nested too deeply"):
        read_document(deep.encode(), name="deep.html")
    fine = "<html><body>" + "<div>" * 200 + "Deep text." + "</div>" * 200
    assert spoken(read_document(fine.encode(), name="fine.html")) == {1: ["Deep text."]}


def test_plain_text_paragraphs_headings_and_sections() -> None:
    paragraph = (
        "The keeper climbed the stairs every evening at dusk. He lit the lamp and "
        "watched the sea until the morning came again."
    )
    text = "Harbour Days\n\n" + "\n\n".join(
        f"{paragraph[:60]}\n{paragraph[60:]}" for _ in range(60)
    )
    document = read_document(text.encode(), name="days.txt")
    assert (document.kind, document.title) == ("text", "Harbour Days")
    sentences = [s for b in document.blocks for s in b.sentences]
    assert sentences[0] == "Harbour Days."
    assert (
        sentences[1:]
        == [
            "The keeper climbed the stairs every evening at dusk.",
            "He lit the lamp and watched the sea until the morning came again.",
        ]
        * 60
    )
    pages = sorted({b.page for b in document.blocks})
    assert pages == list(range(1, document.pages + 1)) and document.pages == 3
    per_page = [sum(len(b.text) + 1 for b in document.blocks if b.page == p) for p in pages]
    assert all(size >= SECTION_CHARS for size in per_page[:-1])
    assert all(size < SECTION_CHARS + len(paragraph) + 20 for size in per_page)


def test_text_without_blank_lines_has_a_paragraph_per_line() -> None:
    text = "First line is a sentence.\nSecond line is another one.\n"
    document = read_document(text.encode(), name="a.txt")
    assert [b.sentences for b in document.blocks] == [
        ("First line is a sentence.", "Second line is another one.")
    ]


@pytest.mark.parametrize(
    ("head", "declared", "kind"),
    [
        (b"%PDF-1.7\n", None, "pdf"),
        (b"PK\x03\x04rest", None, "epub"),
        (b"\xef\xbb\xbf<!DOCTYPE html><html>", None, "html"),
        (b'<?xml version="1.0"?>\n<html xmlns="x">', None, "html"),
        (b"# Title\n\nText.", None, "markdown"),
        (b"Some text with a [link](http://x.y).", None, "markdown"),
        (b"Plain words. Nothing else!\n\nMore words.", None, "text"),
        (b"# Title\n\nText.", "text", "text"),
        (b"Plain words.", "markdown", "markdown"),
        (b"%PDF-1.7\n", "markdown", "pdf"),  # the bytes win over a declared type
    ],
)
def test_sniffing_reads_the_bytes(head: bytes, declared: str | None, kind: str) -> None:
    assert sniff(head, "f", declared) == kind  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00", r"x is not a document preread reads \(PDF, EPUB"),
        (b"caf\xe9 au lait", r"x is not valid UTF-8 \(byte 0xe9 at offset 3\)"),
        (b"\xff\xfeh\x00i\x00", "x is UTF-16 text"),
        (b"   \n\n  ", "x is empty"),
        (b"<html><body><script>x()</script></body></html>", "x has no text to read"),
    ],
)
def test_bad_inputs_are_one_clear_line(data: bytes, message: str) -> None:
    with pytest.raises(BadDocument, match=message):
        read_document(data, name="x")


def test_invalid_utf8_after_the_first_bytes(tmp_path: Path) -> None:
    path = tmp_path / "late.txt"
    path.write_bytes(b"Fine text. " * 10_000 + b"\xc3\x28")
    with pytest.raises(
        BadDocument, match=r"late.txt is not valid UTF-8 \(byte 0xc3 at offset 110000\)"
    ):
        read_document(path)


def test_a_1gb_text_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    with path.open("wb") as handle:
        handle.write(b"Words and more words.\n" * 5000)
        handle.truncate(2**30)  # sparse: no gigabyte written or read
    with pytest.raises(PayloadTooLarge, match=r"huge.txt is 1.1 GB: preread reads a text"):
        read_document(path)


FRENCH = """# Le phare

Le phare se dresse au bout d'un chemin étroit qui longe la falaise.[^1] Les gardiens
y montaient chaque soir pour allumer la lampe, et ils restaient éveillés jusqu'au
matin. Pendant les tempêtes d'hiver, la mer frappait les rochers avec une force
terrible, et le bruit des vagues couvrait toutes les voix [3]. Personne ne vivait
plus près de la côte que la famille du gardien, qui connaissait chaque rocher.

[^1]: Il fut construit en 1850 par un maçon du village.
"""


def test_language_citations_and_notes_follow_the_text_settings() -> None:
    document = read_document(FRENCH.encode(), name="phare.md")
    assert document.language == "fr" and {b.language for b in document.blocks} == {"fr"}
    heard = [s for b in document.blocks for s in b.sentences]
    assert "Note : Il fut construit en 1850 par un maçon du village." in heard
    assert any(s.endswith("couvrait toutes les voix [3].") for s in heard)
    quiet = read_document(
        FRENCH.encode(),
        name="phare.md",
        text=TextSettings(footnotes="drop", citations="drop", language="de"),
    )
    heard = [s for b in quiet.blocks for s in b.sentences]
    assert quiet.language == "de" and not any("1850" in s for s in heard)
    assert any(s.endswith("couvrait toutes les voix.") for s in heard)
