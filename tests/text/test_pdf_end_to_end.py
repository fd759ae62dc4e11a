"""End to end: PDFs generated with known text → exactly that text, in blocks."""

from __future__ import annotations

from pathlib import Path

import pytest
from pdfmaker import Page, make_pdf

from preread.errors import BadDocument, BadInput, NotFound
from preread.pdf import MAX_BLOCK, read_document

HEADER = "Journal of Quiet Testing, Vol. 3 (2024) {n}"

PAGE_1 = [
    "1 Introduction",
    "Careful readers notice when a document talks to them in the wrong order.",
    "This paper describes a small experiment with listening to printed text,",
    "and it notifies the reader of every step taken. The results were noti-",
    "fied to the authors by post. A well-",
    "known method was used throughout.",
    "The state-of-the-",
    "art approach needs more memory than we had.",
]
PAGE_2 = [
    "The second page continues with a new paragraph about the same subject.",
    "Listeners prefer short blocks, e.g. one or two sentences, and they dislike",
    "hearing page numbers. Dr. Smith agreed with Prof. Jones on this point,",
    "although the budget was approx. 3.5 million dollars and the study ran",
]
PAGE_3 = [
    "for three years without a break. Its conclusions are simple.",
    "2 Results",
    "Every header and every footer was removed before the audio was made.",
]
SPOKEN = [
    "1 Introduction.",  # a heading gets a full stop: a pause, not a run-on
    "Careful readers notice when a document talks to them in the wrong order.",
    "This paper describes a small experiment with listening to printed text, and it "
    "notifies the reader of every step taken.",
    "The results were notified to the authors by post.",
    "A well-known method was used throughout.",
    "The state-of-the-art approach needs more memory than we had.",
    "The second page continues with a new paragraph about the same subject.",
    "Listeners prefer short blocks, e.g. one or two sentences, and they dislike hearing "
    "page numbers.",
    "Dr. Smith agreed with Prof. Jones on this point, although the budget was approx. 3.5 "
    "million dollars and the study ran for three years without a break.",
    "Its conclusions are simple.",
    "2 Results.",
    "Every header and every footer was removed before the audio was made.",
]


def _sentences(doc_blocks: tuple[object, ...]) -> list[str]:
    return [s for b in doc_blocks for s in b.sentences]  # type: ignore[attr-defined]


@pytest.fixture
def article(tmp_path: Path) -> Path:
    pages = [
        Page(lines=PAGE_1, header=HEADER, footer="- {n} -", headings={0}),
        Page(lines=PAGE_2, header=HEADER, footer="- {n} -"),
        Page(lines=PAGE_3, header=HEADER, footer="- {n} -", headings={1}),
    ]
    return make_pdf(
        tmp_path / "article.pdf",
        pages,
        title="Quiet Testing",
        outline=[("1 Introduction", 0), ("2 Results", 2)],
    )


def test_spoken_text_is_the_known_text(article: Path) -> None:
    doc = read_document(article)
    assert _sentences(doc.blocks) == SPOKEN
    assert doc.title == "Quiet Testing"
    assert doc.pages == 3
    assert [(c.title, c.page) for c in doc.chapters] == [("1 Introduction", 1), ("2 Results", 3)]
    assert doc.source_name == "article.pdf"
    assert len(doc.document_id) == 64
    assert doc.warnings == ()


def test_blocks_are_numbered_and_bounded(article: Path) -> None:
    doc = read_document(article)
    assert [b.index for b in doc.blocks] == list(range(len(doc.blocks)))
    for page in {b.page for b in doc.blocks}:
        on_page = [b.block_index for b in doc.blocks if b.page == page]
        assert on_page == list(range(len(on_page)))
    for block in doc.blocks:
        assert len(block.text) <= MAX_BLOCK
        assert block.text == " ".join(block.sentences)


def test_sentence_over_a_page_break_belongs_to_its_first_page(article: Path) -> None:
    doc = read_document(article)
    crossing = next(b for b in doc.blocks if "three years" in b.text)
    assert crossing.page == 2
    simple = next(b for b in doc.blocks if "conclusions are simple" in b.text)
    assert simple.page == 3


def test_page_selection_gives_the_same_blocks_as_the_whole(article: Path) -> None:
    whole = read_document(article)
    part = read_document(article, pages="2")
    assert [(b.page, b.block_index, b.text) for b in part.blocks] == [
        (b.page, b.block_index, b.text) for b in whole.blocks if b.page == 2
    ]
    assert part.blocks[0].index == 0
    assert part.pages == 3


def test_bytes_source_uses_the_name(article: Path) -> None:
    doc = read_document(article.read_bytes(), name="given.pdf")
    assert doc.source_name == "given.pdf"
    assert doc.document_id == read_document(article).document_id


def test_two_columns_are_read_column_by_column(tmp_path: Path) -> None:
    left = [
        "The left column starts the story of",
        "a careful reader who likes to listen",
        "to long articles on the train.",
        "She never hears the right column first.",
    ]
    right = [
        "The right column ends the story.",
        "Nothing here comes before the left",
        "column in the spoken version.",
    ]
    other = Page(left=["A second page with other words."], right=["And a second column."])
    other.header, other.footer = "Two Columns {n}", "{n}"
    pdf = make_pdf(
        tmp_path / "cols.pdf",
        [Page(left=left, right=right, header="Two Columns {n}", footer="{n}"), other],
    )
    doc = read_document(pdf)
    page_one = [s for b in doc.blocks if b.page == 1 for s in b.sentences]
    assert page_one == [
        "The left column starts the story of a careful reader who likes to listen to long "
        "articles on the train.",
        "She never hears the right column first.",
        "The right column ends the story.",
        "Nothing here comes before the left column in the spoken version.",
    ]


WORDS = ["apples", "rivers", "engines", "letters"]


def test_footer_styles_and_page_labels(tmp_path: Path) -> None:
    pages = [
        Page(lines=[f"This page talks about {word} and nothing else."], footer=footer)
        for word, footer in zip(
            WORDS, ["Page {n} of {total}", "{n}", "- {n} -", "{n} / 4"], strict=True
        )
    ]
    pdf = make_pdf(
        tmp_path / "labels.pdf", pages, labels=[(0, "ROMAN_LOWER", 1, None), (2, "ARABIC", 1, None)]
    )
    doc = read_document(pdf)
    assert doc.page_labels == ("i", "ii", "1", "2")
    assert [b.text for b in doc.blocks] == [
        f"This page talks about {word} and nothing else." for word in WORDS
    ]


def test_roman_page_numbers_are_removed(tmp_path: Path) -> None:
    pages = [
        Page(lines=[f"The preface mentions {word} once."], footer=label)
        for word, label in zip(WORDS, ["i", "ii", "iii", "iv"], strict=True)
    ]
    doc = read_document(make_pdf(tmp_path / "roman.pdf", pages))
    assert [b.text for b in doc.blocks] == [f"The preface mentions {word} once." for word in WORDS]


def test_a_line_appearing_once_is_kept(tmp_path: Path) -> None:
    pages = [
        Page(lines=["Opening remarks", "The first page has a heading line on top."]),
        Page(lines=["The second page has no such line.", "It ends here."]),
    ]
    doc = read_document(make_pdf(tmp_path / "once.pdf", pages))
    assert doc.blocks[0].sentences[0] == "Opening remarks."
    assert doc.title == "Opening remarks"


def test_title_falls_back_to_the_file_stem(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "plain-notes.pdf", [Page(lines=["just lowercase words here."])])
    assert read_document(pdf).title == "plain-notes"


def test_bad_documents_say_what_is_wrong(tmp_path: Path, article: Path) -> None:
    not_pdf = tmp_path / "notes.pdf"
    not_pdf.write_text("hello, I am text")
    with pytest.raises(BadDocument, match="not a PDF"):
        read_document(not_pdf)
    truncated = tmp_path / "truncated.pdf"
    truncated.write_bytes(article.read_bytes()[:300])
    with pytest.raises(BadDocument):
        read_document(truncated)
    with pytest.raises(NotFound):
        read_document(tmp_path / "missing.pdf")
    with pytest.raises(BadInput, match="beyond"):
        read_document(article, pages="4")


def test_empty_and_image_only_documents(tmp_path: Path) -> None:
    empty = make_pdf(tmp_path / "empty.pdf", [Page(), Page()])
    with pytest.raises(BadDocument, match="only empty pages"):
        read_document(empty)
    with pytest.raises(BadDocument, match=r"^empty\.pdf \(page 2\) has only empty pages$"):
        read_document(empty, pages="2")
    scanned = make_pdf(tmp_path / "scan.pdf", [Page(image=True)])
    with pytest.raises(BadDocument, match="OCR is not supported"):
        read_document(scanned)


def test_encrypted_needs_the_password(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "secret.pdf", [Page(lines=["A secret sentence."])], password="s3cret")
    with pytest.raises(BadDocument, match=r"encrypted.*--password"):
        read_document(pdf)
    with pytest.raises(BadDocument, match="wrong"):
        read_document(pdf, password="nope")
    assert read_document(pdf, password="s3cret").blocks[0].text == "A secret sentence."


def test_hyphenated_word_over_a_page_break(tmp_path: Path) -> None:
    pages = [
        Page(lines=["The first page ends while the machine noti-"], footer="{n}"),
        Page(lines=["fies the operator of a fault.", "Then all is quiet."], footer="{n}"),
        Page(lines=["An open phrase without an end"], footer="{n}"),
        Page(lines=["3 Next Part", "A new section starts on this page."], footer="{n}"),
    ]
    doc = read_document(make_pdf(tmp_path / "break.pdf", pages))
    assert [(b.page, list(b.sentences)) for b in doc.blocks] == [
        (1, ["The first page ends while the machine notifies the operator of a fault."]),
        (2, ["Then all is quiet."]),
        (3, ["An open phrase without an end"]),
        (4, ["3 Next Part.", "A new section starts on this page."]),
    ]


def test_a_chapter_title_that_is_also_the_running_header(tmp_path: Path) -> None:
    bodies = [
        "Rivers carry water from the hills to the sea.",
        "Some rivers dry up in the summer months.",
        "Others flood the plains every spring.",
    ]
    pages = [
        Page(lines=["Rivers and Lakes", bodies[0]], footer="{n}", headings={0}),
        Page(lines=[bodies[1]], header="Rivers and Lakes", footer="{n}"),
        Page(lines=[bodies[2]], header="Rivers and Lakes", footer="{n}"),
    ]
    pdf = make_pdf(tmp_path / "rivers.pdf", pages, outline=[("Rivers and Lakes", 0)])
    doc = read_document(pdf)
    assert [list(b.sentences) for b in doc.blocks] == [
        ["Rivers and Lakes.", bodies[0]],
        [bodies[1]],
        [bodies[2]],
    ]
    # without the outline the same line is a running header everywhere
    plain = read_document(make_pdf(tmp_path / "plain.pdf", pages))
    assert [b.text for b in plain.blocks] == bodies


def test_aes_256_encryption(tmp_path: Path) -> None:
    import io

    from pypdf import PdfWriter

    plain = make_pdf(tmp_path / "plain.pdf", [Page(lines=["An AES sentence."])])
    writer = PdfWriter(clone_from=str(plain))
    writer.encrypt(user_password="pw", owner_password="owner", algorithm="AES-256")
    buffer = io.BytesIO()
    writer.write(buffer)
    with pytest.raises(BadDocument, match="--password"):
        read_document(buffer.getvalue())
    assert read_document(buffer.getvalue(), password="pw").blocks[0].text == "An AES sentence."
