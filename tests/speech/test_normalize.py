"""What readers change in a text does not change its tokens."""

from __future__ import annotations

import pytest

from preread.speech.normalize import tokens, tokens_with_spans


@pytest.mark.parametrize(
    ("reader", "stored"),
    [
        ("THE Lighthouse   stands\n here.", "The lighthouse stands here."),  # case, spaces
        ("The ﬁnal eﬀort.", "The final effort."),  # ligatures
        ("adip-\niscing and noti- fies", "adipiscing and notifies"),  # line-end hyphens
        ("a well-known fact", "a well- known fact"),
        ("“Don’t,” he said.", '"Don\'t," he said.'),  # quotes and apostrophes
        ("It was—at last—over", "It was – at last – over"),  # dashes
        ("1 The Path Along the Cliffs", "1 The Path Along the Cliffs."),  # a heading's stop
        ("Wait... what?!", "Wait, what"),  # punctuation
    ],
)
def test_what_readers_change_gives_the_same_tokens(reader: str, stored: str) -> None:
    assert tokens(reader) == tokens(stored)


def test_different_words_stay_different() -> None:
    assert tokens("the cat sat") != tokens("the cats sat")
    assert tokens("- 12 -") == ["12"]
    assert tokens("“—”") == []


def test_spans_point_into_the_original_text() -> None:
    text = "The ﬁnal adip-\niscing “word”."
    found = tokens_with_spans(text)
    assert [t.text for t in found] == ["the", "final", "adipiscing", "word"]
    assert [text[t.start : t.end] for t in found] == ["The", "ﬁnal", "adip-\niscing", "word"]
