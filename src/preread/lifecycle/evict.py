"""Removing one document's audio, or one unreferenced blob, from disk, safely and fast.

A document is *detached* under its job lock (so no preprocess job starts meanwhile) and
its manifest lock (so no manifest update is half applied), after checking again, under
those locks, that it is not pinned (used recently) nor being written: its whole folder
is renamed into ``trash/`` in one atomic step, so a reader sees the whole document or
nothing, never a manifest whose chunks are gone. The folder is then *purged* (its files
unlinked, then the blobs no document references any more, with their sidecars), which
the cleanup does in a thread pool: on disks where freeing a file's blocks costs
milliseconds (ext4 with online discard), parallel unlinks are an order of magnitude
faster than serial ones.

A stream that already opened a chunk keeps reading it: unlinking a name never touches an
open file's data.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat as statmod
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from preread.errors import Conflict
from preread.fsutil import is_temp_name
from preread.lifecycle.access import forget, last_used
from preread.lifecycle.scan import BlobGroup, StoreScan, disk_bytes, inode_key, scan_store
from preread.store import MANIFEST_NAME, Store

Outcome = Literal["removed", "pinned", "busy", "writing", "gone"]
MANIFEST_LOCK_TIMEOUT = 2.0
TRASH_DIR_NAME = "trash"


def trash_dir(store: Store) -> Path:
    """Where detached folders wait to be purged (same file system as the cache)."""
    return store.home / TRASH_DIR_NAME


@dataclass
class Purged:
    freed_bytes: int = 0
    blobs_removed: int = 0


@dataclass
class Eviction:
    outcome: Outcome
    freed_bytes: int = 0
    blobs_removed: int = 0
    touched_blobs: set[str] = field(default_factory=set)


def newest_change(directory: Path) -> float:
    """The latest sign of a writer: the folders' mtimes and any temp file's mtime."""
    newest = 0.0
    stack = [str(directory)]
    while stack:
        current = stack.pop()
        try:
            newest = max(newest, os.stat(current).st_mtime)
            with os.scandir(current) as it:
                entries = list(it)
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
    def __init__(
        self, blob_of_inode: dict[int, str] | None, *, trust_dir_inodes: bool = False
    ) -> None:
        self.blob_of_inode = blob_of_inode or {}
        self.trust_dir_inodes = trust_dir_inodes
        self.freed = 0
        self.touched: set[str] = set()

    def link(self, entry: os.DirEntry[str], dev: int) -> bool:
        """A chunk name linked to a known blob: unlink it without a stat (it frees
        nothing while the blob has its own name); False when it is not one."""
        key = self.blob_of_inode.get((dev << 64) | entry.inode())
        if key is None or not self.trust_dir_inodes or is_temp_name(entry.name):
            return False
        with contextlib.suppress(FileNotFoundError):
            os.unlink(entry.path)
        self.touched.add(key)
        return True

    def file(self, path: str) -> bool:
        """Unlink ``path``; False if it was not there (someone else removed it)."""
        try:
            st = os.lstat(path)
            os.unlink(path)
        except FileNotFoundError:
            return False
        if st.st_nlink == 1:
            self.freed += disk_bytes(st)
        else:
            key = self.blob_of_inode.get(inode_key(st))
            if key is not None:
                self.touched.add(key)
        return True

    def tree(self, directory: str) -> None:
        """Unlink every file under ``directory``, then the folders (never ``rmtree``: a
        folder a writer refilled meanwhile is left to that writer)."""
        try:
            dev = os.stat(directory).st_dev
            with os.scandir(directory) as it:
                entries = list(it)
        except (FileNotFoundError, NotADirectoryError):
            return
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                self.tree(entry.path)
            elif not self.link(entry, dev):
                self.file(entry.path)
        try:
            os.rmdir(directory)
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ENOTEMPTY, errno.EEXIST):
                raise


def remove_blob(group: BlobGroup, *, fresh_after: float | None = None) -> Purged:
    """Remove a blob and its sidecar if no document references it (else nothing).

    ``fresh_after``: keep it if it was written after that time (about to be linked).
    """
    found: list[tuple[str, os.stat_result]] = []
    for path, _ in group.audio:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        if st.st_nlink > 1 or (fresh_after is not None and st.st_mtime >= fresh_after):
            return Purged()
        found.append((path, st))
    # audio first: without it the blob is a miss. Two purges may race for the same blob
    # (two evicted documents shared it): the one that unlinks the audio counts it.
    result = Purged()
    for path, st in found:
        try:
            os.unlink(path)
        except FileNotFoundError:
            continue
        result.freed_bytes += disk_bytes(st)
        result.blobs_removed = 1
    remover = _Remover(None)
    for path, _ in group.others:
        remover.file(path)
    result.freed_bytes += remover.freed
    if not group.audio and remover.freed:
        result.blobs_removed = 1  # a sidecar whose audio was already gone
    return result


def remove_stray(path: str, *, fresh_after: float) -> int:
    try:
        st = os.lstat(path)
        if not statmod.S_ISREG(st.st_mode) or st.st_mtime >= fresh_after:
            return 0
        os.unlink(path)
    except FileNotFoundError:
        return 0
    return disk_bytes(st) if st.st_nlink == 1 else 0


def purge(path: str, scan: StoreScan | None) -> Purged:
    """Delete a detached folder, then the blobs only it referenced (``scan`` maps chunk
    inodes to blobs; without it, those blobs are left for the next cleanup)."""
    remover = _Remover(
        scan.blob_of_inode if scan else None,
        trust_dir_inodes=scan is not None and scan.dir_inodes_ok,
    )
    remover.file(os.path.join(path, MANIFEST_NAME))
    remover.tree(path)
    result = Purged(remover.freed)
    if scan is not None:
        for key in sorted(remover.touched):
            blob = remove_blob(scan.blobs[key])
            result.freed_bytes += blob.freed_bytes
            result.blobs_removed += blob.blobs_removed
    return result


def detach_document(
    store: Store, document_id: str, *, pin_before: float, fresh_after: float
) -> tuple[Outcome, str | None]:
    """Move the document's folder out of the cache, atomically; ``("removed", path)``.

    Kept (and said why) when a job holds it (``busy``), when it was used at or after
    ``pin_before`` (``pinned``), or when something in its folder changed at or after
    ``fresh_after`` (``writing``). The registration (``documents/``) is kept.
    """
    job = store.job_lock(document_id)
    try:
        job.acquire(blocking=False)
    except Conflict:
        return "busy", None
    try:
        manifest_lock = store.manifest_lock(document_id)
        try:
            manifest_lock.acquire(timeout=MANIFEST_LOCK_TIMEOUT)
        except Conflict:
            return "busy", None
        try:
            directory = store.doc_dir(document_id)
            if not directory.is_dir():
                return "gone", None
            if last_used(store, document_id) >= pin_before:
                return "pinned", None
            if newest_change(directory) >= fresh_after:
                return "writing", None
            target = trash_dir(store) / f"{document_id}.{os.getpid()}.{time.monotonic_ns()}"
            try:
                try:
                    os.rename(directory, target)
                except FileNotFoundError:
                    target.parent.mkdir(exist_ok=True)  # the first eviction in this store
                    os.rename(directory, target)
            except FileNotFoundError:
                return "gone", None
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EACCES):
                    raise
                # cannot move it: delete in place, manifest first
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(directory / MANIFEST_NAME)
                target = directory
            forget(store, document_id)
            return "removed", str(target)
        finally:
            manifest_lock.release()
    finally:
        job.release()


def evict_document(
    store: Store,
    document_id: str,
    *,
    pin_before: float,
    fresh_after: float,
    scan: StoreScan | None = None,
) -> Eviction:
    """Detach, then purge, one document (see ``detach_document`` and ``purge``)."""
    outcome, path = detach_document(
        store, document_id, pin_before=pin_before, fresh_after=fresh_after
    )
    if outcome != "removed" or path is None:
        return Eviction(outcome)
    purged = purge(path, scan)
    return Eviction("removed", purged.freed_bytes, purged.blobs_removed)


def delete_document(store: Store, document_id: str) -> Eviction:
    """An explicit delete (``preread delete``, ``DELETE /api/tts/preprocess``): remove the
    document's audio now, however recently it was used, the same whole-or-nothing way
    as an eviction, and the blobs no other document uses. The registration stays.

    Raises Conflict while a preprocess job holds the document.
    """
    result = evict_document(
        store,
        document_id,
        pin_before=float("inf"),
        fresh_after=float("inf"),
        scan=scan_store(store),
    )
    if result.outcome == "busy":
        raise Conflict(f"document {document_id[:12]} is being preprocessed; stop that run first")
    return result


def purge_trash(store: Store) -> int:
    """Delete folders a killed cleanup left in ``trash/``; how many. Their blobs become
    unreferenced and go with the next pass."""
    directory = trash_dir(store)
    try:
        with os.scandir(directory) as it:
            names = [e.path for e in it]
    except FileNotFoundError:
        return 0
    for path in names:
        purge(path, None)
    return len(names)
