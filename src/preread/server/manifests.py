"""An in-memory cache of parsed manifests, so a hot chunk GET never parses JSON.

Entries are keyed by the manifest file's (inode, mtime, size): any rewrite
(``atomic_write`` renames a new inode into place) is seen on the next request,
at the cost of one ``stat``. The cache is bounded (least recently used out).
"""

from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

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


class ManifestCache:
    def __init__(self, library: Library, size: int = 64) -> None:
        self.library = library
        self.size = size
        self._items: OrderedDict[str, CachedManifest] = OrderedDict()
        self._lock = threading.Lock()
        self._paths: dict[str, str] = {}  # manifest paths, built once per document

    def get(self, document_id: str) -> CachedManifest | None:
        """The current manifest of ``document_id`` (None when it has none)."""
        path = self._paths.get(document_id)
        if path is None:
            if len(self._paths) > 10_000:
                self._paths.clear()
            path = self._paths[document_id] = str(self.library.manifest_path(document_id))
        try:
            st = os.stat(path)
        except FileNotFoundError:
            self.forget(document_id)
            return None
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        with self._lock:
            cached = self._items.get(document_id)
            if cached is not None and cached.stamp == stamp:
                self._items.move_to_end(document_id)
                return cached
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
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        fresh = CachedManifest.of(manifest, stamp, str(self.library.chunks_dir(document_id)))
        with self._lock:
            self._items[document_id] = fresh
            self._items.move_to_end(document_id)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return fresh

    def forget(self, document_id: str) -> None:
        with self._lock:
            self._items.pop(document_id, None)
