"""The issue's goals on generated books with exact ground truth (``books``), and the
running-head rules on text built here."""

from __future__ import annotations

from pathlib import Path

import pytest
from books import BOOKS
from quality import score

from preread.pdf import read_document
from preread.pdf.edges import edge_keys, heading_key, strip_page, title_key

GOALS = {"en": 0.97, "fr": 0.97, "de": 0.95}


@pytest.mark.parametrize("category", list(BOOKS))
def test_a_generated_book_meets_the_goals(category: str, tmp_path: Path) -> None:
    book = BOOKS[category](tmp_path)
    result = score(book, read_document(book.path))
    assert (result.leaks, result.leaders, result.markers) == (0, 0, 0), result
    assert (result.interrupted, result.notes_missing) == (0, 0), result
    assert result.split == 0, result
    assert result.recall >= 0.995 and result.precision >= 0.995, result
    for language, (true_positive, found, true) in result.boundaries.items():
        assert true_positive / max(1, found) >= GOALS[language], result
        assert true_positive / max(1, true) >= GOALS[language], result


def test_a_running_head_carrying_a_title_is_removed_even_once() -> None:
    titles = {title_key("1.1 Linear systems and their encodings")}
    page = ["1.1. LINEAR SYSTEMS AND THEIR ENCODINGS 6", "Moreover, one may specify sign."]
    assert strip_page(page, [], page=6, titles=titles) == page[1:]
    # ... but not the title the outline points at on this page, nor a line that is not one
    assert strip_page(page, [], page=6, titles=titles, protected={page[0].casefold()}) == page
    assert strip_page(["Linear maps", "Text."], [], titles=titles) == ["Linear maps", "Text."]


def test_a_head_carrying_a_heading_keeps_its_numbers() -> None:
    titles = {heading_key("1.2 Metrische Räume")}
    assert strip_page(["9 1.2. METRISCHE RÄUME", "Body."], [], page=9, titles=titles) == ["Body."]
    # "Lösung zu Aufgabe 7" is not the heading "Lösung zu Aufgabe 1"
    titles = {heading_key("Lösung zu Aufgabe 1")}
    page = ["Lösung zu Aufgabe 7", "(a) Vor.: Sei M."]
    assert strip_page(page, [], page=106, titles=titles) == page


def test_alternating_heads_are_running() -> None:
    def page(n: int) -> list[str]:
        head = f"{n} A QUIET BOOK" if n % 2 == 0 else f"THE KEEPER {n}"
        return [head, f"Body text of page {n}, unique {'x' * n}."]

    others = [edge_keys(page(n), n) for n in (4, 5, 7, 8)]
    assert strip_page(page(6), others, page=6) == page(6)[1:]
