"""Word times from Piper's per-phoneme sample counts.

Piper 1.8 (with a model patched for alignments) reports how many samples each
phoneme took. espeak's spoken words do not map one to one to ours (``1984`` is
three spoken words, ``on the`` one, ``—`` none), so each of our whitespace-separated
words is phonemized alone and the two phoneme streams (stress marks, punctuation
and spaces dropped) are aligned character by character (``difflib``); a word spans
the samples of the phonemes its own phonemes matched. A word that matched nothing
(a dash) is a point where the previous word ends.

The first word starts where the sentence does (leading breath included), so a cut
before a sentence's first word is a cut at the sentence start; times never go back.
"""

from __future__ import annotations

from collections.abc import Sequence
from difflib import SequenceMatcher
from typing import Any

Span = tuple[int, int]
_SKIP = frozenset("^$_ ˈˌ,.;:!?¡¿—–-…\"'()")  # BOS, EOS, PAD, space, stress, punctuation


def spoken_phonemes(parts: Sequence[Any]) -> tuple[str, list[Span]] | None:
    """The spoken phonemes over Piper's audio chunks, in order, and each one's samples;
    None when a chunk has no alignments (a plain model)."""
    chars: list[str] = []
    spans: list[Span] = []
    offset = 0
    for part in parts:
        alignments = part.phoneme_alignments
        length = len(part.audio_float_array)
        if alignments is None:
            return None
        total = sum(int(a.num_samples) for a in alignments) or 1
        scale = length / total  # the counts and the audio agree; guard if they do not
        position = 0.0
        for alignment in alignments:
            start, position = position, position + int(alignment.num_samples) * scale
            if alignment.phoneme in _SKIP:
                continue
            chars.append(alignment.phoneme)
            spans.append((offset + round(start), offset + round(position)))
        offset += length
    return "".join(chars), spans


def _phonemes(engine: Any, word: str) -> str:
    return "".join(p for sentence in engine.phonemize(word) for p in sentence if p not in _SKIP)


def match_words(word_phonemes: Sequence[str], spoken: str, spans: Sequence[Span]) -> list[Span]:
    """Each word's sample span, from its phonemes and the spoken stream (pure function)."""
    if not word_phonemes:
        return []
    owner: list[int] = []
    for number, phonemes in enumerate(word_phonemes):
        owner.extend([number] * len(phonemes))
    mine = "".join(word_phonemes)
    first: list[int | None] = [None] * len(word_phonemes)
    last: list[int | None] = [None] * len(word_phonemes)
    matcher = SequenceMatcher(None, mine, spoken, autojunk=False)
    for a, b, size in matcher.get_matching_blocks():
        for k in range(size):
            word = owner[a + k]
            if first[word] is None:
                first[word] = b + k
            last[word] = b + k
    result: list[Span] = []
    previous_end = 0
    for number in range(len(word_phonemes)):
        f, la = first[number], last[number]
        if f is None or la is None:
            result.append((previous_end, previous_end))
            continue
        start = max(previous_end, spans[f][0])
        end = max(start, spans[la][1])
        result.append((start, end))
        previous_end = end
    result[0] = (0, result[0][1])
    return result


def word_samples(engine: Any, sentence: str, parts: Sequence[Any]) -> tuple[Span, ...] | None:
    """Sample spans of each whitespace word of ``sentence`` in Piper's joined audio."""
    stream = spoken_phonemes(parts)
    words = sentence.split()
    if stream is None or not words:
        return None
    spoken, spans = stream
    if not spoken:
        return tuple((0, 0) for _ in words)
    return tuple(match_words([_phonemes(engine, w) for w in words], spoken, spans))
