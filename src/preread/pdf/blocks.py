"""Sentences of a page → blocks of ≤ 450 characters.

Blocks end at sentence ends and pack short sentences with their neighbours. A heading
starts a new block. A sentence longer than ``MAX_BLOCK`` is cut into balanced pieces at
the best clause break (``;`` then ``:`` then ``,`` then a space); never inside a word,
except a single "word" longer than ``MAX_BLOCK`` (a URL, a hash), cut where it must be.
A block's text is its sentences joined by one space.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

MAX_BLOCK = 450
_BREAKS: tuple[str, ...] = (";", ":", ",")


@dataclass(frozen=True)
class Unit:
    """A sentence (or a piece of a long one); ``heading`` starts a new block."""

    text: str
    heading: bool = False


def _cut_position(text: str, limit: int) -> int:
    """Where to cut ``text`` (len > limit): the end of the first piece, ≤ limit."""
    pieces = math.ceil(len(text) / limit)
    target = len(text) / pieces
    # the rest must still fit in pieces - 1 blocks
    low = max(1, len(text) - limit * (pieces - 1))
    high = limit
    for mark in _BREAKS:
        best = -1
        position = text.find(mark + " ", low - 1)
        while position != -1 and position + 1 <= high:
            cut = position + 1
            if cut >= low and (best < 0 or abs(cut - target) < abs(best - target)):
                best = cut
            position = text.find(mark + " ", position + 1)
        if best > 0:
            return best
    best = -1
    position = text.find(" ", low)
    while position != -1 and position <= high:
        if best < 0 or abs(position - target) < abs(best - target):
            best = position
        position = text.find(" ", position + 1)
    if best > 0:
        return best
    space = text.rfind(" ", 0, high + 1)
    return space if space > 0 else high  # a single word longer than the limit


def split_long(text: str, limit: int = MAX_BLOCK) -> list[str]:
    """``text`` cut into pieces of ≤ ``limit`` characters at the best clause breaks."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = _cut_position(rest, limit)
        head, rest = rest[:cut].rstrip(), rest[cut:].lstrip()
        if head:
            pieces.append(head)
    if rest:
        pieces.append(rest)
    return pieces


def pack(units: Sequence[Unit], limit: int = MAX_BLOCK) -> list[list[str]]:
    """Greedy packing of one page's sentences into blocks (lists of sentences)."""
    blocks: list[list[str]] = []
    current: list[str] = []
    only_headings = True
    size = 0
    for unit in units:
        for number, piece in enumerate(split_long(unit.text, limit)):
            new_section = unit.heading and number == 0 and not only_headings
            needed = len(piece) + (1 if current else 0)
            if current and (new_section or size + needed > limit):
                blocks.append(current)
                current, size, only_headings = [], 0, True
                needed = len(piece)
            current.append(piece)
            size += needed
            only_headings = only_headings and unit.heading
    if current:
        blocks.append(current)
    return blocks
