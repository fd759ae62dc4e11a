"""List items end their sentence; HTML and XHTML in the character set they declare;
chapters that start inside a spine item get a section of their own. Known text in, the
same text out."""

from __future__ import annotations

import pytest
from epubmaker import epub, xhtml

from preread.errors import BadDocument
from preread.model import DocumentText
from preread.readers import read_document


def spoken(document: DocumentText) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for block in document.blocks:
        out.setdefault(block.page, []).extend(block.sentences)
    return out


def heard(document: DocumentText) -> list[str]:
    return [s for b in document.blocks for s in b.sentences]


# -- list items -------------------------------------------------------------------------
def test_markdown_list_items_are_sentences_of_their_own() -> None:
    source = """# Packing

- Warm socks
- A lamp for the night
  - with oil
  - and wicks
- Bread!

1. Climb the stairs
2. Light the lamp: carefully

3. Keep watch

   Until dawn
"""
    assert heard(read_document(source.encode(), name="list.md")) == [
        "Packing.",
        "Warm socks.",
        "A lamp for the night.",
        "with oil.",
        "and wicks.",
        "Bread!",
        "Climb the stairs.",
        "Light the lamp: carefully.",
        "Keep watch.",
        "Until dawn.",
    ]


def test_html_list_items_definitions_and_cells_end_their_sentence() -> None:
    page = """<html><body><p>Before the list</p>
<ul><li>One</li><li>Two <em>too</em></li><li>Three?</li><li><p>Four</p><p>and more</p></li></ul>
<dl><dt>Lamp</dt><dd>A light, <b>kept</b> burning</dd></dl>
<table><tr><th>Day</th><td>Monday</td></tr></table>
<p>After the list</p></body></html>"""
    assert heard(read_document(page.encode(), name="list.html")) == [
        "Before the list",
        "One.",
        "Two too.",
        "Three?",
        "Four.",
        "and more.",
        "Lamp.",
        "A light, kept burning.",
        "Day.",
        "Monday.",
        "After the list",
    ]


def test_epub_list_items_end_their_sentence() -> None:
    chapter = xhtml("<h1>Stores</h1><ol><li>Oil</li><li>Wicks<sup>*</sup></li></ol>")
    book = epub({"c.xhtml": chapter}, ["c.xhtml"])
    assert heard(read_document(book, name="list.epub")) == ["Stores.", "Oil.", "Wicks*."]


# -- character sets ---------------------------------------------------------------------
TEXT = "Le café coûte 5 €. Naïve “quotes” — and more."


@pytest.mark.parametrize(
    ("head", "encoding"),
    [
        ('<meta charset="windows-1252">', "cp1252"),
        ('<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-15">', "iso8859-15"),
        ('<meta charset="utf-8">', "utf-8"),
    ],
)
def test_html_in_its_declared_charset(head: str, encoding: str) -> None:
    text = TEXT if encoding != "iso8859-15" else TEXT.replace("“", '"').replace("”", '"')
    text = text if encoding != "iso8859-15" else text.replace(" —", ",")
    page = f"<!DOCTYPE html><html><head>{head}<title>Café</title></head><body><p>{text}</p>"
    document = read_document(page.encode(encoding), name="cafe.html")
    assert document.title == "Café"
    assert heard(document) == [text[:18], text[19:]]


def test_html_with_a_utf16_byte_order_mark_and_xhtml_with_an_xml_declaration() -> None:
    page = f"<html><body><p>{TEXT}</p></body></html>"
    for data in (page.encode("utf-16"), page.encode("utf-16-be").join([b"\xfe\xff", b""])):
        assert heard(read_document(data, name="wide.html")) == [TEXT[:18], TEXT[19:]]
    latin = TEXT.replace("€", "EUR").replace("“", '"').replace("”", '"').replace(" —", ",")
    declared = (
        f'<?xml version="1.0" encoding="iso-8859-1"?>\n<html><body><p>{latin}</p></body></html>'
    )
    assert (
        heard(read_document(declared.encode("latin-1"), name="x.html"))[0] == "Le café coûte 5 EUR."
    )


def test_epub_xhtml_in_its_declared_charset() -> None:
    body = "<h1>Café</h1><p>Naïve crème brûlée.</p>"
    by_declaration = xhtml(body).replace('encoding="utf-8"', 'encoding="iso-8859-1"')
    by_meta = (
        xhtml(body)
        .replace('<?xml version="1.0" encoding="utf-8"?>\n', "")
        .replace(
            "<head>",
            '<head><meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"/>',
        )
    )
    book = epub(
        {"a.xhtml": by_declaration, "b.xhtml": by_meta, "c.xhtml": xhtml(body)},
        ["a.xhtml", "b.xhtml", "c.xhtml"],
    )
    latin = {
        n: (d.encode("latin-1") if n != "OEBPS/c.xhtml" else d.encode("utf-8"))
        for n, d in _entries_text(book).items()
    }
    from epubmaker import zip_files

    document = read_document(zip_files(latin, mimetype=b"application/epub+zip"), name="l.epub")
    assert spoken(document) == {p: ["Café.", "Naïve crème brûlée."] for p in (1, 2, 3)}


def _entries_text(book: bytes) -> dict[str, str]:
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(book)) as archive:
        return {
            n: archive.read(n).decode("utf-8")
            for n in archive.namelist()
            if n != "mimetype" and not n.endswith(".jpg")
        }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b'<html><head><meta charset="windows-1252"></head><body><p>caf\xe9 \x81</p>',
            r"x\.html is not valid windows-1252, the character set it declares "
            r"\(byte 0x81 at offset 62\)",
        ),
        (
            b'<html><head><meta charset="klingon"></head><body><p>caf\xe9</p>',
            r"x\.html declares the character set 'klingon', which preread does not know",
        ),
        (
            b"<html><body><p>caf\xe9</p></body></html>",
            r"x\.html is not valid UTF-8 \(byte 0xe9 at offset 18\); save it as UTF-8",
        ),
        (
            b'<?xml version="1.0" encoding="base64"?><html><body><p>caf\xe9</p>',
            r"x\.html declares the character set 'base64', which preread does not know",
        ),
    ],
)
def test_bytes_not_valid_in_the_declared_charset_are_one_clear_line(
    data: bytes, message: str
) -> None:
    with pytest.raises(BadDocument, match=message):
        read_document(data, name="x.html")


def test_invalid_bytes_in_an_epub_document_name_the_file() -> None:
    bad = xhtml("<p>caf\udce9</p>").encode("utf-8", errors="surrogateescape")
    book = epub({"a.xhtml": "x"}, ["a.xhtml"], extra={"OEBPS/a.xhtml": bad})
    with pytest.raises(
        BadDocument, match=r"b\.epub: OEBPS/a\.xhtml is not valid UTF-8 \(byte 0xe9"
    ):
        read_document(book, name="b.epub")


# -- chapters inside a spine item -------------------------------------------------------
def test_navigation_fragments_split_a_file_into_sections_at_their_block() -> None:
    nav = xhtml(
        """<nav epub:type="toc"><ol>
<li><a href="all.xhtml">Part One</a></li>
<li><a href="all.xhtml#two">Part Two</a></li>
<li><a href="all.xhtml#three-anchor">Part Three</a></li>
<li><a href="all.xhtml#missing">Nowhere</a></li>
<li><a href="end.xhtml#top">The End</a></li></ol></nav>"""
    )
    everything = xhtml(
        """<h1>Part One</h1><p>First words.</p><p>More of <em>one</em>.</p>
<h1 id="two">Part Two</h1><p>Second words.</p>
<p>Before the anchor. <a id="three-anchor"></a>After the anchor.</p>
<p>Third words.</p>"""
    )
    end = xhtml('<h1 id="top">The End</h1><p>Last words.</p>')
    book = epub(
        {"nav.xhtml": nav, "all.xhtml": everything, "end.xhtml": end},
        ["nav.xhtml", "all.xhtml", "end.xhtml"],
        nav="nav.xhtml",
    )
    document = read_document(book, name="parts.epub")
    assert spoken(document) == {
        2: ["Part One.", "First words.", "More of one."],
        3: ["Part Two.", "Second words.", "Before the anchor."],
        4: ["After the anchor.", "Third words."],
        5: ["The End.", "Last words."],
    }
    assert [(c.title, c.page) for c in document.chapters] == [
        ("Part One", 2),
        ("Part Two", 3),
        ("Part Three", 4),
        ("Nowhere", 2),  # a fragment the file lacks: the file's first section
        ("The End", 5),
    ]
    assert document.pages == 5


@pytest.mark.parametrize(
    ("note", "heard", "whole"),
    [  # taken whole by libxml2, or walked element by element: the same text either way
        ("<p>1. First <em>part</em>.</p>\n<p>Second part.</p>", "First part. Second part.", True),
        ("<p>[2] One</p><p>two</p>", "One two", False),
        ('<p><span class="x">Plain</span> text.</p>', "Plain text.", True),
        ("<p>Joined</p> words", "Joined words", False),
        ('<p>Back <a href="#r" class="footnote-backref">\u21a9</a> gone.</p>', "Back gone.", False),
        ('<p><span class="back">Back</span> kept.</p>', "Back kept.", False),
        ('<p>Break<span epub:type="pagebreak">12</span> here.</p>', "Break here.", False),
        ("<div>Outer<p>inner</p>tail</div>", "Outerinner tail", False),
    ],
)
def test_a_note_is_heard_the_same_whether_taken_whole_or_walked(
    note: str, heard: str, whole: bool
) -> None:
    from lxml import etree

    from preread.readers.notes import _plain_note, note_text, walked_note_text

    body = etree.fromstring(
        f'<li xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops"'
        f' id="n1">{note}</li>'
    )
    assert _plain_note(body) is whole
    assert note_text(body) == walked_note_text(body) == heard


_NOTES = (
    '<aside epub:type="footnote" id="n1"><p>1. Note one.</p></aside>'
    '<aside epub:type="footnote" id="n2"><p>Note two.</p></aside>'
)


def _ref(target: str, label: str) -> str:
    return f'<a epub:type="noteref" href="#{target}">{label}</a>'


@pytest.mark.parametrize(
    ("paragraph", "heard", "notes", "whole"),
    [  # a paragraph whose only steps are note references: serialised whole, or walked
        (f"<p>Text{_ref('n1', '1')} and <em>more</em>.</p>", "Text and more.", ["1"], True),
        (f"<p>A{_ref('n1', '1')} b{_ref('n2', '[2]')}.</p>", "A b.", ["1", "2"], True),
        (f"<p><em>Said{_ref('n2', '2')}</em> it.</p>", "Said it.", ["2"], True),
        (f"<p>Lost{_ref('nope', '3')} ref.</p>", "Lost ref.", [], True),
        (f"<p>Twice{_ref('n1', '1')} once{_ref('n1', '1')}.</p>", "Twice once.", ["1"], True),
        ('<p>Deep<a epub:type="noteref" href="#n1"><sup>1</sup></a>.</p>', "Deep.", ["1"], False),
        ('<p>Link <a href="#n1">here</a>.</p>', "Link here.", [], False),
    ],
)
@pytest.mark.parametrize("read_notes", [True, False])
def test_a_paragraph_with_note_references_is_heard_the_same_taken_whole_or_walked(
    paragraph: str, heard: str, notes: list[str], whole: bool, read_notes: bool
) -> None:
    from lxml import etree

    from preread.readers import walk
    from preread.readers.notes import Notes

    def pieces(shortcut: bool) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
        root = etree.fromstring(
            '<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops">'
            f"<body>{paragraph}{_NOTES}</body></html>"
        )
        ids = walk.ids_of(root)
        found = walk.references_below(root[0][0], ())
        assert (found is not None) is whole
        options = walk.ReadOptions(notes=read_notes)
        notes_ = Notes(lambda href: ids.get(href.partition("#")[2]))
        if shortcut:
            got = walk.pieces_of(root, options, notes_)
        else:  # every element a step of its own
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(walk, "references_below", lambda element, cuts: None)
                got = walk.pieces_of(root, options, notes_)
        return [
            (p.text, tuple(n.label for n in p.notes), tuple(n.text for n in p.notes)) for p in got
        ]

    texts = {"1": "Note one.", "2": "Note two."}
    expected_notes = [texts[n] for n in notes]
    spoken = pieces(shortcut=True)
    assert spoken == pieces(shortcut=False)
    # the notes no reference took are heard where they stand
    unread = [("", ("",), (texts[n],)) for n in ("1", "2") if n not in notes and read_notes]
    assert spoken == [
        (heard, tuple(notes) * read_notes, tuple(expected_notes) * read_notes),
        *unread,
    ]
