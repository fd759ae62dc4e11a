"""The speech index: which stored blob says which words, and when.

Persisted as ``index/speech.jsonl`` in the store, one line per blob (its key,
format, voice id, duration and sentence times with word times, as in its sidecar),
appended when a blob is written (``record``) by any process, rewritten whole by
``rebuild`` (``preread index rebuild``) from the blobs' sidecars and the manifests,
and compacted (``compact``: the lines of blobs no longer stored dropped) after a
cleanup removed blobs. Appends hold ``index/speech.lock`` shared, rewrites hold it
exclusively, so no append is lost to a rewrite. A reader (``SpeechIndex``) loads it
once and then reads only what was appended; a rewritten file (new inode) is reloaded.

In memory every blob becomes a run of normalized tokens (``preread.speech.normalize``)
with a time range per token (from the word times; none for a voice without them)
and its sentence boundaries; runs are found through a trigram table per voice.
"""

from __future__ import annotations

import bisect
import contextlib
import fcntl
import hashlib
import json
import os
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from preread.fsutil import atomic_write
from preread.manifest import SentenceTime
from preread.speech.normalize import tokens_with_spans
from preread.store import Store
from preread.voice import ResolvedVoice

INDEX_DIR = "index"
INDEX_FILE = "speech.jsonl"
LOCK_FILE = "speech.lock"
_RAW_WORD = re.compile(r"\S+")
Gram = tuple[str, str, str]


def voice_id(voice: ResolvedVoice) -> str:
    """What makes two blobs the same voice: every setting but the file format."""
    material = "\x1f".join(
        [voice.provider, voice.model, voice.voice, f"{voice.speed:.4f}", voice.instructions or ""]
        + ([voice.endpoint] if voice.endpoint else [])
        + (["level=" + voice.level] if voice.level else [])
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:16]


def index_path(store: Store) -> Path:
    return store.home / INDEX_DIR / INDEX_FILE


@contextlib.contextmanager
def _index_lock(store: Store, *, exclusive: bool) -> Iterator[None]:
    """Appends share the index; a rewrite (rebuild, compact) has it alone."""
    path = store.home / INDEX_DIR / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def entry_json(
    key: str, fmt: str, vid: str, duration: float, sentences: Iterable[SentenceTime]
) -> dict[str, Any]:
    return {
        "key": key,
        "format": fmt,
        "voice": vid,
        "duration": round(duration, 3),
        "sentences": [s.to_json() for s in sentences],
    }


def record(store: Store, entry: dict[str, Any]) -> None:
    """Append one blob's entry (one ``write`` of one line: whole or torn, never mixed).

    Best effort: a store whose index cannot be written still stores audio; the
    index can be rebuilt from the sidecars.
    """
    path = index_path(store)
    line = (json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
    with contextlib.suppress(OSError), _index_lock(store, exclusive=False):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)


def compact(store: Store) -> tuple[int, int]:
    """Drop the lines of blobs no longer stored (evicted); (lines kept, lines dropped).

    The file is rewritten (temp, fsync, rename) only when something is dropped, under
    the index lock so that no concurrent append is lost. A line that is not whole
    JSON (torn by a killed writer) is dropped too.
    """
    path = index_path(store)
    if not path.is_file():
        return 0, 0
    with _index_lock(store, exclusive=True):
        kept: list[bytes] = []
        dropped = 0
        with open(path, "rb") as f:
            for line in f:
                try:
                    entry = json.loads(line)
                    stored = store.blob_path(str(entry["key"]), str(entry["format"])).is_file()
                except (ValueError, KeyError, TypeError):
                    stored = False
                if stored and line.endswith(b"\n"):
                    kept.append(line)
                else:
                    dropped += 1
        if dropped:
            atomic_write(path, kept)
    return len(kept), dropped


@dataclass
class IndexedBlob:
    key: str
    format: str
    voice: str
    duration: float
    tokens: list[str]
    times: list[tuple[float, float]] | None  # per token; None: sentence times only
    sentence_of: list[int]  # per token: its sentence's number
    sentence_first: list[int]  # per sentence: its first token (len(tokens) past the end)
    sentence_times: list[tuple[float, float]]
    dead: bool = False

    def starts_sentence(self, position: int) -> bool:
        s = self.sentence_of[position]
        return self.sentence_first[s] == position

    def ends_sentence(self, position: int) -> bool:
        s = self.sentence_of[position]
        return self.sentence_first[s + 1] == position + 1

    def cut_before(self, position: int) -> float:
        """Where audio for a run starting at token ``position`` begins."""
        if self.starts_sentence(position) or self.times is None:
            return self.sentence_times[self.sentence_of[position]][0]
        return (self.times[position - 1][1] + self.times[position][0]) / 2

    def cut_after(self, position: int) -> float:
        """Where audio for a run ending at token ``position`` (included) ends."""
        if self.ends_sentence(position) or self.times is None:
            return self.sentence_times[self.sentence_of[position]][1]
        return (self.times[position][1] + self.times[position + 1][0]) / 2


def _token_times(sentence: SentenceTime) -> tuple[list[str], list[tuple[float, float]] | None]:
    spans = tokens_with_spans(sentence.text)
    words = [m.span() for m in _RAW_WORD.finditer(sentence.text)]
    if sentence.words is None or len(sentence.words) != len(words):
        return [t.text for t in spans], None
    starts = [a for a, _ in words]
    ranges: list[tuple[int, int]] = []
    for token in spans:
        first = max(0, bisect.bisect_right(starts, token.start) - 1)
        last = max(first, bisect.bisect_right(starts, token.end - 1) - 1)
        ranges.append((first, last))
    times: list[tuple[float, float]] = []
    i = 0
    while i < len(ranges):  # tokens sharing the same words share their time by length
        j = i
        while j + 1 < len(ranges) and ranges[j + 1] == ranges[i]:
            j += 1
        begin, end = sentence.words[ranges[i][0]][0], sentence.words[ranges[i][1]][1]
        total = sum(len(spans[k].text) for k in range(i, j + 1))
        position = begin
        for k in range(i, j + 1):
            length = (end - begin) * len(spans[k].text) / total
            times.append((position, position + length))
            position += length
        i = j + 1
    return [t.text for t in spans], times


def indexed_blob(entry: dict[str, Any]) -> IndexedBlob:
    sentences = [SentenceTime.from_json(s) for s in entry.get("sentences", [])]
    all_tokens: list[str] = []
    times: list[tuple[float, float]] | None = []
    sentence_of: list[int] = []
    first: list[int] = []
    sentence_times: list[tuple[float, float]] = []
    for number, sentence in enumerate(sentences):
        words, word_times = _token_times(sentence)
        first.append(len(all_tokens))
        sentence_times.append((sentence.start, sentence.end))
        all_tokens.extend(words)
        sentence_of.extend([number] * len(words))
        if word_times is None or sentence.estimated:
            times = None
        elif times is not None:
            times.extend(word_times)
    first.append(len(all_tokens))
    return IndexedBlob(
        key=str(entry["key"]),
        format=str(entry["format"]),
        voice=str(entry["voice"]),
        duration=float(entry.get("duration", 0.0)),
        tokens=all_tokens,
        times=times,
        sentence_of=sentence_of,
        sentence_first=first,
        sentence_times=sentence_times,
    )


@dataclass
class SpeechIndex:
    """The index in memory, kept up to date with the file by ``refresh``."""

    path: Path
    blobs: list[IndexedBlob] = field(default_factory=list)
    keys: dict[str, int] = field(default_factory=dict)
    grams: dict[str, dict[Gram, list[int]]] = field(default_factory=dict)
    # the first and last one or two tokens of each sentence: short runs that start or
    # end a stored sentence (a reader splitting a sentence elsewhere) are found too
    edges: dict[str, dict[tuple[str, ...], list[int]]] = field(default_factory=dict)
    _inode: int = -1
    _offset: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    MAX_POSITIONS = 64  # per trigram: enough to find a long run, bounded work

    def add(self, entry: dict[str, Any]) -> None:
        key = str(entry.get("key", ""))
        if key in self.keys:
            return
        blob = indexed_blob(entry)
        number = len(self.blobs)
        self.blobs.append(blob)
        self.keys[key] = number
        grams = self.grams.setdefault(blob.voice, {})
        words = blob.tokens
        for p in range(len(words) - 2):
            slot = grams.setdefault((words[p], words[p + 1], words[p + 2]), [])
            if len(slot) < self.MAX_POSITIONS:
                slot.append(number << 20 | p)
        edges = self.edges.setdefault(blob.voice, {})
        for s in range(len(blob.sentence_first) - 1):
            a, b = blob.sentence_first[s], blob.sentence_first[s + 1]
            for k in (1, 2):
                if b - a < k:
                    break
                for start in {a, b - k}:
                    slot = edges.setdefault(tuple(words[start : start + k]), [])
                    if len(slot) < self.MAX_POSITIONS:
                        slot.append(number << 20 | start)

    def refresh(self) -> None:
        """Read what was appended since the last call (everything if rebuilt)."""
        with self._lock:
            try:
                stat = os.stat(self.path)
            except FileNotFoundError:
                return
            if stat.st_ino != self._inode or stat.st_size < self._offset:
                self.blobs, self.keys, self.grams, self.edges = [], {}, {}, {}
                self._inode, self._offset = stat.st_ino, 0
            if stat.st_size == self._offset:
                return
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read(stat.st_size - self._offset)
            end = data.rfind(b"\n") + 1  # a line still being written waits
            for line in data[:end].splitlines():
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    self.add(json.loads(line))
            self._offset += end

    def positions(self, vid: str, words: list[str], at: int) -> Iterator[tuple[int, int]]:
        """(blob number, token position) where stored speech of ``vid`` may match
        ``words[at:]`` (a trigram agrees, or one or two words that start or end a
        stored sentence)."""
        if at + 3 <= len(words):
            gram = (words[at], words[at + 1], words[at + 2])
            for packed in self.grams.get(vid, {}).get(gram, ()):
                yield packed >> 20, packed & 0xFFFFF
        edges = self.edges.get(vid, {})
        for length in (1, 2):
            for packed in edges.get(tuple(words[at : at + length]), ()):
                yield packed >> 20, packed & 0xFFFFF

    @contextlib.contextmanager
    def reading(self) -> Iterator[SpeechIndex]:
        """Hold off ``refresh`` (a rebuilt index is swapped in whole) while planning."""
        with self._lock:
            yield self

    def forget(self, key: str) -> None:
        """A blob found gone (evicted): not offered again until it is stored anew."""
        number = self.keys.get(key)
        if number is not None:
            self.blobs[number].dead = True


def rebuild(store: Store) -> tuple[int, int]:
    """Rewrite the index from every blob's sidecar; (blobs indexed, blobs skipped).

    A sidecar written before sidecars named their voice gets it from a manifest that
    lists its text; blobs no manifest explains are skipped (they cannot be matched to
    a voice).
    """
    from preread.blobs import BlobInfo, blob_key

    by_key: dict[str, str] = {}
    for document_id in sorted(store.cached_ids()):
        with contextlib.suppress(OSError, ValueError, KeyError):
            manifest = store.read_manifest(document_id)
            if manifest is None:
                continue
            voice = manifest.recorded_voice()
            for chunk in manifest.chunks:
                by_key[blob_key(chunk.text, voice)] = voice_id(voice)
    lines: list[bytes] = []
    skipped = 0
    blobs_dir = store.blobs_dir
    for sidecar in sorted(blobs_dir.glob("*/*.json")) if blobs_dir.is_dir() else []:
        try:
            data = json.loads(sidecar.read_bytes())
            info = BlobInfo.from_json(data)
            vid = data.get("voice") or by_key.get(info.key)
            if not vid or not store.blob_path(info.key, info.format).is_file():
                skipped += 1
                continue
        except (OSError, ValueError, KeyError, TypeError):
            skipped += 1
            continue
        entry = entry_json(info.key, info.format, str(vid), info.duration, info.sentences)
        lines.append(json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode())
    with _index_lock(store, exclusive=True):
        atomic_write(index_path(store), b"".join(line + b"\n" for line in lines))
    return len(lines), skipped
