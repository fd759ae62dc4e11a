"""``run_cleanup``: keep the audio store under its limit, least recently used first.

Safe to run from cron while the server runs and while another cleanup runs: a cleanup
holds ``locks/cleanup.lock`` (a second one returns at once, ``skipped``); each document
is removed under its own locks (``preread.lifecycle.evict``). Never removed: a document
with a running job, a document used in the last ``pin_minutes``, anything written in the
last ``grace_seconds`` (temp files, fresh blobs, folders being filled). Registrations
(``documents/``: blocks and uploaded source files) count against the limit too and go,
least recently used first, once their document has no audio
(``preread.lifecycle.registrations``); until then an evicted document can still be
generated live.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from preread.errors import Conflict
from preread.fsutil import FileLock
from preread.lifecycle.evict import (
    Purged,
    detach_document,
    purge,
    purge_trash,
    remove_blob,
    remove_stray,
)
from preread.lifecycle.plan import Candidate, FreeSimulator, eviction_order
from preread.lifecycle.registrations import evict_registration
from preread.lifecycle.scan import BlobGroup, StoreScan, scan_store
from preread.store import Store

GRACE_SECONDS = 600.0
PURGE_WORKERS = 4  # parallel unlinks: freeing blocks is I/O-latency bound on many disks
CLEANUP_LOCK_NAME = "cleanup.lock"
ANOTHER_RUNNING = "another cleanup is running"
_TITLE_RE = re.compile(rb'"title"\s*:\s*("(?:[^"\\]|\\.)*")')


@dataclass
class RemovedDocument:
    document_id: str
    title: str
    last_used: float | None  # None: a leftover folder without a manifest
    freed_bytes: int
    kind: str = "audio"  # "audio" (its chunk folder) | "registration" (blocks, source file)

    def to_json(self) -> dict[str, Any]:
        return {
            "documentId": self.document_id,
            "kind": self.kind,
            "title": self.title,
            "lastUsed": None if self.last_used is None else int(self.last_used),
            "freedBytes": self.freed_bytes,
        }


@dataclass
class KeptDocument:
    document_id: str
    reason: str  # "pinned" | "busy" (a job holds it) | "writing"
    last_used: float

    def to_json(self) -> dict[str, Any]:
        return {
            "documentId": self.document_id,
            "reason": self.reason,
            "lastUsed": int(self.last_used),
        }


@dataclass
class CleanupReport:
    max_bytes: int
    older_than: float | None = None
    dry_run: bool = False
    skipped: str | None = None  # why nothing was looked at (another cleanup is running)
    size_before: int = 0
    size_after: int = 0
    removed: list[RemovedDocument] = field(default_factory=list)
    kept: list[KeptDocument] = field(default_factory=list)
    blobs_removed: int = 0
    leftovers_removed: int = 0
    index_lines_dropped: int = 0  # speech index lines of blobs no longer stored
    scan_seconds: float = 0.0
    seconds: float = 0.0

    @property
    def freed_bytes(self) -> int:
        return self.size_before - self.size_after

    @property
    def over_limit(self) -> bool:
        return self.size_after > self.max_bytes

    @property
    def did_something(self) -> bool:
        return bool(self.removed or self.blobs_removed or self.leftovers_removed)

    def to_json(self) -> dict[str, Any]:
        return {
            "dryRun": self.dry_run,
            "skipped": self.skipped,
            "limit": self.max_bytes,
            "olderThan": self.older_than,
            "sizeBefore": self.size_before,
            "sizeAfter": self.size_after,
            "freedBytes": self.freed_bytes,
            "overLimit": self.over_limit,
            "removed": [r.to_json() for r in self.removed],
            "blobsRemoved": self.blobs_removed,
            "leftoversRemoved": self.leftovers_removed,
            "kept": [k.to_json() for k in self.kept],
            "seconds": round(self.seconds, 3),
        }


def peek_title(manifest: Path) -> str:
    """The manifest's title from its first bytes (no need to parse every chunk)."""
    try:
        with manifest.open("rb") as handle:
            head = handle.read(8192)
    except OSError:
        return ""
    match = _TITLE_RE.search(head)
    if not match:
        return ""
    try:
        value = json.loads(match.group(1))
    except ValueError:
        return ""
    return value if isinstance(value, str) else ""


class _Run:
    """One pass over the eviction order, real or simulated (dry run).

    Decisions are taken one item at a time, in LRU order, on the simulated size (exact
    when nothing else writes meanwhile); a real run detaches each chosen document at once
    (fast: a rename), then does the slow part (unlinking files, freeing blobs) in a thread
    pool. The size reported at the end is what was really freed.
    """

    def __init__(
        self,
        store: Store,
        scan: StoreScan,
        report: CleanupReport,
        *,
        now: float,
        pin_minutes: float,
        grace_seconds: float,
        pool: ThreadPoolExecutor | None,
    ) -> None:
        self.store = store
        self.scan = scan
        self.report = report
        self.pool = pool
        self.sim = FreeSimulator(scan)
        self.total = scan.total_bytes
        self.pin_before = now - pin_minutes * 60.0
        self.fresh_after = now - grace_seconds
        self.expire_before = None if report.older_than is None else now - report.older_than
        self.stray_inodes = {s.path: s.inode for s in scan.strays}
        self.tasks: list[Callable[[], Purged]] = []  # the slow part, run after detaching
        self.audio_removed: set[str] = set()  # documents whose audio this pass removed
        self.freed_now = 0  # bytes removed in line (registrations), not by the pool

    def wanted(self, item: Candidate) -> bool:
        over = self.total > self.report.max_bytes
        expired = self.expire_before is not None and item.last_used < self.expire_before
        return over or expired

    def _submit(self, task: Callable[[], Purged]) -> None:
        self.tasks.append(task)

    def document(self, item: Candidate) -> None:
        doc = self.scan.documents[item.name]
        title = peek_title(self.store.manifest_path(doc.document_id)) if doc.has_manifest else ""
        reason: str | None = None
        if self.report.dry_run:
            if doc.last_used >= self.pin_before:
                reason = "pinned"
            elif doc.modified >= self.fresh_after:
                reason = "writing"
            elif self.store.job_lock(doc.document_id).is_locked_elsewhere():
                reason = "busy"
        else:
            outcome, path = detach_document(
                self.store,
                doc.document_id,
                pin_before=self.pin_before,
                fresh_after=self.fresh_after,
            )
            if outcome == "gone" or (outcome == "removed" and path is None):
                return
            if outcome != "removed":
                reason = outcome
            else:
                assert path is not None
                self._submit(partial(purge, path, self.scan))
        if reason is not None:
            self.report.kept.append(KeptDocument(doc.document_id, reason, doc.last_used))
            return
        freed, _ = self.sim.document(doc)
        self.total -= freed
        self.audio_removed.add(doc.document_id)
        if not doc.has_manifest:
            self.report.leftovers_removed += 1
        self.report.removed.append(
            RemovedDocument(
                doc.document_id, title, doc.last_used if doc.has_manifest else None, freed
            )
        )

    def registration(self, item: Candidate) -> None:
        """A registration goes only when its document has no audio (left, or after this
        pass); then with the same guards as audio."""
        reg = self.scan.registrations[item.name]
        if item.name in self.scan.documents and item.name not in self.audio_removed:
            return  # its audio stays, so does what lets the server make the rest of it
        document_json = self.store.registration_dir(item.name) / "document.json"
        title = peek_title(document_json)
        reason: str | None = None
        if self.report.dry_run:
            if reg.last_used >= self.pin_before:
                reason = "pinned"
            elif reg.modified >= self.fresh_after:
                reason = "writing"
            elif self.store.job_lock(item.name).is_locked_elsewhere():
                reason = "busy"
        else:
            outcome = evict_registration(
                self.store, item.name, pin_before=self.pin_before, fresh_after=self.fresh_after
            )
            if outcome in ("gone", "has_audio"):
                return
            if outcome != "removed":
                reason = outcome
        if reason is not None:
            if item.name not in self.audio_removed:
                self.report.kept.append(KeptDocument(item.name, reason, reg.last_used))
            return
        freed = self.sim.registration(reg)
        self.total -= freed
        if not self.report.dry_run:
            self.freed_now += freed
        self.report.removed.append(
            RemovedDocument(item.name, title, reg.last_used, freed, kind="registration")
        )

    def blob(self, item: Candidate) -> None:
        group = self.scan.blobs[item.name]
        self.total -= self.sim.blob(group)
        if not self.report.dry_run:
            self._submit(partial(remove_blob, group, fresh_after=self.fresh_after))

    def stray(self, item: Candidate) -> None:
        self.total -= self.sim.stray(self.stray_inodes[item.name])
        self.report.leftovers_removed += 1
        if not self.report.dry_run:
            path, fresh_after = item.name, self.fresh_after
            self._submit(lambda: Purged(remove_stray(path, fresh_after=fresh_after), 0))

    def run(self) -> None:
        for item in eviction_order(self.scan, fresh_after=self.fresh_after):
            if not self.wanted(item):
                break
            if item.kind == "document":
                self.document(item)
            elif item.kind == "blob":
                self.blob(item)
            elif item.kind == "registration":
                self.registration(item)
            else:
                self.stray(item)
        if self.report.dry_run:
            self.report.size_after = self.total
            self.report.blobs_removed = sum(
                1 for g in self.scan.blobs.values() if g.audio and self._sim_gone(g)
            )
            return
        assert self.pool is not None
        freed = self.freed_now
        for purged in self.pool.map(lambda task: task(), self.tasks):
            freed += purged.freed_bytes
            self.report.blobs_removed += purged.blobs_removed
        self.report.size_after = self.report.size_before - freed

    def _sim_gone(self, group: BlobGroup) -> bool:
        return all(self.sim.removed.get(i, 0) >= self.scan.links[i] for _, i in group.audio)


def run_cleanup(
    store: Store,
    *,
    max_bytes: int,
    older_than: float | None = None,
    pin_minutes: float,
    dry_run: bool = False,
    now: float | None = None,
    grace_seconds: float = GRACE_SECONDS,
) -> CleanupReport:
    """Remove least recently used audio until the store is at most ``max_bytes``.

    ``older_than`` (seconds): also remove whatever was not used for that long, whatever
    the size. ``dry_run``: change nothing, report what would go. ``now``: the clock
    (tests). Returns a report; ``report.skipped`` is set when another cleanup holds the
    lock (nothing was looked at).
    """
    started = time.perf_counter()
    report = CleanupReport(max_bytes=max_bytes, older_than=older_than, dry_run=dry_run)
    if not store.home.is_dir():  # nothing stored yet: nothing to do, nothing to create
        return report
    lock = FileLock(store.locks_dir / CLEANUP_LOCK_NAME, what="a cleanup")
    if not dry_run:
        try:
            lock.acquire(blocking=False)
        except Conflict:
            report.skipped = ANOTHER_RUNNING
            return report
    try:
        t = time.time() if now is None else now
        if not dry_run:
            purge_trash(store)  # folders a killed cleanup detached but did not delete
        scan = scan_store(store)
        report.scan_seconds = scan.seconds
        report.size_before = report.size_after = scan.total_bytes
        with ThreadPoolExecutor(PURGE_WORKERS, thread_name_prefix="preread-purge") as pool:
            _Run(
                store,
                scan,
                report,
                now=t,
                pin_minutes=pin_minutes,
                grace_seconds=grace_seconds,
                pool=None if dry_run else pool,
            ).run()
        if not dry_run and report.did_something:
            from preread.speech.index import compact

            report.index_lines_dropped = compact(store)[1]
    finally:
        lock.release()
    report.seconds = time.perf_counter() - started
    return report
