"""Cover a request's text with runs of stored speech (pure planning, no audio).

The request is normalized into tokens (``preread.speech.normalize``). From left to
right, the longest run of tokens that some stored blob of the same voice says in a
row is taken (a tie goes to the run that starts and ends on sentence boundaries);
a run must be three tokens or more, or start or end a stored sentence. Runs inside a
blob without word times must be whole sentences. Page furniture a registered
document had removed (its running headers, footers, page numbers) is skipped where
it is at least as long as the run found there (a heading that is also a running
header is spoken where it is a whole stored sentence); what no run covers is a gap,
synthesized, less any furniture at its edges.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
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

    @property
    def whole(self) -> bool:
        """Whole stored sentences (it starts and ends on sentence boundaries)."""
        last = self.first + self.count - 1
        return self.blob.starts_sentence(self.first) and self.blob.ends_sentence(last)


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
        if k < MIN_RUN and not (starts or ends):
            continue
        score = (k, int(starts) + int(ends))
        if score > best_score:
            best, best_score = Run(blob, p, at, k), score
    return best


def _furniture_at(words: list[str], at: int, furniture: frozenset[tuple[str, ...]]) -> int:
    """The length of the longest furniture line starting at token ``at`` (0: none)."""
    if not furniture:
        return 0
    for k in range(min(MAX_FURNITURE_TOKENS, len(words) - at), 0, -1):
        if tuple(words[at : at + k]) in furniture:
            return k
    return 0


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


def _segments(
    words: list[str], index: SpeechIndex, vid: str, furniture: frozenset[tuple[str, ...]]
) -> list[Run | tuple[int, int]]:
    """Greedy left to right: runs, furniture ``(at, count)`` and uncovered ``(at, 0)``."""
    found: list[Run | tuple[int, int]] = []
    at = 0
    while at < len(words):
        run = _longest(index, vid, words, at)
        skip = _furniture_at(words, at, furniture)
        if skip and (run is None or run.count < skip or (run.count == skip and not run.whole)):
            found.append((at, skip))
            at += skip
        elif run is None:
            found.append((at, 0))
            at += 1
        else:
            found.append(run)
            at += run.count
    # a run of one or two words stands only between runs (or furniture, or an end of
    # the request): a common word inside new text is synthesized with its neighbours
    for number, item in enumerate(found):
        if isinstance(item, Run) and item.count < MIN_RUN:
            before = found[number - 1] if number else None
            after = found[number + 1] if number + 1 < len(found) else None
            if any(isinstance(n, tuple) and n[1] == 0 for n in (before, after)):
                found[number] = (item.at, -item.count)  # uncovered after all
    return found


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

    for item in _segments(words, index, vid, furniture):
        if isinstance(item, Run):
            close_gap(item.at)
            items.append(item)
        elif item[1] > 0:  # furniture
            close_gap(item[0])
            skipped += item[1]
        elif gap_from is None:
            gap_from = item[0]
    close_gap(len(words))
    return Plan(text, spans, tuple(items), skipped)


def furniture_of(lines: Iterable[str]) -> frozenset[tuple[str, ...]]:
    found = set()
    for line in lines:
        words = tuple(tokens(line))
        if 0 < len(words) <= MAX_FURNITURE_TOKENS:
            found.add(words)
    return frozenset(found)


@dataclass
class _Registered:
    """The furniture of each registration, re-read only when its file changes."""

    checked: float = -1e9
    files: dict[Path, tuple[int, frozenset[tuple[str, ...]]]] = field(default_factory=dict)
    union: frozenset[tuple[str, ...]] = frozenset()


_registered: dict[Path, _Registered] = {}
_registered_lock = threading.Lock()
RECHECK_SECONDS = 1.0


def registered_furniture(documents_dir: Path) -> frozenset[tuple[str, ...]]:
    """The furniture lines of every registered document (looked at again at most once a
    second; a registration is read again only when its file changed)."""
    with _registered_lock:
        state = _registered.setdefault(documents_dir, _Registered())
        now = time.monotonic()
        if now - state.checked < RECHECK_SECONDS:
            return state.union
        state.checked = now
        seen: dict[Path, tuple[int, frozenset[tuple[str, ...]]]] = {}
        for path in documents_dir.glob("*/document.json") if documents_dir.is_dir() else []:
            try:
                stamp = path.stat().st_mtime_ns
                known = state.files.get(path)
                if known is None or known[0] != stamp:
                    data = json.loads(path.read_bytes())
                    known = (stamp, furniture_of(str(x) for x in data.get("furniture", [])))
            except (OSError, ValueError, AttributeError):
                continue
            seen[path] = known
        if seen != state.files:
            state.union = frozenset().union(*(lines for _, lines in seen.values()))
            state.files = seen
        return state.union
