"""Unit tests for each step, on text constructed here."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from preread.errors import BadInput
from preread.pdf import format_pages, parse_pages
from preread.pdf.edges import edge_keys, is_page_number, running_key, strip_edges, strip_page
from preread.pdf.extract import PageText, clean_text, iter_pages
from preread.pdf.hyphenation import Evidence, is_word, join_broken, keep_hyphen
from preread.pdf.paragraphs import Paragraph, build_paragraphs

# --- extraction clean-up ---------------------------------------------------------


def test_clean_text_expands_ligatures_and_drops_invisible_characters() -> None:
    raw = "The \ufb01rst o\ufb03ce\u00ad work\x07s\u200b.\r\n\r\n\r\n  Next\t\tline  \n\n"
    assert clean_text(raw) == ["The first office works.", "", "Next line"]


def test_clean_text_keeps_ascii_fast_path_equivalent() -> None:
    assert clean_text("a\x00b  c\n\nd") == ["ab c", "", "d"]


class _SlowPage:
    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds

    def extract_text(self, visitor_text: Callable[..., None]) -> str:
        if self.seconds is None:
            raise ValueError("broken content stream")
        end = time.monotonic() + self.seconds
        while time.monotonic() < end:  # pure-Python busy loop, like a pypdf loop
            pass
        identity = (1, 0, 0, 1, 0, 0)
        visitor_text("Done.", identity, identity, None, 10)
        return "Done."


class _Reader:
    def __init__(self, pages: list[_SlowPage]) -> None:
        self.pages = pages


def test_a_page_that_overruns_is_skipped_with_a_warning() -> None:
    reader = _Reader([_SlowPage(0), _SlowPage(30), _SlowPage(None), _SlowPage(0)])
    warnings: list[str] = []
    started = time.monotonic()
    pages = list(iter_pages(reader, [1, 2, 3, 4], warnings, page_timeout=0.3))  # type: ignore[arg-type]
    assert time.monotonic() - started < 5
    assert pages == [
        PageText(1, ("Done.",)),
        PageText(2, ()),
        PageText(3, ()),
        PageText(4, ("Done.",)),
    ]
    assert warnings[0] == "page 2 skipped: extraction took over 0.3 s"
    assert warnings[1].startswith("page 3 skipped: ValueError")


# --- running headers, footers, page numbers --------------------------------------


@pytest.mark.parametrize(
    "line", ["12", "- 12 -", "— 7 —", "Page 12 of 80", "page 3", "12 / 80", "xii", "IV", "[4]"]
)
def test_page_numbers(line: str) -> None:
    assert is_page_number(line)


@pytest.mark.parametrize("line", ["12 apples", "Chapter 3", "Mixed", "vivid", "Page one", ""])
def test_not_page_numbers(line: str) -> None:
    assert not is_page_number(line)


def test_page_label_counts_as_a_page_number() -> None:
    assert is_page_number("A-3", label="A-3")


def test_running_key_normalizes_digits() -> None:
    assert running_key("Chapter 3 — 41") == running_key("chapter 3  — 42")
    assert running_key("Chapter 3 — 41") != running_key("Chapter 3 — Summary")


def test_strip_page_removes_only_edge_lines_seen_elsewhere() -> None:
    lines = ["Chapter 3 — 41", "Body text starts here.", "Chapter 3 — 41", "More body.", "41"]
    others = [edge_keys(["Chapter 3 — 42", "Other body text.", "42"], page=42)]
    assert strip_page(lines, others, page=41) == lines[1:4]


def test_a_line_appearing_once_is_never_removed() -> None:
    lines = ["A Title Only Here", "Body text.", "A closing line"]
    assert strip_page(lines, [edge_keys(["something else"])]) == lines


def test_a_body_line_recurring_near_an_edge_elsewhere_is_kept() -> None:
    # Repeated text (a refrain, blind text) puts the same body line at the top of one
    # page and third from the top (or at the bottom) of another: not a running line.
    refrain = "you information about the selected font, how the letters are written"
    page = [refrain, "of the look. This text should contain all letters.", "3"]
    previous = ["information. Really? Is there no information?", "some nonsense", refrain]
    assert strip_page(page, [edge_keys(previous)]) == page[:2]
    # ... and "Definition 17" at a foot does not make "Definition 20" at a head running
    head = ["21 WEGE UND KNOTEN", "Definition 20", "Eine geschlossene Jordankurve."]
    foot = ["18 WEGE UND KNOTEN", "Body of the page.", "Definition 17", "Sei X ein Raum."]
    assert strip_page(head, [edge_keys(foot, page=21)], page=24) == head[1:]


def test_a_running_line_at_a_shifted_place_needs_two_pages() -> None:
    # The same line at the same edge but one line further in (an extra line above it):
    # running when two other pages have it, not on the word of one.
    page = ["Journal of Things, vol. 3", "Body line one.", "Body line two."]
    shifted = ["Special issue", "Journal of Things, vol. 3", "Other body."]
    assert strip_page(page, [edge_keys(shifted, 2)], page=1) == page
    assert strip_page(page, [edge_keys(shifted, 2), edge_keys(shifted, 3)], page=1) == page[1:]


def test_numbers_in_a_running_line_stay_or_move_with_the_page() -> None:
    # "Lösung zu Aufgabe 1" heads page 103 and "Lösung zu Aufgabe 7" page 106, right
    # under the header: same place, but 1 → 7 is not 103 → 106: a heading, kept.
    page = ["103 Lösungen der Übungsaufgaben", "Lösung zu Aufgabe 7", "(a) Vor.: Sei M."]
    other = ["100 Lösungen der Übungsaufgaben", "Lösung zu Aufgabe 1", "Teilaufgabe a)"]
    assert strip_page(page, [edge_keys(other, 103)], page=106) == page[1:]
    # a header whose chapter number stays and whose page number moves is running
    page = ["Chapter 3, page 41", "Body."]
    assert strip_page(page, [edge_keys(["Chapter 3, page 44", "Text."], 44)], page=41) == ["Body."]
    assert strip_page(page, [edge_keys(["Chapter 4, page 44", "Text."], 44)], page=41) == page


def test_strip_edges_stream_compares_within_the_window() -> None:
    pages = [
        (n, [f"My Book — {n}", f"Text of page {n} here, unique {n * 'x'}.", str(n)])
        for n in range(1, 13)
    ]
    out = list(strip_edges(pages, window=2))
    assert [n for n, _ in out] == list(range(1, 13))
    assert all(lines == [f"Text of page {n} here, unique {n * 'x'}."] for n, lines in out)


def test_strip_edges_does_not_compare_far_pages() -> None:
    pages = [(1, ["Lonely Header", "Body one."]), (9, ["Lonely Header", "Body nine."])]
    assert [lines for _, lines in strip_edges(pages, window=4)] == [
        ["Lonely Header", "Body one."],
        ["Lonely Header", "Body nine."],
    ]


# --- hyphenation -----------------------------------------------------------------


def test_word_list_with_inflections() -> None:
    assert is_word("notifies") and is_word("running") and is_word("computers")
    assert not is_word("wellknown") and not is_word("noti")


@pytest.mark.parametrize(
    ("line", "next_line", "joined"),
    [
        ("it noti-", "fies us", "it notifies us"),
        ("a well-", "known fact", "a well-known fact"),
        ("the state-of-the-", "art method", "the state-of-the-art method"),
        ("adip-", "iscing elit", "adipiscing elit"),
        ("Covid-", "19 cases", "Covid-19 cases"),
        ("a long-", "term plan", "a long-term plan"),
        ("some-", "thing else", "something else"),
    ],
)
def test_join_broken(line: str, next_line: str, joined: str) -> None:
    assert join_broken(line, next_line) == joined


def test_no_join_without_a_hyphenated_word() -> None:
    assert join_broken("a dash -", "then more") is None
    assert join_broken("no hyphen", "here") is None


def test_document_evidence_wins_over_the_word_list() -> None:
    evidence = Evidence()
    evidence.add(Evidence.tokens(["We use a data-base here.", "The data-base is big."]))
    assert keep_hyphen("data", "base", evidence)
    assert not keep_hyphen("data", "base")
    evidence.add(Evidence.tokens(["Our wellknown tool.", "A wellknown fact, twice wellknown."]))
    assert not keep_hyphen("well", "known", evidence)


def test_evidence_skips_fragments_and_forgets() -> None:
    tokens = Evidence.tokens(["the noti-", "fies arrive"])
    assert "noti" not in tokens and "fies" not in tokens and "arrive" in tokens
    evidence = Evidence()
    evidence.add(tokens)
    evidence.remove(tokens)
    assert not evidence.has("arrive")


# --- paragraphs and headings -----------------------------------------------------


def test_headings_are_their_own_paragraphs() -> None:
    lines = [
        "1 Introduction",
        "This is the first paragraph, which runs over more than one line of",
        "text before it ends with a period at the end of it.",
        "Short last line.",
        "2.1 Related Work",
        "Others have tried this before and their work is the second paragraph",
        "of this page, also long enough to look like running text on a page.",
    ]
    paragraphs = build_paragraphs(lines)
    assert [p.heading for p in paragraphs] == [True, False, True, False]
    assert paragraphs[0].text == "1 Introduction"
    assert paragraphs[2].text == "2.1 Related Work"
    assert paragraphs[1].text.endswith("Short last line.")


def test_a_short_closing_line_ends_the_paragraph() -> None:
    lines = [
        "The first paragraph is long enough to fill a line of text on the page.",
        "It ends here.",
        "The second paragraph starts on a new line and is long enough as well.",
        "It ends too.",
    ]
    paragraphs = build_paragraphs(lines)
    assert [p.text for p in paragraphs] == [
        lines[0] + " " + lines[1],
        lines[2] + " " + lines[3],
    ]


def test_a_wrapped_sentence_is_not_a_heading() -> None:
    lines = ["The results", "were good.", "Nothing More Here"]
    paragraphs = build_paragraphs(lines)
    assert paragraphs[0] == Paragraph("The results were good.")
    assert paragraphs[1].heading


def test_open_paragraph() -> None:
    assert Paragraph("It continues on the").is_open
    assert not Paragraph("It ends.").is_open
    assert not Paragraph("Heading", heading=True).is_open


# --- --pages ---------------------------------------------------------------------


def test_parse_pages() -> None:
    assert parse_pages("3-7,10") == [3, 4, 5, 6, 7, 10]
    assert parse_pages(" 5 , 2-3 ,5") == [2, 3, 5]
    assert parse_pages("8-", 10) == [8, 9, 10]
    assert parse_pages("-2", 10) == [1, 2]
    assert format_pages([3, 4, 5, 7, 9, 10]) == "3-5,7,9-10"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "expected pages"),
        ("abc", "is not a page"),
        ("3-", "open range"),
        ("0", "start at 1"),
        ("7-3", "backwards"),
        ("1,,2", "is not a page"),
        ("3-4-5", "is not a page"),
    ],
)
def test_bad_pages(spec: str, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        parse_pages(spec)


def test_pages_beyond_the_document() -> None:
    with pytest.raises(BadInput, match="beyond the document's 4 pages"):
        parse_pages("2-5", 4)


# --- laziness and properties -----------------------------------------------------


def test_strip_edges_holds_a_bounded_window() -> None:
    pulled: list[int] = []

    def pages():  # type: ignore[no-untyped-def]
        for n in range(1, 60):
            pulled.append(n)
            yield n, [f"Unique text number {n} of the body."]

    for emitted, _ in strip_edges(pages(), window=3):
        assert len(pulled) <= emitted + 3  # never more than the window ahead
    assert pulled[-1] == 59


LINE_WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFG", min_size=1, max_size=12)
LINE = st.lists(LINE_WORD, min_size=1, max_size=14).map(" ".join)
ENDING = st.sampled_from(["", ".", ",", "?", ":"])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(LINE, ENDING), min_size=1, max_size=30))
def test_paragraphs_keep_every_word_in_order(items: list[tuple[str, str]]) -> None:
    lines = [line + end for line, end in items]
    paragraphs = build_paragraphs(lines)
    assert " ".join(p.text for p in paragraphs).split() == " ".join(lines).split()


def test_the_page_time_bound_works_in_a_worker_thread() -> None:
    from concurrent.futures import ThreadPoolExecutor

    reader = _Reader([_SlowPage(30), _SlowPage(0)])
    warnings: list[str] = []

    def run() -> list[PageText]:
        return list(iter_pages(reader, [1, 2], warnings, page_timeout=0.2))  # type: ignore[arg-type]

    with ThreadPoolExecutor(max_workers=1) as pool:
        pages = pool.submit(run).result(timeout=10)
    assert pages == [PageText(1, ()), PageText(2, ("Done.",))]
    assert warnings == ["page 1 skipped: extraction took over 0.2 s"]
