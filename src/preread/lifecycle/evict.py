"""Removing one document's audio, or one unreferenced blob, from disk, safely.

A document is removed under its job lock (so no preprocess job starts meanwhile) and its
manifest lock (so no manifest update is half applied), after checking again, under those
locks, that it is not pinned (used recently) nor being written. The manifest goes first,
so a reader never sees a manifest whose chunks are missing; then the chunk files; then
the blobs that no document references any more (with their sidecars).

A stream that already opened a chunk keeps reading it: unlinking a name never touches an
open file's data.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat as statmod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from preread.errors import Conflict
from preread.fsutil import is_temp_name
from preread.lifecycle.access import forget, last_used
from preread.lifecycle.scan import BlobGroup, StoreScan, disk_bytes, inode_key
from preread.store import MANIFEST_NAME, Store

Outcome = Literal["removed", "pinned", "busy", "writing", "gone"]
MANIFEST_LOCK_TIMEOUT = 2.0


@dataclass
class Eviction:
    outcome: Outcome
    freed_bytes: int = 0
    blobs_removed: int = 0
    touched_blobs: set[str] = field(default_factory=set)


def _newest_change(directory: Path) -> float:
    """The latest sign of a writer: the folders' mtimes and any temp file's mtime."""
    newest = 0.0
    stack = [str(directory)]
    while stack:
        current = stack.pop()
        try:
            newest = max(newest, os.stat(current).st_mtime)
            entries = list(os.scandir(current))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
            elif is_temp_name(entry.name):
                with contextlib.suppress(FileNotFoundError):
                    newest = max(newest, entry.stat(follow_symlinks=False).st_mtime)
    return newest


class _Remover:
    def __init__(self, blob_of_inode: dict[int, str] | None) -> None:
        self.blob_of_inode = blob_of_inode or {}
        self.freed = 0
        self.touched: set[str] = set()

    def file(self, path: str) -> None:
        try:
            st = os.lstat(path)
            os.unlink(path)
        except FileNotFoundError:
            return
        if st.st_nlink == 1:
            self.freed += disk_bytes(st)
        else:
            key = self.blob_of_inode.get(inode_key(st))
            if key is not None:
                self.touched.add(key)

    def tree(self, directory: str) -> None:
        try:
            entries = list(os.scandir(directory))
        except (FileNotFoundError, NotADirectoryError):
            return
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                self.tree(entry.path)
            else:
                self.file(entry.path)
        try:
            os.rmdir(directory)
        except FileNotFoundError:
            pass
        except OSError:  # a writer that ignored the locks added a file: leave nothing
            shutil.rmtree(directory, ignore_errors=True)


def remove_blob(group: BlobGroup, *, fresh_after: float | None = None) -> int | None:
    """Remove a blob and its sidecar if no document references it; bytes freed, or None.

    ``fresh_after``: keep it if it was written after that time (about to be linked).
    """
    for path, _ in group.audio:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        if st.st_nlink > 1 or (fresh_after is not None and st.st_mtime >= fresh_after):
            return None
    remover = _Remover(None)
    for path, _ in group.audio:  # audio first: without it the blob is a miss
        remover.file(path)
    for path, _ in group.others:
        remover.file(path)
    return remover.freed


def remove_stray(path: str, *, fresh_after: float) -> int:
    try:
        st = os.lstat(path)
        if not statmod.S_ISREG(st.st_mode) or st.st_mtime >= fresh_after:
            return 0
        os.unlink(path)
    except FileNotFoundError:
        return 0
    return disk_bytes(st) if st.st_nlink == 1 else 0


def _remove_document_files(
    store: Store, document_id: str, scan: StoreScan | None
) -> tuple[int, set[str]]:
    remover = _Remover(scan.blob_of_inode if scan else None)
    directory = store.doc_dir(document_id)
    remover.file(str(directory / MANIFEST_NAME))
    remover.tree(str(directory))
    forget(store, document_id)
    return remover.freed, remover.touched


def evict_document(
    store: Store,
    document_id: str,
    *,
    pin_before: float,
    fresh_after: float,
    scan: StoreScan | None = None,
) -> Eviction:
    """Remove the document's manifest and chunks, then the blobs only it referenced.

    Kept (and said why) when a job holds it (``busy``), when it was used at or after
    ``pin_before`` (``pinned``), or when something in its folder changed at or after
    ``fresh_after`` (``writing``). ``scan`` maps chunk inodes to blobs; without it the
    blobs are left for the next cleanup. The registration (``documents/``) is kept.
    """
    job = store.job_lock(document_id)
    try:
        job.acquire(blocking=False)
    except Conflict:
        return Eviction("busy")
    try:
        manifest_lock = store.manifest_lock(document_id)
        try:
            manifest_lock.acquire(timeout=MANIFEST_LOCK_TIMEOUT)
        except Conflict:
            return Eviction("busy")
        try:
            directory = store.doc_dir(document_id)
            if not directory.is_dir():
                return Eviction("gone")
            if last_used(store, document_id) >= pin_before:
                return Eviction("pinned")
            if _newest_change(directory) >= fresh_after:
                return Eviction("writing")
            freed, touched = _remove_document_files(store, document_id, scan)
        finally:
            manifest_lock.release()
    finally:
        job.release()
    result = Eviction("removed", freed, touched_blobs=touched)
    if scan is not None:
        for key in sorted(touched):
            blob_freed = remove_blob(scan.blobs[key])
            if blob_freed is not None:
                result.freed_bytes += blob_freed
                result.blobs_removed += 1
    return result
