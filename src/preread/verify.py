"""Checking stored audio against its manifest: ``preread verify``, ``status --verify``.

``verify_document(store, document_id)`` compares every ``done`` chunk's file with
what the manifest records (size, then SHA-256) and repairs each one that differs
or is missing:

1. relinked from a file that holds the recorded bytes: the chunk's blob, when its
   audio hashes to the recorded SHA-256, or another chunk file of the document
   recorded with the same SHA-256 that checked good;
2. else marked ``pending`` (its file removed), so the next ``preprocess`` run, or a
   reader's request, makes it again.

A ``done`` chunk is never left with wrong bytes. Repairs happen under the document's
job lock (a document a preprocess run holds is reported ``busy`` and left as it is)
and its manifest lock, where each bad chunk is checked again first (a live request
may have fixed it meanwhile).
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from preread.blobs import blob_key
from preread.errors import Conflict
from preread.fsutil import atomic_link, sha256_file
from preread.manifest import ChunkEntry, Manifest
from preread.store import Store
from preread.voice import ResolvedVoice

Problem = Literal["missing", "size", "sha256"]
Action = Literal["relinked", "pending", "fixed meanwhile", "not repaired"]
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass
class ChunkProblem:
    index: int
    file_name: str
    problem: Problem
    action: Action = "not repaired"

    @property
    def repaired(self) -> bool:
        return self.action != "not repaired"

    def describe(self) -> str:
        what = {
            "missing": "file missing",
            "size": "size differs from the manifest",
            "sha256": "sha256 differs from the manifest",
        }[self.problem]
        how = {
            "relinked": "relinked from a correct copy",
            "pending": "marked pending: the next preprocess run makes it again",
            "fixed meanwhile": "already fixed by another writer",
            "not repaired": "not repaired",
        }[self.action]
        return f"chunk {self.index} ({self.file_name}): {what}; {how}"

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "fileName": self.file_name,
            "problem": self.problem,
            "action": self.action,
        }


@dataclass
class DocumentCheck:
    document_id: str
    title: str = ""
    checked: int = 0  # done chunks whose bytes were checked
    problems: list[ChunkProblem] = field(default_factory=list)
    skipped: str | None = None  # why it was not checked (a preprocess run holds it)

    @property
    def ok(self) -> bool:
        """Everything checked, and every problem found repaired."""
        return self.skipped is None and all(p.repaired for p in self.problems)

    def to_json(self) -> dict[str, Any]:
        return {
            "documentId": self.document_id,
            "title": self.title,
            "checked": self.checked,
            "problems": [p.to_json() for p in self.problems],
            "skipped": self.skipped,
            "ok": self.ok,
        }


def chunk_problem(path: Path, entry: ChunkEntry) -> Problem | None:
    """What is wrong with a done chunk's file, or None when it is what was recorded."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return "missing"
    if not stat.S_ISREG(st.st_mode):  # a chunk file is a hard link, never a symlink
        return "missing"
    if st.st_size != entry.bytes:
        return "size"
    return None if sha256_file(path) == entry.sha256 else "sha256"


def _voice(manifest: Manifest, entry: ChunkEntry) -> ResolvedVoice:
    """The voice that spoke ``entry`` as content keys hash it: the manifest's, or the
    fallback's its ``spokenBy`` names (no endpoint: a compatible server's blobs are
    found through another chunk's copy, or made again)."""
    if entry.spoken_by is not None:
        provider, model, voice = entry.spoken_by
        return ResolvedVoice(
            provider, model, voice, manifest.native_speed, manifest.format, level=manifest.level
        )
    return manifest.recorded_voice()


def _holds(path: Path, entry: ChunkEntry) -> bool:
    try:
        return os.lstat(path).st_size == entry.bytes and sha256_file(path) == entry.sha256
    except FileNotFoundError:
        return False


def _repair(store: Store, manifest: Manifest, entry: ChunkEntry, good: dict[str, Path]) -> Action:
    """Relink ``entry``'s file from a correct copy, else reset it to pending."""
    target = store.chunks_dir(manifest.document_id) / entry.file_name
    sources = [store.blob_path(blob_key(entry.text, _voice(manifest, entry)), manifest.format)]
    if entry.sha256 in good:
        sources.append(good[entry.sha256])
    for source in sources:
        if source != target and _holds(source, entry):
            atomic_link(source, target)
            if _holds(target, entry):
                return "relinked"
    entry.reset()
    with contextlib.suppress(FileNotFoundError):
        target.unlink()
    return "pending"


def verify_documents(
    store: Store, document_ids: list[str], *, repair: bool = True
) -> list[DocumentCheck]:
    """Check every listed document, then (``repair``) repair what differs: a chunk is
    relinked from any checked-good copy of its recorded bytes, in any of them."""
    good: dict[str, Path] = {}  # sha256 -> a chunk file that holds those bytes
    checks = [_check(store, document_id, good) for document_id in document_ids]
    if repair:
        for check in checks:
            if check.problems:
                _repair_document(store, check, good)
    return checks


def verify_document(store: Store, document_id: str, *, repair: bool = True) -> DocumentCheck:
    """``verify_documents`` for one document."""
    return verify_documents(store, [document_id], repair=repair)[0]


def _check(store: Store, document_id: str, good: dict[str, Path]) -> DocumentCheck:
    """Hash every done chunk (no lock: repairs re-check under the locks)."""
    manifest = store.read_manifest(document_id)
    title = (manifest.title or manifest.source_name) if manifest else ""
    check = DocumentCheck(document_id, title)
    if manifest is None:
        return check
    chunks_dir = store.chunks_dir(document_id)
    for entry in manifest.chunks:
        if entry.status != "done":
            continue
        check.checked += 1
        path = chunks_dir / entry.file_name
        problem = _problem(path, entry)
        if problem is None:
            if entry.sha256:
                good.setdefault(entry.sha256, path)
        else:
            check.problems.append(ChunkProblem(entry.index, entry.file_name, problem))
    return check


def _problem(path: Path, entry: ChunkEntry) -> Problem | None:
    if not _PLAIN_NAME.match(entry.file_name) or entry.file_name.startswith("."):
        return "missing"  # a manifest naming a path outside its folder: never followed
    return chunk_problem(path, entry)


def _repair_document(store: Store, check: DocumentCheck, good: dict[str, Path]) -> None:
    """Under the job lock (no preprocess run meanwhile) and the manifest lock."""
    document_id = check.document_id
    job = store.job_lock(document_id)
    try:
        job.acquire(blocking=False)
    except Conflict:
        check.skipped = "busy: a preprocess run is writing it (run verify when it ends)"
        return
    try:

        def change(manifest: Manifest) -> None:
            for found in check.problems:
                entry = manifest.chunk(found.index)
                path = store.chunks_dir(document_id) / found.file_name
                if (
                    entry is None
                    or entry.status != "done"
                    or entry.file_name != found.file_name
                    or _problem(path, entry) is None
                ):
                    found.action = "fixed meanwhile"  # re-made or reset by another writer
                elif not _PLAIN_NAME.match(entry.file_name) or entry.file_name.startswith("."):
                    entry.reset()
                    found.action = "pending"
                else:
                    found.action = _repair(store, manifest, entry, good)
            manifest.updated_at = int(time.time())

        store.update_manifest(document_id, change)
    finally:
        job.release()
