"""Registrations (``documents/{id}/``: the blocks and the uploaded source file) in the
store's budget: scanned, counted against ``PREREAD_MAX_BYTES`` like audio, and evicted.

A registration is what lets the server make a chunk of a document live, so it is
evicted only when its document has no audio left (no chunk folder, or its folder was
evicted earlier in the same pass), in least-recently-used order with everything else,
or when unused for ``--older-than``. The same guards as for audio apply: not while a
preprocess job holds the document, not when used in the last ``PREREAD_PIN_MINUTES``,
not when changed in the last ``PREREAD_GRACE_MINUTES``. Its folder is renamed into
``trash/`` in one step (a reader sees the registration whole or not at all), then
deleted.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from preread.errors import Conflict
from preread.ids import is_full_id
from preread.lifecycle.access import forget

if TYPE_CHECKING:
    from preread.lifecycle.scan import StoreScan
    from preread.store import Store

RegistrationOutcome = Literal["removed", "pinned", "busy", "writing", "gone", "has_audio"]
REGISTRATION_FILE = "document.json"


@dataclass
class RegistrationScan:
    document_id: str
    last_used: float  # max(access mark, when it was registered)
    modified: float  # the newest file or folder mtime in it
    inodes: list[int] = field(default_factory=list)
    bytes: int = 0


def scan_registrations(store: Store, scan: StoreScan, marks: dict[str, float]) -> None:
    """Add every registration's files to ``scan`` (sizes, ``scan.registrations``)."""
    try:
        entries = os.scandir(store.documents_dir)
    except FileNotFoundError:
        return
    with entries:
        folders = [e for e in entries if is_full_id(e.name) and e.is_dir(follow_symlinks=False)]
    for folder in folders:
        try:
            folder_st = os.stat(folder.path)
            with os.scandir(folder.path) as it:
                files = list(it)
        except (FileNotFoundError, NotADirectoryError):
            continue
        reg = RegistrationScan(folder.name, 0.0, folder_st.st_mtime)
        registered_at = folder_st.st_mtime
        for entry in files:
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            key = scan._add(st)
            reg.inodes.append(key)
            reg.bytes += scan.sizes[key]
            reg.modified = max(reg.modified, st.st_mtime)
            if entry.name == REGISTRATION_FILE:
                registered_at = st.st_mtime
        reg.last_used = max(registered_at, marks.get(folder.name, 0.0))
        scan.registrations[folder.name] = reg


def registration_last_used(store: Store, document_id: str) -> float:
    stamps = [0.0]
    for path in (
        store.access_dir / document_id,
        store.registration_dir(document_id) / REGISTRATION_FILE,
    ):
        with contextlib.suppress(FileNotFoundError):
            stamps.append(os.stat(path).st_mtime)
    return max(stamps)


def _newest(directory: str) -> float:
    newest = 0.0
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        newest = os.stat(directory).st_mtime
        with os.scandir(directory) as it:
            for entry in it:
                with contextlib.suppress(FileNotFoundError):
                    newest = max(newest, entry.stat(follow_symlinks=False).st_mtime)
    return newest


def check_registration(
    store: Store,
    document_id: str,
    *,
    pin_before: float,
    fresh_after: float,
    check_busy: bool = True,
) -> RegistrationOutcome:
    """Why the registration must stay ("removed": it may go), without changing anything."""
    if not store.registration_dir(document_id).is_dir():
        return "gone"
    if store.doc_dir(document_id).exists():
        return "has_audio"
    if check_busy and store.job_lock(document_id).is_locked_elsewhere():
        return "busy"
    if registration_last_used(store, document_id) >= pin_before:
        return "pinned"
    if _newest(str(store.registration_dir(document_id))) >= fresh_after:
        return "writing"
    return "removed"


def evict_registration(
    store: Store, document_id: str, *, pin_before: float, fresh_after: float
) -> RegistrationOutcome:
    """Remove a registration (and its source file) whose document has no audio."""
    job = store.job_lock(document_id)
    try:
        job.acquire(blocking=False)
    except Conflict:
        return "busy"
    try:
        outcome = check_registration(
            store, document_id, pin_before=pin_before, fresh_after=fresh_after, check_busy=False
        )
        if outcome != "removed":
            return outcome
        from preread.lifecycle.evict import trash_dir

        target = trash_dir(store) / f"reg-{document_id}.{os.getpid()}.{time.monotonic_ns()}"
        target.parent.mkdir(exist_ok=True)
        try:
            os.rename(store.registration_dir(document_id), target)
        except FileNotFoundError:
            return "gone"
        forget(store, document_id)
    finally:
        job.release()
    shutil.rmtree(target, ignore_errors=True)
    return "removed"
