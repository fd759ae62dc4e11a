"""Cover a request's text with runs of stored speech (pure planning, no audio).

The request is normalized into tokens (``preread.speech.normalize``). From left to
right, the longest run of tokens that some stored blob of the same voice says in a
row is taken (a tie goes to the run that starts and ends on sentence boundaries);
a run must be three tokens or more, or a whole stored sentence. Runs inside a blob
without word times must be whole sentences. What no run covers is a gap: page
furniture a registered document had removed (its running headers, footers, page
numbers) is dropped from a gap's edges, the rest will be synthesized.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from preread.speech.index import IndexedBlob, SpeechIndex
from preread.speech.normalize import Token, tokens, tokens_with_spans

MIN_RUN = 3
MAX_FURNITURE_TOKENS = 24


@dataclass(frozen=True)
class Run:
    """Tokens ``at .. at+count`` of the request, said by ``blob`` from token ``first``."""

    blob: IndexedBlob
    first: int
    at: int
    count: int

    @property
    def start(self) -> float:
        return self.blob.cut_before(self.first)

    @property
    def end(self) -> float:
        return self.blob.cut_after(self.first + self.count - 1)


@dataclass(frozen=True)
class Gap:
    """Tokens no stored speech covers: ``text`` to synthesize (empty: furniture only)."""

    at: int
    count: int
    text: str


@dataclass(frozen=True)
class Plan:
    text: str
    spans: tuple[Token, ...]
    items: tuple[Run | Gap, ...]
    skipped: int  # furniture tokens dropped

    @property
    def tokens(self) -> int:
        return len(self.spans)

    def text_of(self, at: int, count: int) -> str:
        """The request's own text for ``count`` tokens from ``at`` (punctuation after)."""
        return _span_text(self.text, self.spans, at, at + count - 1)

    def item_text(self, item: Run | Gap) -> str:
        return item.text if isinstance(item, Gap) else self.text_of(item.at, item.count)

    @property
    def spoken_chars(self) -> int:
        return sum(len(self.item_text(i)) for i in self.items)

    def clean_text(self) -> str:
        """The request without the furniture: what a whole synthesis speaks."""
        return " ".join(t for t in (self.item_text(i) for i in self.items) if t)

    @property
    def gaps(self) -> list[Gap]:
        return [i for i in self.items if isinstance(i, Gap) and i.text]

    @property
    def synthesized_chars(self) -> int:
        return sum(len(g.text) for g in self.gaps)

    @property
    def covered(self) -> bool:
        return not self.gaps


def _longest(index: SpeechIndex, vid: str, words: list[str], at: int) -> Run | None:
    best: Run | None = None
    best_score = (0, 0)
    n = len(words)
    for number, p in index.positions(vid, words, at):
        blob = index.blobs[number]
        if blob.dead:
            continue
        said = blob.tokens
        k = 0
        while at + k < n and p + k < len(said) and said[p + k] == words[at + k]:
            k += 1
        if k == 0:
            continue
        starts = blob.starts_sentence(p)
        if blob.times is None:  # no word times: whole sentences only
            if not starts:
                continue
            while k > 0 and not blob.ends_sentence(p + k - 1):
                k -= 1
            if k == 0:
                continue
        ends = blob.ends_sentence(p + k - 1)
        if k < MIN_RUN and not (starts and ends):
            continue
        score = (k, int(starts) + int(ends))
        if score > best_score:
            best, best_score = Run(blob, p, at, k), score
    return best


def _strip_furniture(words: list[str], furniture: frozenset[tuple[str, ...]]) -> tuple[int, int]:
    """How many tokens at the start and at the end of ``words`` are furniture lines."""
    head = 0
    while head < len(words):
        step = next(
            (
                k
                for k in range(min(MAX_FURNITURE_TOKENS, len(words) - head), 0, -1)
                if tuple(words[head : head + k]) in furniture
            ),
            0,
        )
        if not step:
            break
        head += step
    tail = len(words)
    while tail > head:
        step = next(
            (
                k
                for k in range(min(MAX_FURNITURE_TOKENS, tail - head), 0, -1)
                if tuple(words[tail - k : tail]) in furniture
            ),
            0,
        )
        if not step:
            break
        tail -= step
    return head, len(words) - tail


def _span_text(text: str, spans: tuple[Token, ...], first: int, last: int) -> str:
    """The request's own text for tokens ``first..last`` (with the punctuation after)."""
    end = spans[last + 1].start if last + 1 < len(spans) else len(text)
    return text[spans[first].start : end].strip()


def plan(
    text: str,
    index: SpeechIndex,
    vid: str,
    furniture: frozenset[tuple[str, ...]] = frozenset(),
) -> Plan:
    spans = tuple(tokens_with_spans(text))
    words = [t.text for t in spans]
    items: list[Run | Gap] = []
    skipped = 0
    gap_from: int | None = None

    def close_gap(until: int) -> None:
        nonlocal gap_from, skipped
        if gap_from is None:
            return
        head, tail = _strip_furniture(words[gap_from:until], furniture)
        skipped += head + tail
        first, last = gap_from + head, until - 1 - tail
        if first <= last:
            items.append(Gap(first, last - first + 1, _span_text(text, spans, first, last)))
        gap_from = None

    at = 0
    while at < len(words):
        run = _longest(index, vid, words, at)
        if run is None:
            if gap_from is None:
                gap_from = at
            at += 1
            continue
        close_gap(at)
        items.append(run)
        at += run.count
    close_gap(len(words))
    return Plan(text, spans, tuple(items), skipped)


def furniture_of(lines: Iterable[str]) -> frozenset[tuple[str, ...]]:
    found = set()
    for line in lines:
        words = tuple(tokens(line))
        if 0 < len(words) <= MAX_FURNITURE_TOKENS:
            found.add(words)
    return frozenset(found)


_furniture_cache: dict[Path, tuple[float, frozenset[tuple[str, ...]]]] = {}


def registered_furniture(documents_dir: Path) -> frozenset[tuple[str, ...]]:
    """The furniture lines of every registered document (cached until one changes)."""
    try:
        stamp = documents_dir.stat().st_mtime
    except FileNotFoundError:
        return frozenset()
    cached = _furniture_cache.get(documents_dir)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    lines: list[str] = []
    for path in documents_dir.glob("*/document.json"):
        try:
            data = json.loads(path.read_bytes())
        except (OSError, ValueError):
            continue
        lines.extend(str(line) for line in data.get("furniture", []))
    found = furniture_of(lines)
    _furniture_cache[documents_dir] = (stamp, found)
    return found
