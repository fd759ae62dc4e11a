"""The packer: ≤ 450 characters, whole words, sentence ends, clause breaks, in order."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from preread.pdf.blocks import MAX_BLOCK, Unit, pack, split_long

WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzé'-", min_size=1, max_size=30)
PUNCT = st.sampled_from(["", "", "", ",", ";", ":"])


@st.composite
def sentences(draw: st.DrawFn) -> str:
    words = draw(st.lists(st.tuples(WORD, PUNCT), min_size=1, max_size=160))
    return " ".join(w + p for w, p in words) + draw(st.sampled_from([".", "?", "!"]))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(sentences(), st.booleans()), min_size=0, max_size=25))
def test_pack_properties(items: list[tuple[str, bool]]) -> None:
    units = [Unit(text, heading) for text, heading in items]
    blocks = pack(units)
    flat_words = [w for block in blocks for sentence in block for w in sentence.split()]
    assert flat_words == [w for text, _ in items for w in text.split()]  # none lost, in order
    for block in blocks:
        assert block, "no empty block"
        assert len(" ".join(block)) <= MAX_BLOCK
    # every original sentence that fits is never split
    whole = {s for block in blocks for s in block}
    for text, _ in items:
        if len(text) <= MAX_BLOCK:
            assert text in whole


@settings(max_examples=150, deadline=None)
@given(sentences())
def test_split_long_never_cuts_a_word(text: str) -> None:
    pieces = split_long(text)
    assert all(0 < len(p) <= MAX_BLOCK for p in pieces)
    assert [w for p in pieces for w in p.split()] == text.split()


def test_short_sentences_are_packed_together() -> None:
    units = [Unit(f"Sentence number {i} is short.") for i in range(30)]
    blocks = pack(units)
    assert len(blocks) == 2
    assert sum(len(b) for b in blocks) == 30
    assert all(len(" ".join(b)) <= MAX_BLOCK for b in blocks)


def test_a_heading_starts_a_block() -> None:
    blocks = pack([Unit("One short sentence."), Unit("2 Methods", heading=True), Unit("Next one.")])
    assert blocks == [["One short sentence."], ["2 Methods", "Next one."]]


def test_consecutive_headings_share_a_block() -> None:
    blocks = pack([Unit("Part I", heading=True), Unit("1 Basics", heading=True), Unit("Text.")])
    assert blocks == [["Part I", "1 Basics", "Text."]]


def test_long_sentence_cut_at_the_best_clause_break() -> None:
    first = "word " * 50 + "first half ends here;"
    second = " other " * 50 + "and, with a comma, it ends."
    pieces = split_long(first + second)
    assert pieces[0].endswith("here;")
    assert len(pieces) == 2


def test_comma_when_there_is_no_semicolon() -> None:
    text = ("alpha " * 50).strip() + ", " + ("beta " * 50).strip() + "."
    pieces = split_long(text)
    assert pieces == [("alpha " * 50).strip() + ",", ("beta " * 50).strip() + "."]


def test_pieces_are_balanced() -> None:
    text = ("gamma " * 85).strip() + "."  # 510 characters, no clause break
    pieces = split_long(text)
    assert len(pieces) == 2
    assert abs(len(pieces[0]) - len(pieces[1])) < 20


def test_a_word_longer_than_a_block_is_cut_where_it_must() -> None:
    url = "https://example.com/" + "x" * 600
    pieces = split_long(f"See {url} now.")
    assert all(len(p) <= MAX_BLOCK for p in pieces)
    assert "".join(pieces).replace(" ", "") == f"See{url}now."
