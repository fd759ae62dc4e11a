"""Text as a listener hears it: the words, whatever a reader app did to their spelling.

Two texts that sound the same give the same tokens: case is folded; ligatures and
compatibility forms are unfolded (NFKC: ``ﬁ`` → ``fi``); quotes and apostrophes
vanish (``don’t`` = ``dont``); a hyphen between two word characters, with any line
break after it, joins them (``adip-\\niscing`` = ``adip- iscing`` = ``adipiscing``,
and ``well-known`` = ``wellknown`` on both sides); dashes, other punctuation (a
heading's added full stop included) and whitespace separate tokens.

``tokens_with_spans`` also says where each token is in the original string, so a
run of tokens can be cut back out of the text a client sent.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

QUOTES = frozenset("'\"`´‘’‚‛“”„‟«»‹›′″")
JOINERS = frozenset("-‐‑\u00ad")  # hyphen-minus, hyphen, non-breaking hyphen, soft hyphen
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Token:
    text: str  # normalized
    start: int  # in the original string
    end: int


def _unfolded(text: str) -> tuple[str, list[int]]:
    """NFKC per character, with each output character's index in ``text``."""
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        folded = unicodedata.normalize("NFKC", char) if ord(char) > 127 else char
        for piece in folded:
            chars.append(piece)
            origin.append(index)
    return "".join(chars), origin


def tokens_with_spans(text: str) -> list[Token]:
    """The normalized tokens of ``text`` and their places in it."""
    unfolded, origin = _unfolded(text)
    kept: list[str] = []
    where: list[int] = []
    n = len(unfolded)
    i = 0
    while i < n:
        char = unfolded[i]
        if char in QUOTES or char == "\u00ad":
            i += 1
            continue
        if char in JOINERS and kept and kept[-1].isalnum():
            j = i + 1
            while j < n and (unfolded[j].isspace() or unfolded[j] in QUOTES):
                j += 1
            if j < n and unfolded[j].isalnum():
                i = j  # joined: drop the hyphen and the line break after it
                continue
        kept.append(char if char.isalnum() else " ")
        where.append(origin[i])
        i += 1
    joined = "".join(kept)
    return [
        Token(m.group().casefold(), where[m.start()], where[m.end() - 1] + 1)
        for m in _WORD.finditer(joined)
        if m.group() != "_" * len(m.group())
    ]


def tokens(text: str) -> list[str]:
    """The normalized tokens of ``text``: what a listener hears, word by word."""
    return [t.text for t in tokens_with_spans(text)]


def normalized(text: str) -> str:
    return " ".join(tokens(text))
