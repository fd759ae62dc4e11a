"""Layout from pypdf's text visitor: contents pages, headings by size, superscripts,
footnotes (also across a page break), citations; on PDFs generated with known text."""

from __future__ import annotations

from pathlib import Path

from pdfmaker import Page, make_pdf

from preread.pdf import read_document
from preread.pdf.layout import read_superscript, speak_powers
from preread.settings import TextSettings

BODY = [
    "Careful readers notice when a document talks to them in the wrong order.",
    "This paper describes a small experiment with listening to printed text.",
]


def _sentences(path: Path, text: TextSettings | None = None) -> list[str]:
    return [s for b in read_document(path, text=text).blocks for s in b.sentences]


def _book_with_contents(tmp_path: Path) -> Path:
    contents = Page(
        lines=[
            "Contents",
            "1 Linear systems . . . . . . . . . . . . . . . . . . . . 2",
            "1.1 Encodings and their uses . . . . . . . . . . . . . . 2",
            "1.2 Sign constraints . . . . . . . . . . . . . . . . . . 3",
            "2 Limited expressions 3",
        ],
        sizes={0: 18},
    )
    first = Page(lines=["1 Linear systems", *BODY], sizes={0: 16})
    second = Page(lines=["1.2 Sign constraints", "Signs are kept as they are printed."])
    return make_pdf(tmp_path / "toc.pdf", [contents, first, second])


def test_a_table_of_contents_is_skipped_by_default(tmp_path: Path) -> None:
    doc = read_document(_book_with_contents(tmp_path))
    assert 1 not in {b.page for b in doc.blocks}
    spoken = " ".join(b.text for b in doc.blocks)
    assert ". . ." not in spoken and "Contents" not in spoken
    assert _sentences(tmp_path / "toc.pdf")[:2] == ["1 Linear systems.", BODY[0]]


def test_a_table_of_contents_can_be_read_as_titles(tmp_path: Path) -> None:
    path = _book_with_contents(tmp_path)
    doc = read_document(path, text=TextSettings(toc="titles"))
    page_one = [s for b in doc.blocks if b.page == 1 for s in b.sentences]
    assert page_one == [
        "Contents.",
        "1 Linear systems.",
        "1.1 Encodings and their uses.",
        "1.2 Sign constraints.",
        "2 Limited expressions.",
    ]


def test_a_large_line_is_a_heading_whatever_its_shape(tmp_path: Path) -> None:
    # lowercase, no number: only its size makes it a heading
    page = Page(lines=["limited expressions and more", *BODY], sizes={0: 16})
    path = make_pdf(tmp_path / "h.pdf", [page])
    assert _sentences(path) == ["limited expressions and more.", *BODY]
    assert read_document(path).blocks[0].sentences[0] == "limited expressions and more."


def test_title_page_lines_are_sentences_of_their_own(tmp_path: Path) -> None:
    title = Page(
        lines=["A Quiet Book", "about reading", "Jane Q. Writer", "Second edition 2024"],
        sizes={0: 24, 1: 24},
        gaps={2: 60, 3: 40},
    )
    path = make_pdf(tmp_path / "title.pdf", [title, Page(lines=BODY)])
    assert _sentences(path)[:3] == [
        "A Quiet Book about reading.",
        "Jane Q. Writer.",
        "Second edition 2024.",
    ]


def test_superscripts_are_read_as_powers_or_dropped(tmp_path: Path) -> None:
    page = Page(
        lines=[
            "The circle satisfies x^{2} + y^{2} = r^{2} in the plane.",
            "A megabyte is about 10^{6} bytes, and the volume grows as a^{3} does.",
        ]
    )
    path = make_pdf(tmp_path / "sup.pdf", [page])
    assert _sentences(path) == [
        "The circle satisfies x squared + y squared = r squared in the plane.",
        "A megabyte is about 10 to the 6 bytes, and the volume grows as a cubed does.",
    ]


def _spoken(before: str, raised: str, language: str = "en") -> str:
    text, marker = read_superscript(before, raised)
    assert marker is None
    return speak_powers(before + text, language)


def test_read_superscript_rules() -> None:
    assert _spoken("in x", "n") == "in x to the n"
    assert _spoken("in R", "n+1") == "in R to the n plus 1"
    assert _spoken("e", "-1") == "e to the minus 1"
    assert _spoken("x", "2", "fr") == "x au carré"
    assert _spoken("10", "6", "de") == "10 hoch 6"
    assert read_superscript("aloud.", "1") == ("", "1")
    assert read_superscript("word", "†") == ("", "†")
    assert read_superscript("", "2") == ("2 ", None)  # a footnote's own label
    assert read_superscript("L", "A") == ("A", None)  # the A of LaTeX: kept as printed


def test_footnotes_are_read_after_their_paragraph(tmp_path: Path) -> None:
    page = Page(
        lines=[
            "Listeners dislike hearing markers read aloud.^{1} In a pilot study nobody",
            "noticed their absence at all.",
            "A second paragraph follows here, long enough to be a paragraph of text.",
        ],
        notes=["^{1}The study had twelve listeners."],
    )
    path = make_pdf(tmp_path / "fn.pdf", [page])
    assert _sentences(path) == [
        "Listeners dislike hearing markers read aloud.",
        "In a pilot study nobody noticed their absence at all.",
        "Note: The study had twelve listeners.",
        "A second paragraph follows here, long enough to be a paragraph of text.",
    ]
    dropped = _sentences(path, TextSettings(footnotes="drop"))
    assert dropped == [
        "Listeners dislike hearing markers read aloud.",
        "In a pilot study nobody noticed their absence at all.",
        "A second paragraph follows here, long enough to be a paragraph of text.",
    ]


def test_a_footnote_never_interrupts_a_sentence_across_a_page_break(tmp_path: Path) -> None:
    first = Page(
        lines=[
            "The transfer of the property is effected^{2} only when both parties sign and",
            "the registrar has recorded the change in the book of deeds, which is",
        ],
        notes=["^{2}See also the discussion of registration in the next chapter."],
        footer="{n}",
    )
    second = Page(lines=["kept at the town hall. Nothing else is needed.", *BODY], footer="{n}")
    path = make_pdf(tmp_path / "across.pdf", [first, second])
    doc = read_document(path)
    assert [(b.page, list(b.sentences)) for b in doc.blocks] == [
        (
            1,
            [
                "The transfer of the property is effected only when both parties sign and "
                "the registrar has recorded the change in the book of deeds, which is kept "
                "at the town hall.",
                "Note: See also the discussion of registration in the next chapter.",
            ],
        ),
        (2, ["Nothing else is needed.", *BODY]),
    ]


def test_bracketed_citations_are_kept_unless_dropped(tmp_path: Path) -> None:
    page = Page(lines=["Earlier work [12] and (Smith et al., 2020) found the same [3, 4]."])
    path = make_pdf(tmp_path / "cite.pdf", [page])
    assert _sentences(path) == ["Earlier work [12] and (Smith et al., 2020) found the same [3, 4]."]
    assert _sentences(path, TextSettings(citations="drop")) == [
        "Earlier work and (Smith et al., 2020) found the same."
    ]


def test_what_was_taken_out_is_kept_as_data(tmp_path: Path) -> None:
    pages = [
        Page(
            lines=["Listeners dislike hearing markers read aloud.^{1} Nobody noticed."],
            notes=["^{1}The study had twelve listeners."],
            header="A Quiet Journal, page {n}",
            footer="{n}",
        ),
        Page(
            lines=["The second page says something else entirely."],
            header="A Quiet Journal, page {n}",
            footer="{n}",
        ),
    ]
    doc = read_document(make_pdf(tmp_path / "kept.pdf", pages))
    first, second = doc.removed
    assert first.page == 1 and first.notes == (("1", "The study had twelve listeners."),)
    assert first.markers == ("1",)
    assert set(first.running) == {"A Quiet Journal, page 1", "1"}
    assert set(second.running) == {"A Quiet Journal, page 2", "2"}
    again = type(doc).from_json(doc.to_json())
    assert again.removed == doc.removed and again.language == doc.language == "en"
    assert set(doc.furniture) == {"A Quiet Journal, page 1", "1", "A Quiet Journal, page 2", "2"}
