"""The store on disk: where every file lives, and the small reads and writes around it.

```
$PREREAD_HOME/
    tts_cache_v1/{documentId}/tts.meta.json        the manifest (contract)
    tts_cache_v1/{documentId}/tts.progress.jsonl   chunks finished since (preread.journal)
    tts_cache_v1/{documentId}/chunks/0001__page-001__block-000.mp3   hard links into blobs/
    blobs/{key[:2]}/{key}.{ext}                     content-addressed audio (key: see preread.blobs)
    blobs/{key[:2]}/{key}.json                      its duration and sentence times
    documents/{documentId}/document.json            registered document: every block (DocumentText)
    documents/{documentId}/source.{ext}             the registered source (pdf, epub, md, html, txt)
    locks/{documentId}.job.lock                     held while a preprocess job writes the document
    locks/{documentId}.manifest.lock                held for each read-modify-write of the manifest
    access/{documentId}                             mtime = when the document was last used
    jobs/{documentId}.json                          the server's unfinished jobs (server/jobs.py)
    stats/synthesis.tsv                             recent synthesis times (preread.latency)
    trash/                                          folders cleanup renamed away, being deleted
```
Ids reaching this module must already be validated (``preread.ids``); ``doc_dir``
re-checks, so no caller can build a path from an unchecked string.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from preread import journal
from preread.errors import NotFound
from preread.fold import fold
from preread.fsutil import FileLock, atomic_write
from preread.ids import is_full_id, resolve_prefix
from preread.manifest import Manifest
from preread.model import DocumentText

CACHE_DIR_NAME = "tts_cache_v1"
WHOLE_KEY = "wholeDocument"  # in document.json: every block of the document, whatever was asked
SOURCE_EXTENSIONS = {"pdf": "pdf", "epub": "epub", "html": "html", "markdown": "md", "text": "txt"}
"""A registered source keeps its own extension: ``source.epub``, ``source.md``…"""
MANIFEST_NAME = "tts.meta.json"


class Store:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.cache_dir = home / CACHE_DIR_NAME
        self.blobs_dir = home / "blobs"
        self.documents_dir = home / "documents"
        self.locks_dir = home / "locks"
        self.access_dir = home / "access"
        self.jobs_dir = home / "jobs"
        self.exports_dir = home / "exports"  # export jobs' temp folders and states
        self.synthesis_log_path = home / "stats" / "synthesis.tsv"

    # -- paths ---------------------------------------------------------------------------
    def _checked(self, document_id: str) -> str:
        if not is_full_id(document_id):
            raise ValueError(f"unchecked document id reached the store: {document_id[:80]!r}")
        return document_id

    def doc_dir(self, document_id: str) -> Path:
        return self.cache_dir / self._checked(document_id)

    def manifest_path(self, document_id: str) -> Path:
        return self.doc_dir(document_id) / MANIFEST_NAME

    def journal_path(self, document_id: str) -> Path:
        return self.doc_dir(document_id) / journal.JOURNAL_NAME

    def chunks_dir(self, document_id: str) -> Path:
        return self.doc_dir(document_id) / "chunks"

    def registration_dir(self, document_id: str) -> Path:
        return self.documents_dir / self._checked(document_id)

    def source_path(self, document_id: str) -> Path:
        """The registered source file (``source.pdf``, ``source.epub``…); ``source.pdf``
        when there is none."""
        directory = self.registration_dir(document_id)
        for ext in SOURCE_EXTENSIONS.values():
            path = directory / f"source.{ext}"
            if path.is_file():
                return path
        return directory / "source.pdf"

    def job_lock(self, document_id: str) -> FileLock:
        return FileLock(
            self.locks_dir / f"{self._checked(document_id)}.job.lock",
            what=f"document {document_id[:12]} (a preprocess job)",
        )

    def manifest_lock(self, document_id: str) -> FileLock:
        return FileLock(
            self.locks_dir / f"{self._checked(document_id)}.manifest.lock",
            what=f"the manifest of {document_id[:12]}",
        )

    def blob_path(self, key: str, ext: str) -> Path:
        if not is_full_id(key):
            raise ValueError(f"bad blob key {key[:80]!r}")
        return self.blobs_dir / key[:2] / f"{key}.{ext}"

    # -- ids -----------------------------------------------------------------------------
    def _ids_in(self, directory: Path) -> set[str]:
        if not directory.is_dir():
            return set()
        return {p.name for p in directory.iterdir() if is_full_id(p.name) and p.is_dir()}

    def cached_ids(self) -> set[str]:
        """Documents with a chunk folder (a manifest may still be missing mid-creation)."""
        return self._ids_in(self.cache_dir)

    def registered_ids(self) -> set[str]:
        return {i for i in self._ids_in(self.documents_dir) if self.is_registered(i)}

    def known_ids(self) -> set[str]:
        return self.cached_ids() | self.registered_ids()

    def resolve(self, id_or_prefix: str) -> str:
        """A full id from an id or prefix of ≥ 8 hex chars; BadInput / NotFound otherwise."""
        return resolve_prefix(id_or_prefix, self.known_ids())

    # -- manifests -----------------------------------------------------------------------
    def read_manifest(self, document_id: str) -> Manifest | None:
        """The manifest as readers see it: ``tts.meta.json`` with its journal folded in."""
        data = self.read_manifest_json(document_id)
        return None if data is None else Manifest.from_json(data)

    def read_manifest_json(self, document_id: str) -> dict[str, Any] | None:
        """The manifest + journal as JSON (fields this version does not know kept)."""
        try:
            raw = self.manifest_path(document_id).read_bytes()
        except FileNotFoundError:
            return None
        data, _ = journal.folded_json(raw, self.journal_path(document_id))
        return data

    def require_manifest(self, document_id: str) -> Manifest:
        manifest = self.read_manifest(document_id)
        if manifest is None:
            raise NotFound(f"document {document_id} has no audio in the store")
        return manifest

    def write_manifest(self, manifest: Manifest, data: bytes | None = None) -> None:
        """Write whole or not at all; the journal is then stale and removed. ``data``:
        ``manifest``'s bytes as another store wrote them (a shared tier's), kept as is.

        Callers that read-modify-write hold ``manifest_lock`` (``update_manifest``).
        """
        data = manifest.dumps() if data is None else data
        path = self.journal_path(manifest.document_id)
        if journal.names(path, journal.digest(data)):
            journal.remove(path)  # it would apply to these very bytes: drop it first
        atomic_write(self.manifest_path(manifest.document_id), data)
        journal.remove(path)

    def progress_journal(
        self, document_id: str, accept: Callable[[Manifest], bool]
    ) -> journal.ProgressJournal:
        """Where a run records finished chunks (``accept``: results belong in a manifest)."""
        return journal.ProgressJournal(
            self.manifest_path(document_id), lambda: self.manifest_lock(document_id), accept
        )

    def fold_journal(self, document_id: str) -> int:
        """Fold the journal into ``tts.meta.json`` (complete on its own again)."""
        return fold(
            self.manifest_path(document_id),
            self.journal_path(document_id),
            self.manifest_lock(document_id),
        )

    @contextlib.contextmanager
    def editing_manifest(self, document_id: str) -> Iterator[Manifest | None]:
        """Read, let the caller change, write back, under the manifest lock."""
        with self.manifest_lock(document_id):
            manifest = self.read_manifest(document_id)
            yield manifest
            if manifest is not None:
                self.write_manifest(manifest)

    def update_manifest(
        self, document_id: str, change: Callable[[Manifest], None]
    ) -> Manifest | None:
        with self.editing_manifest(document_id) as manifest:
            if manifest is not None:
                change(manifest)
        return manifest

    # -- registrations -------------------------------------------------------------------
    def is_registered(self, document_id: str) -> bool:
        return (self.registration_dir(document_id) / "document.json").is_file()

    def register(self, document: DocumentText, source: Path | bytes | None) -> None:
        """Remember a document's blocks (and its PDF) so chunks can be generated later.

        ``document`` must hold every block of the document (never a page selection):
        the registration is marked whole (``WHOLE_KEY``), which registrations written
        by older versions (a ``preprocess --pages`` run could shorten them) are not.
        """
        directory = self.registration_dir(document.document_id)
        if source is not None and not self.source_path(document.document_id).exists():
            data = source if isinstance(source, bytes) else source.read_bytes()
            ext = SOURCE_EXTENSIONS.get(document.kind, "pdf")
            atomic_write(directory / f"source.{ext}", data)
        record = {**document.to_json(), WHOLE_KEY: True}
        atomic_write(
            directory / "document.json", json.dumps(record, ensure_ascii=False).encode("utf-8")
        )

    def registration_is_whole(self, document_id: str) -> bool:
        """Whether the registration was written whole (False: none, or an older one)."""
        try:
            raw = (self.registration_dir(document_id) / "document.json").read_bytes()
        except FileNotFoundError:
            return False
        return json.loads(raw).get(WHOLE_KEY) is True

    def read_registration(self, document_id: str) -> DocumentText | None:
        try:
            raw = (self.registration_dir(document_id) / "document.json").read_bytes()
        except FileNotFoundError:
            return None
        return DocumentText.from_json(json.loads(raw))

    def unregister(self, document_id: str) -> None:
        shutil.rmtree(self.registration_dir(document_id), ignore_errors=True)
