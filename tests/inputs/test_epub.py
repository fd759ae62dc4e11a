"""EPUB 2 and 3 books built here with known text → exactly that text, in sections."""

from __future__ import annotations

import pytest
from epubmaker import epub, xhtml, zip_files

from preread.errors import BadDocument
from preread.model import DocumentText
from preread.readers import ReadOptions, read_document
from preread.settings import TextSettings

NAV = xhtml(
    """<h1>Contents</h1>
<nav epub:type="toc"><ol>
  <li><a href="ch1.xhtml">Chapter One</a><ol>
    <li><a href="ch1.xhtml#s1">A Section</a><ol>
      <li><a href="ch1.xhtml#deep">Too Deep</a></li></ol></li></ol></li>
  <li><a href="ch2.xhtml">Chapter Two</a></li>
</ol></nav>
<nav epub:type="landmarks"><ol><li><a epub:type="bodymatter" href="ch1.xhtml">Start</a></li>
</ol></nav>"""
)
COVER = xhtml('<div><img src="cover.jpg" alt="A red cover with a lighthouse"/></div>')
CH1 = xhtml(
    """<section epub:type="chapter"><h1>Chapter One</h1>
<p>The lighthouse stands on the cliff.<a id="r1" epub:type="noteref"
 href="notes.xhtml#n1">1</a> It was built in 1850 by Dr. Smith.</p>
<span epub:type="pagebreak" id="p2" title="2">2</span>
<h2 id="s1">A Section</h2>
<p>Keepers lived there<a epub:type="noteref" href="#fn2">*</a> for years, and
they kept the lamp&#160;burning.</p>
<aside epub:type="footnote" id="fn2"><p>Until 1990, when the light was automated.</p></aside>
<pre><code>lamp.light()  # never heard</code></pre>
<figure><img src="map.png" alt="Map of the coast"/>
<figcaption>The coast in winter.</figcaption></figure>
<p id="deep">Storms came every <em>autumn</em>, and the <b>sea</b> rose.</p>
</section>""",
    "Chapter One",
)
CH2 = xhtml(
    """<h1>Chapter Two</h1><p>Ships passed by at night.</p>
<ul><li>Lamps.</li><li>Oil and wicks.</li></ul>""",
    "Chapter Two",
)
NOTES = xhtml(
    """<section epub:type="endnotes"><h1>Notes</h1><ol>
<li id="n1" epub:type="endnote"><p><a href="ch1.xhtml#r1">1.</a> See the harbour records.</p>
</li></ol></section>"""
)

SPOKEN3 = {
    3: [
        "Chapter One.",
        "The lighthouse stands on the cliff.",
        "It was built in 1850 by Dr. Smith.",
        "Note: See the harbour records.",
    ],
    4: [  # the navigation's "A Section" points inside ch1.xhtml: a section of its own
        "A Section.",
        "Keepers lived there for years, and they kept the lamp burning.",
        "Note: Until 1990, when the light was automated.",
        "The coast in winter.",
        "Storms came every autumn, and the sea rose.",
    ],
    5: ["Chapter Two.", "Ships passed by at night.", "Lamps.", "Oil and wicks."],
}


def epub3() -> bytes:
    return epub(
        {
            "nav.xhtml": NAV,
            "cover.xhtml": COVER,
            "ch1.xhtml": CH1,
            "ch2.xhtml": CH2,
            "notes.xhtml": NOTES,
        },
        ["nav.xhtml", "cover.xhtml", "ch1.xhtml", "ch2.xhtml", "notes.xhtml"],
        nav="nav.xhtml",
    )


NCX = """<?xml version="1.0" encoding="UTF-8"?>
<ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" version="2005-1">
<head/><docTitle><text>Old Book</text></docTitle><navMap>
<navPoint id="a" playOrder="1"><navLabel><text>The First Part</text></navLabel>
  <content src="part1.html"/>
  <navPoint id="b" playOrder="2"><navLabel><text>Morning</text></navLabel>
    <content src="part1.html#morning"/></navPoint></navPoint>
<navPoint id="c" playOrder="3"><navLabel><text>The Second Part</text></navLabel>
  <content src="part2.html"/></navPoint>
</navMap></ncx>"""
CONTENTS2 = xhtml(
    """<h1>Contents</h1><p><a href="part1.html">The First Part</a></p>
<p><a href="part1.html#morning">Morning</a></p><p><a href="part2.html">The Second Part</a></p>""",
    version=2,
)
PART1 = xhtml(
    """<h1>The First Part</h1>
<p>It was a cold day&nbsp;in March.<sup><a href="#fn1" id="r1">1</a></sup> The wind blew hard.</p>
<h2 id="morning">Morning</h2><p>At dawn the keeper left the café and climbed the stairs.</p>
<p class="footnote" id="fn1"><a href="#r1">1</a> Or perhaps in April.</p>""",
    version=2,
)
PART2 = xhtml("<h1>The Second Part</h1><p>Nothing more happened.</p>", version=2)
SPOKEN2 = {
    2: [
        "The First Part.",
        "It was a cold day in March.",
        "The wind blew hard.",
        "Note: Or perhaps in April.",
    ],
    3: [  # the NCX's "Morning" points inside part1.html: a section of its own
        "Morning.",
        "At dawn the keeper left the café and climbed the stairs.",
    ],
    4: ["The Second Part.", "Nothing more happened."],
}


def epub2(*, guide: bool = True) -> bytes:
    reference = '<reference type="toc" title="Contents" href="contents.html"/>'
    return epub(
        {"contents.html": CONTENTS2, "part1.html": PART1, "part2.html": PART2},
        ["contents.html", "part1.html", "part2.html"],
        version="2.0",
        ncx=NCX,
        guide=f"<guide>{reference}</guide>" if guide else "",
        title="Old Book",
    )


def spoken(document: DocumentText) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for block in document.blocks:
        out.setdefault(block.page, []).extend(block.sentences)
    return out


def test_epub3_reads_the_known_text_by_spine_item() -> None:
    document = read_document(epub3(), name="book.epub")
    assert document.kind == "epub" and document.unit == "section"
    assert document.title == "The Lighthouse"
    assert document.pages == 6  # nav, cover and notes are sections with nothing to hear
    assert spoken(document) == SPOKEN3
    assert [(c.title, c.page) for c in document.chapters] == [
        ("Chapter One", 3),
        ("A Section", 4),
        ("Chapter Two", 5),
    ]
    assert all(len(b.text) <= 450 and b.text == " ".join(b.sentences) for b in document.blocks)


def test_epub3_options_read_code_and_alt_text() -> None:
    document = read_document(epub3(), name="book.epub", options=ReadOptions(True, True))
    heard = spoken(document)
    assert heard[2] == ["A red cover with a lighthouse"]
    assert "lamp.light() # never heard" in heard[4]
    assert heard[4][-3:-1] == ["Map of the coast", "The coast in winter."]


def test_epub2_with_ncx_guide_and_html_entities() -> None:
    document = read_document(epub2(), name="old.epub")
    assert document.title == "Old Book"
    assert spoken(document) == SPOKEN2
    assert [(c.title, c.page) for c in document.chapters] == [
        ("The First Part", 2),
        ("Morning", 3),
        ("The Second Part", 4),
    ]


def test_an_unmarked_table_of_contents_page_is_not_read() -> None:
    assert spoken(read_document(epub2(guide=False), name="old.epub")) == SPOKEN2


def test_pages_select_spine_items() -> None:
    document = read_document(epub3(), name="book.epub", pages="5")
    assert [b.index for b in document.blocks] == [0]
    assert spoken(document) == {5: SPOKEN3[5]}
    with pytest.raises(BadDocument, match=r"book.epub \(sections 1\) has no text"):
        read_document(epub3(), name="book.epub", pages="1")


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"a.txt": "hello"}, "is a zip archive, not an EPUB"),
        ({"word/document.xml": "<w/>", "[Content_Types].xml": "<x/>"}, "is a Word document"),
    ],
)
def test_a_zip_that_is_not_an_epub(files: dict[str, bytes | str], message: str) -> None:
    with pytest.raises(BadDocument, match=message):
        read_document(zip_files(files, mimetype=None), name="x.epub")


def test_drm_is_named() -> None:
    encryption = """<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container"
 xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData>
 <enc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>
 <enc:CipherData><enc:CipherReference URI="OEBPS/ch1.xhtml"/></enc:CipherData>
 </enc:EncryptedData></encryption>"""
    book = epub(
        {"ch1.xhtml": CH1},
        ["ch1.xhtml"],
        extra={"META-INF/encryption.xml": encryption},
    )
    with pytest.raises(BadDocument, match=r"book.epub is DRM-protected \(META-INF/encryption"):
        read_document(book, name="book.epub")
    rights = epub({"ch1.xhtml": CH1}, ["ch1.xhtml"], extra={"META-INF/rights.xml": "<r/>"})
    with pytest.raises(BadDocument, match=r"DRM-protected \(META-INF/rights.xml\)"):
        read_document(rights, name="book.epub")


def test_obfuscated_fonts_are_not_drm() -> None:
    encryption = """<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container"
 xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData>
 <enc:EncryptionMethod Algorithm="http://www.idpf.org/2008/embedding"/>
 <enc:CipherData><enc:CipherReference URI="OEBPS/font.otf"/></enc:CipherData>
 </enc:EncryptedData></encryption>"""
    book = epub({"ch2.xhtml": CH2}, ["ch2.xhtml"], extra={"META-INF/encryption.xml": encryption})
    assert spoken(read_document(book, name="book.epub")) == {1: SPOKEN3[5]}


def test_a_missing_spine_file_is_named() -> None:
    book = epub({"ch1.xhtml": CH1, "ch2.xhtml": CH2}, ["ch1.xhtml", "ch2.xhtml"])
    broken = zip_files(
        {n: d for n, d in _entries(book).items() if n not in ("mimetype", "OEBPS/ch2.xhtml")}
    )
    with pytest.raises(BadDocument, match=r"the spine's OEBPS/ch2\.xhtml is missing"):
        read_document(broken, name="book.epub")


def test_xml_bombs_are_not_expanded_and_deep_nesting_is_refused() -> None:
    lol = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    bomb = f"""<?xml version="1.0"?><!DOCTYPE html [<!ENTITY lol0 "lol">{lol}]>
<html xmlns="http://www.w3.org/1999/xhtml"><body><p>Before &lol9; after.</p></body></html>"""
    with pytest.raises(BadDocument, match=r"bomb.epub: OEBPS/b.xhtml defines entities that"):
        read_document(epub({"b.xhtml": bomb}, ["b.xhtml"]), name="bomb.epub")
    small = """<?xml version="1.0"?>
<!DOCTYPE html [<!ENTITY lol0 "lol"><!ENTITY lol1 "&lol0;&lol0;">]>
<html xmlns="http://www.w3.org/1999/xhtml"><body><p>Before &lol1; after.</p></body></html>"""
    document = read_document(epub({"b.xhtml": small}, ["b.xhtml"]), name="small.epub")
    assert spoken(document) == {1: ["Before after."]}  # entities are never expanded
    deep = xhtml("<div>" * 1000 + "Deep." + "</div>" * 1000)
    with pytest.raises(BadDocument, match="nested too deeply"):
        read_document(epub({"d.xhtml": deep}, ["d.xhtml"]), name="deep.epub")


def _entries(book: bytes) -> dict[str, bytes]:
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(book)) as archive:
        return {n: archive.read(n) for n in archive.namelist()}


def test_toc_titles_setting_reads_the_contents_as_titles() -> None:
    document = read_document(epub3(), name="book.epub", text=TextSettings(toc="titles"))
    heard = spoken(document)
    assert heard.pop(1) == ["Chapter One.", "A Section.", "Too Deep.", "Chapter Two."]
    assert heard == SPOKEN3  # the rest as before
    old = spoken(read_document(epub2(), name="old.epub", text=TextSettings(toc="titles")))
    assert old[1] == ["The First Part.", "Morning.", "The Second Part."]


def test_a_zip_bomb_entry_is_refused_after_a_bounded_read() -> None:
    bomb = xhtml("<p>" + " " * (40 * 2**20) + "Too much.</p>")  # deflates to ~40 KB
    book = epub({"ch1.xhtml": CH1, "bomb.xhtml": bomb}, ["ch1.xhtml", "bomb.xhtml"])
    assert len(book) < 200_000
    with pytest.raises(BadDocument, match=r"OEBPS/bomb\.xhtml inflates to more than preread"):
        read_document(book, name="bomb.epub")


def test_the_collector_is_paused_while_extracting_and_restored_after() -> None:
    import gc
    import threading

    from preread.readers.epub import extract_epub

    book, options, collections = epub3(), ReadOptions(), []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    thresholds = gc.get_threshold()
    gc.callbacks.append(count)
    gc.set_threshold(1)  # a collection for every allocation, were the collector running
    try:
        extract_epub(book, "book.epub", options)
        assert len(collections) <= 2 and gc.isenabled()  # the one due when it resumes
        with pytest.raises(BadDocument):
            extract_epub(b"PK\x03\x04 not a zip", "bad.epub", ReadOptions())
        assert gc.isenabled()
        gc.disable()  # a caller's choice is kept
        extract_epub(book, "book.epub", ReadOptions())
        assert not gc.isenabled()
        gc.enable()
        results: list[str] = []
        threads = [
            threading.Thread(
                target=lambda: results.append(extract_epub(book, "b", ReadOptions()).title)
            )
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results == ["The Lighthouse"] * 4 and gc.isenabled()
    finally:
        gc.set_threshold(*thresholds)
        gc.callbacks.remove(count)
        gc.enable()
