"""An in-memory cache of parsed manifests, so a hot chunk GET never parses JSON.

An entry is the manifest (``tts.meta.json``) with its progress journal folded in
(``preread.journal``). It is keyed by the manifest file's (inode, mtime, size):
any rewrite (``atomic_write`` renames a new inode into place) is seen on the next
request, at the cost of one ``stat``. While a run appends to the journal, only the
new lines are read and applied (O(new chunks), never a re-parse of the book).
Loads are single-flight per document. ``get`` reads files: call it from a worker
thread, never on the event loop; ``fresh`` only stats them. The cache is bounded (least
recently used out).
"""

from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from preread import journal
from preread.errors import PrereadError
from preread.library import Library
from preread.manifest import ChunkEntry, Manifest

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,200}$")


def safe_chunk_name(name: str) -> bool:
    """A manifest's ``fileName`` must be a plain file name: no directory, no ``..``."""
    return _SAFE_NAME.match(name) is not None and ".." not in name


@dataclass
class CachedManifest:
    manifest: Manifest
    stamp: tuple[int, int, int]
    chunks_dir: str = ""
    by_position: dict[tuple[int, int], ChunkEntry] = field(default_factory=dict)
    by_index: dict[int, ChunkEntry] = field(default_factory=dict)
    digest: str = ""  # of the manifest's bytes: which journal extends it
    journal_inode: int | None = None  # the journal read so far (None: none yet)
    journal_offset: int = 0  # bytes of it read
    journal_valid: bool = True  # its header names this manifest
    journal_applied: int = 0  # records of it applied

    @classmethod
    def of(cls, manifest: Manifest, stamp: tuple[int, int, int], chunks_dir: str) -> CachedManifest:
        return cls(
            manifest,
            stamp,
            chunks_dir,
            {(c.page, c.block_index): c for c in manifest.chunks},
            {c.index: c for c in manifest.chunks},
        )

    def path_of(self, entry: ChunkEntry) -> str | None:
        """The chunk file's path; None for a file name that is not a plain name."""
        if not safe_chunk_name(entry.file_name):
            return None
        return f"{self.chunks_dir}/{entry.file_name}"

    def find(self, *, index: int | None, page: int | None, block: int | None) -> ChunkEntry | None:
        if index is not None:
            return self.by_index.get(index)
        if page is not None and block is not None:
            return self.by_position.get((page, block))
        return None

    def apply(self, records: list[journal.Record]) -> None:
        """Journal records onto the parsed manifest: each entry replaced, never mutated,
        so a request holding the old entry still sees one consistent chunk."""
        for record in records:
            index = record.get("index")
            current = self.by_index.get(index) if isinstance(index, int) else None
            if current is None or (current.file_name, current.text) != (
                record.get("fileName"),
                record.get("text"),
            ):
                continue
            try:
                entry = ChunkEntry.from_json({**current.to_json(), **record})
            except (ValueError, KeyError, TypeError):
                continue
            if "error" not in record:
                entry.error = None
            chunks = self.manifest.chunks
            at = entry.index
            if not (0 <= at < len(chunks) and chunks[at] is current):
                at = chunks.index(current)
            chunks[at] = entry
            self.by_index[entry.index] = entry
            self.by_position[(entry.page, entry.block_index)] = entry


class ManifestCache:
    def __init__(self, library: Library, size: int = 64) -> None:
        self.library = library
        self.size = size
        self._items: OrderedDict[str, CachedManifest] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}  # one loader per document
        self._paths: dict[str, tuple[str, str]] = {}  # manifest + journal paths, built once

    def _paths_of(self, document_id: str) -> tuple[str, str]:
        paths = self._paths.get(document_id)
        if paths is None:
            if len(self._paths) > 10_000:
                self._paths.clear()
            paths = self._paths[document_id] = (
                str(self.library.manifest_path(document_id)),
                str(self.library.journal_path(document_id)),
            )
        return paths

    def fresh(self, document_id: str) -> CachedManifest | None:
        """The cached manifest if neither it nor its journal changed since (two ``stat``
        calls, no read: fine on the event loop); None: call ``get`` in a thread."""
        path, journal_path = self._paths_of(document_id)
        cached = self._items.get(document_id)
        if cached is None:
            return None
        try:
            if journal.stamp_of(os.stat(path)) != cached.stamp:
                return None
        except FileNotFoundError:
            return None
        try:
            st = os.stat(journal_path)
        except FileNotFoundError:
            return None if cached.journal_applied else cached
        if st.st_ino != cached.journal_inode:
            return None
        return cached if st.st_size == cached.journal_offset or not cached.journal_valid else None

    def get(self, document_id: str) -> CachedManifest | None:
        """The current manifest of ``document_id`` (None when it has none). Blocking."""
        path, journal_path = self._paths_of(document_id)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            self.forget(document_id)
            return None
        with self._lock:
            cached = self._items.get(document_id)
            loading = self._loading.setdefault(document_id, threading.Lock())
        with loading:
            if cached is None or cached.stamp != journal.stamp_of(st):
                with self._lock:  # another thread may have loaded it meanwhile
                    cached = self._items.get(document_id)
                if cached is None or cached.stamp != journal.stamp_of(st):
                    cached = self._load(document_id, path)
                    if cached is None:
                        return None
            if not self._follow_journal(cached, journal_path):
                cached = self._load(document_id, path)
                if cached is None:
                    return None
                self._follow_journal(cached, journal_path)
        with self._lock:
            self._items[document_id] = cached
            self._items.move_to_end(document_id)
            while len(self._items) > self.size:
                dropped, _ = self._items.popitem(last=False)
                self._loading.pop(dropped, None)
        return cached

    def _load(self, document_id: str, path: str) -> CachedManifest | None:
        try:
            with open(path, "rb") as handle:
                st = os.fstat(handle.fileno())
                raw = handle.read()
        except FileNotFoundError:
            self.forget(document_id)
            return None
        try:
            manifest = Manifest.loads(raw)
        except (ValueError, KeyError, TypeError) as exc:
            raise PrereadError(f"the manifest of {document_id} is unreadable: {exc}") from None
        fresh = CachedManifest.of(
            manifest, journal.stamp_of(st), str(self.library.chunks_dir(document_id))
        )
        fresh.digest = journal.digest(raw)
        return fresh

    def _follow_journal(self, cached: CachedManifest, path: str) -> bool:
        """Apply what the journal gained since last time; False: reload the manifest
        (a journal whose records were applied went away under an unchanged manifest:
        a fold happened since the manifest was checked)."""
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return not cached.journal_applied
        if st.st_ino != cached.journal_inode or st.st_size < cached.journal_offset:
            if cached.journal_applied:
                return False
            cached.journal_inode, cached.journal_offset, cached.journal_valid = st.st_ino, 0, True
        if st.st_size == cached.journal_offset or not cached.journal_valid:
            return True
        try:
            with open(path, "rb") as handle:
                if os.fstat(handle.fileno()).st_ino != cached.journal_inode:
                    return not cached.journal_applied  # replaced meanwhile: next time
                handle.seek(cached.journal_offset)
                raw = handle.read(st.st_size - cached.journal_offset)
        except FileNotFoundError:
            return not cached.journal_applied
        records, used = journal.parse_lines(raw)
        if cached.journal_offset == 0 and used:
            cached.journal_valid = journal.header_matches(
                records[0] if records else None, cached.digest
            )
            records = records[1:]
        if cached.journal_valid and records:
            cached.apply(records)
            cached.journal_applied += len(records)
        cached.journal_offset += used  # after them: who sees this offset sees its records
        return True

    def forget(self, document_id: str) -> None:
        with self._lock:
            self._items.pop(document_id, None)
