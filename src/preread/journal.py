"""The progress journal: finished chunks recorded in O(1), folded into the manifest later.

``tts_cache_v1/{documentId}/tts.progress.jsonl`` sits beside ``tts.meta.json``. Its
first line names the manifest bytes it extends; each further line is one chunk's
manifest entry (as in ``tts.meta.json``), appended and fsynced when the chunk is
written or fails::

    {"journal":1,"manifest":"<sha256 of the tts.meta.json bytes>"}
    {"index":7,"page":2,"blockIndex":1,"text":"…","fileName":"0008__page-002__block-001.mp3","status":"done",…}

Lines apply in order (a later line for the same chunk wins), only to a chunk that
still has the line's ``fileName`` and ``text``. A journal whose first line names
other bytes than the manifest's is stale (the manifest was rewritten or folded
since) and is ignored; a last line without its newline (a writer killed mid-append)
is ignored. ``preread.fold`` writes manifest + journal as one manifest (whole or not at
all) and then removes the journal: a kill in between leaves a stale journal, which
changes nothing. Every reader in preread (``Store.read_manifest``, the server)
sees manifest + journal; ``tts.meta.json`` alone is complete once a run ends.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from preread.fsutil import FILE_MODE, FileLock, atomic_write, fsync_dir
from preread.manifest import ChunkEntry, Manifest

JOURNAL_NAME = "tts.progress.jsonl"
JOURNAL_VERSION = 1
HEADER_LIMIT = 256  # the first line is ~100 bytes

Record = dict[str, Any]
Stamp = tuple[int, int, int]


def digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def header_line(manifest_digest: str) -> bytes:
    return b'{"journal":%d,"manifest":"%s"}\n' % (JOURNAL_VERSION, manifest_digest.encode())


def record_line(entry: ChunkEntry) -> bytes:
    text = json.dumps(entry.to_json(), ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8") + b"\n"


def dumps_manifest(data: dict[str, Any]) -> bytes:
    """Compact JSON (the C encoder; ``indent`` would force the pure-Python one)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def stamp_of(st: os.stat_result) -> Stamp:
    return (st.st_ino, st.st_mtime_ns, st.st_size)


# -- reading ------------------------------------------------------------------------------
def parse_lines(raw: bytes) -> tuple[list[Record], int]:
    """The records of the whole lines in ``raw`` and how many bytes they span.

    A line that is not a JSON object (a torn line a later append closed) is skipped.
    """
    end = raw.rfind(b"\n") + 1
    records: list[Record] = []
    for line in raw[:end].splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            records.append(value)
    return records, end


def header_matches(first: Record | None, manifest_digest: str) -> bool:
    return (
        first is not None
        and first.get("journal") == JOURNAL_VERSION
        and first.get("manifest") == manifest_digest
    )


def parse_journal(raw: bytes, manifest_digest: str) -> list[Record]:
    """The chunk records of a journal extending the manifest ``manifest_digest`` ([] if stale)."""
    records, _ = parse_lines(raw)
    if not records or not header_matches(records[0], manifest_digest):
        return []
    return records[1:]


def names(path: Path, manifest_digest: str) -> bool:
    """Whether the journal at ``path`` extends the manifest ``manifest_digest``."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(HEADER_LIMIT)
    except FileNotFoundError:
        return False
    return head.startswith(header_line(manifest_digest))


def read_records(path: Path, manifest_digest: str) -> tuple[list[Record], float | None]:
    """The journal's records for that manifest, and the journal's mtime (None: no journal)."""
    try:
        with open(path, "rb") as handle:
            mtime = os.fstat(handle.fileno()).st_mtime
            raw = handle.read()
    except FileNotFoundError:
        return [], None
    return parse_journal(raw, manifest_digest), mtime


def record_fits(chunk: Any, record: Record) -> bool:
    return (
        isinstance(chunk, dict)
        and chunk.get("fileName") == record.get("fileName")
        and chunk.get("text") == record.get("text")
    )


def apply_records(data: dict[str, Any], records: Iterable[Record]) -> int:
    """Fold ``records`` into manifest JSON ``data`` in place; how many applied.

    Fields a record does not know (added by a newer preread) are kept, except a
    stale ``error`` and a stale ``spokenBy`` (a chunk made again by the primary).
    """
    chunks = data.get("chunks")
    if not isinstance(chunks, list):
        return 0
    position: dict[int, int] | None = None
    applied = 0
    for record in records:
        index = record.get("index")
        if not isinstance(index, int):
            continue
        at = index
        if not (0 <= at < len(chunks) and _index_of(chunks[at]) == index):
            if position is None:
                position = {_index_of(c): n for n, c in enumerate(chunks)}
            at = position.get(index, -1)
            if at < 0:
                continue
        current = chunks[at]
        if not record_fits(current, record):
            continue
        merged = {**current, **record}
        for stale in ("error", "spokenBy"):
            if stale not in record:
                merged.pop(stale, None)
        chunks[at] = merged
        applied += 1
    return applied


def _index_of(chunk: Any) -> int:
    return chunk.get("index", -1) if isinstance(chunk, dict) else -1


def folded_json(raw: bytes, journal: Path) -> tuple[dict[str, Any], int]:
    """Manifest bytes ``raw`` with the journal folded in (not written), and how many applied."""
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("the manifest is not a JSON object")
    records, mtime = read_records(journal, digest(raw))
    applied = apply_records(data, records)
    if applied and mtime is not None:
        data["updatedAt"] = max(int(data.get("updatedAt") or 0), int(mtime))
    return data, applied


# -- writing ------------------------------------------------------------------------------
class ProgressJournal:
    """Appends chunk results to one document's journal: O(1) per append, not O(book).

    ``accept(manifest)`` says whether results belong in that manifest (same voice
    settings); it runs once per manifest version. Each ``append`` holds the manifest
    lock, checks with one ``stat`` that the manifest is the one checked, and writes
    the lines with one ``write`` and one ``fsync``.
    """

    def __init__(
        self,
        manifest_path: Path,
        lock: Callable[[], FileLock],
        accept: Callable[[Manifest], bool],
    ) -> None:
        self.manifest_path = manifest_path
        self.path = manifest_path.with_name(JOURNAL_NAME)
        self.lock = lock
        self.accept = accept
        self._stamp: Stamp | None = None
        self._digest = ""
        self._accepted = False
        self._blocks: dict[int, tuple[str, str]] = {}

    def append(
        self,
        entries: list[ChunkEntry],
        *,
        before: Callable[[list[ChunkEntry]], None] | None = None,
    ) -> list[ChunkEntry]:
        """Record the entries the manifest still lists (same block, accepted settings).

        ``before(recorded)`` runs under the lock first (e.g. linking the chunk file), so
        a run switching the document to other settings meanwhile wins. Returns the
        entries recorded.
        """
        if not entries:
            return []
        with self.lock():
            if not self._load():
                return []
            fits = [e for e in entries if self._blocks.get(e.index) == (e.file_name, e.text)]
            if not fits:
                return []
            if before is not None:
                before(fits)
            self._write(b"".join(record_line(e) for e in fits))
            return fits

    def _load(self) -> bool:
        """Check the manifest on disk (one stat when unchanged); False: record nothing."""
        try:
            st = os.stat(self.manifest_path)
        except FileNotFoundError:
            self._stamp = None
            return False
        if stamp_of(st) == self._stamp:
            return self._accepted
        try:
            with open(self.manifest_path, "rb") as handle:
                stamp = stamp_of(os.fstat(handle.fileno()))
                raw = handle.read()
        except FileNotFoundError:
            return False
        manifest = Manifest.loads(raw)
        self._stamp, self._digest = stamp, digest(raw)
        self._accepted = self.accept(manifest)
        self._blocks = {c.index: (c.file_name, c.text) for c in manifest.chunks}
        return self._accepted

    def _write(self, lines: bytes) -> None:
        header = header_line(self._digest)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CLOEXEC)
        except FileNotFoundError:
            fd = -1
        if fd >= 0 and os.pread(fd, len(header), 0) != header:
            os.close(fd)  # a stale journal (of an older manifest): start afresh
            fd = -1
        if fd < 0:
            atomic_write(self.path, header)  # whole header or no journal
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CLOEXEC)
            os.fchmod(fd, FILE_MODE)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                lines = b"\n" + lines  # close a line torn by a killed writer
            written = 0
            while written < len(lines):
                written += os.write(fd, lines[written:])
            os.fsync(fd)
        finally:
            os.close(fd)


def remove(journal: Path) -> None:
    """Drop a journal (its manifest was just rewritten whole)."""
    with contextlib.suppress(FileNotFoundError):
        journal.unlink()
        fsync_dir(journal.parent)
