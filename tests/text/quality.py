"""What a listener hears against a book's ground truth (``books.Book``): leaks, split
sentences, footnotes, word recall/precision and sentence-boundary precision/recall per
language. Used by the tests and by ``bench/bench_text_quality.py``."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from books import Book

from preread.model import DocumentText

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_GLUED_MARKER = re.compile(r"[^\W\d_]{2,}[.,;:]?\d{1,2}\b")
_LEADER = re.compile(r"(?:\.\s?){4,}")


def words(text: str) -> list[str]:
    return [w.casefold() for w in _WORD.findall(text)]


@dataclass
class Score:
    category: str
    sentences: int = 0
    leaks: int = 0  # forbidden strings heard (heads, page numbers, leaders, labels)
    leaders: int = 0  # contents dot leaders heard
    markers: int = 0  # footnote markers heard (digits glued to a word)
    split: int = 0  # true sentences not heard whole
    interrupted: int = 0  # sentences with a footnote's words inside them
    notes_missing: int = 0  # footnotes not heard whole
    recall: float = 1.0
    precision: float = 1.0
    boundaries: dict[str, list[int]] = field(default_factory=dict)  # lang → [tp, found, true]


def score(book: Book, document: DocumentText) -> Score:
    heard = [(s, b.language) for b in document.blocks for s in b.sentences]
    notes = [s for s, _ in heard if s.startswith(("Note: ", "Note : ", "Fußnote: "))]
    body = [(s, lang) for s, lang in heard if s not in notes]
    result = Score(book.category, sentences=len(heard))
    text = " ".join(s for s, _ in heard)
    for item in book.forbidden:
        result.leaks += len(re.findall(rf"(?<!\w){re.escape(item)}(?!\w)", text))
    result.leaders = len(_LEADER.findall(text))
    result.markers = len(_GLUED_MARKER.findall(" ".join(s for s, _ in body)))
    heard_set = Counter(s for s, _ in body)
    result.split = sum(1 for s, _ in book.sentences if heard_set[s] == 0)
    for note in book.notes:
        if note not in notes:
            result.notes_missing += 1
        probe = note.rsplit(" in ", 1)[-1]  # every generated note ends "in note N."
        result.interrupted += sum(1 for s, _ in body if probe in s)
    truth_words = Counter(w for s, _ in book.sentences for w in words(s))
    truth_words.update(w for n in book.notes for w in words(n))
    heard_words = Counter(w for s, _ in heard for w in words(s))
    common = sum((truth_words & heard_words).values())
    result.recall = common / max(1, sum(truth_words.values()))
    result.precision = common / max(1, sum(heard_words.values()))
    result.boundaries = _boundaries(book.sentences, body)
    return result


def _ends(sentences: list[tuple[str, str]]) -> tuple[list[str], dict[int, str]]:
    """The word stream and the index of each sentence's last word → its language."""
    stream: list[str] = []
    ends: dict[int, str] = {}
    for sentence, language in sentences:
        stream.extend(words(sentence))
        if stream:
            ends[len(stream) - 1] = language
    return stream, ends


def _boundaries(truth: list[tuple[str, str]], heard: list[tuple[str, str]]) -> dict[str, list[int]]:
    true_words, true_ends = _ends(truth)
    heard_words, heard_ends = _ends(heard)
    mapping: dict[int, int] = {}
    matcher = SequenceMatcher(None, heard_words, true_words, autojunk=False)
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            mapping[block.a + k] = block.b + k
    found = {mapping[i] for i in heard_ends if i in mapping}
    out: dict[str, list[int]] = {}
    for index, language in true_ends.items():
        counts = out.setdefault(language, [0, 0, 0])
        counts[2] += 1
        counts[0] += index in found
    for index in found:
        language = true_ends.get(index) or _language_at(index, true_ends)
        out.setdefault(language, [0, 0, 0])[1] += 1
    unmapped = [i for i in heard_ends if i not in mapping]
    for i in unmapped:  # a boundary after a word that is not in the truth: a false one
        out.setdefault(heard_ends[i], [0, 0, 0])[1] += 1
    return out


def _language_at(index: int, ends: dict[int, str]) -> str:
    later = [i for i in ends if i >= index]
    return ends[min(later)] if later else "en"
