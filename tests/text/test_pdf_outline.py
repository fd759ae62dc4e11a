"""Title, chapters (outline) and page labels."""

from __future__ import annotations

import io
from pathlib import Path

from pdfmaker import Page, make_pdf
from pypdf import PdfReader, PdfWriter

from preread.model import Chapter
from preread.pdf.outline import _pypdf_outline, chapters, metadata_title, page_labels


def _book(tmp_path: Path) -> Path:
    pages = [Page(lines=[f"Page {n} says something different: {'x' * n}."]) for n in range(5)]
    return make_pdf(tmp_path / "book.pdf", pages, title="Microsoft Word - The Book.docx")


def test_nested_outline_with_explicit_and_named_destinations(tmp_path: Path) -> None:
    writer = PdfWriter(clone_from=str(_book(tmp_path)))
    part = writer.add_outline_item(title="Part One", page_number=0)
    writer.add_outline_item(title="1 Start", page_number=1, parent=part)
    deep = writer.add_outline_item(title="1.1 Deeper", page_number=2, parent=part)
    writer.add_outline_item(title="1.1.1 Too deep", page_number=2, parent=deep)
    writer.add_outline_item(title="Part Two", page_number=3)
    writer.add_named_destination("appendix", 4)
    # an entry pointing at a named destination (looked up in the /Dests name tree)
    writer.add_outline_item_destination(writer._add_object(_named_item("Appendix", "appendix")))
    buffer = io.BytesIO()
    writer.write(buffer)
    reader = PdfReader(io.BytesIO(buffer.getvalue()))
    found = chapters(reader)
    assert found == (
        Chapter("Part One", 1),
        Chapter("1 Start", 2),
        Chapter("1.1 Deeper", 3),
        Chapter("Part Two", 4),
        Chapter("Appendix", 5),
    )
    assert found == _pypdf_outline(reader, 2)
    assert chapters(reader, max_depth=1) == (
        Chapter("Part One", 1),
        Chapter("Part Two", 4),
        Chapter("Appendix", 5),
    )


def _named_item(title: str, name: str):  # type: ignore[no-untyped-def]
    from pypdf.generic import NameObject, TextStringObject, TreeObject

    item = TreeObject()
    item[NameObject("/Title")] = TextStringObject(title)
    item[NameObject("/Dest")] = TextStringObject(name)
    return item


def test_title_cleans_word_prefixes_and_placeholders(tmp_path: Path) -> None:
    reader = PdfReader(_book(tmp_path))
    assert metadata_title(reader) == "The Book"
    untitled = make_pdf(tmp_path / "u.pdf", [Page(lines=["Text."])], title="Untitled")
    assert metadata_title(PdfReader(untitled)) is None


def test_no_outline_no_labels(tmp_path: Path) -> None:
    reader = PdfReader(make_pdf(tmp_path / "plain.pdf", [Page(lines=["Text."])]))
    assert chapters(reader) == ()
    assert page_labels(reader) == ()
