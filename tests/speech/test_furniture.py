"""The page furniture the PDF pipeline removes is kept in the registration."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from preread.model import DocumentText
from preread.pdf import read_document
from preread.speech import plan as plan_module
from preread.speech.plan import furniture_of, registered_furniture
from preread.store import Store

SAMPLE_PDF = Path(__file__).resolve().parents[2] / "examples" / "sample.pdf"


def test_removed_running_lines_and_page_numbers_are_recorded() -> None:
    document = read_document(SAMPLE_PDF)
    assert "Page 2 of 3" in document.furniture
    assert "A Short Walk to the Lighthouse" in document.furniture
    assert all("Page 2 of 3" not in b.text for b in document.blocks)
    back = DocumentText.from_json(document.to_json())
    assert back.furniture == document.furniture
    assert ("page", "2", "of", "3") in furniture_of(document.furniture)


def test_a_registration_written_again_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path)
    document = DocumentText("ab" * 32, "a.pdf", "A", 1)
    store.register(document, None)
    monkeypatch.setattr(plan_module, "RECHECK_SECONDS", 0.0)
    assert registered_furniture(store.documents_dir) == frozenset()
    store.register(replace(document, furniture=("Running Head", "7")), None)
    assert registered_furniture(store.documents_dir) == {("running", "head"), ("7",)}
    store.unregister(document.document_id)
    assert registered_furniture(store.documents_dir) == frozenset()
