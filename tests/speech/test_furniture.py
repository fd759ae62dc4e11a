"""The page furniture the PDF pipeline removes is kept in the registration."""

from __future__ import annotations

from pathlib import Path

from preread.model import DocumentText
from preread.pdf import read_document
from preread.speech.plan import furniture_of

SAMPLE_PDF = Path(__file__).resolve().parents[2] / "examples" / "sample.pdf"


def test_removed_running_lines_and_page_numbers_are_recorded() -> None:
    document = read_document(SAMPLE_PDF)
    assert "Page 2 of 3" in document.furniture
    assert "A Short Walk to the Lighthouse" in document.furniture
    assert all("Page 2 of 3" not in b.text for b in document.blocks)
    back = DocumentText.from_json(document.to_json())
    assert back.furniture == document.furniture
    assert ("page", "2", "of", "3") in furniture_of(document.furniture)
