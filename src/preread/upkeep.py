"""A library's upkeep: what is stored, removing audio, the cache lifecycle's hooks.

``Upkeep`` is the part of ``preread.library.Library`` that reads and removes what
the store holds (status, listing, stats, delete, LRU cleanup, the background
cleaner) rather than making audio; ``Library`` inherits it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from preread.chunk_folder import document_row, document_status, status_of
from preread.errors import NotFound
from preread.manifest import Manifest
from preread.settings import Settings, VoiceSettings
from preread.shared import SharedTier
from preread.store import Store
from preread.verify import DocumentCheck, verify_documents

if TYPE_CHECKING:
    from preread.lifecycle import BackgroundCleaner, CleanupReport, Eviction


class Upkeep:
    settings: Settings
    store: Store
    shared: SharedTier | None
    cleaner: BackgroundCleaner | None

    # -- what is stored -----------------------------------------------------------------------
    def status(self, document_id: str, voice: VoiceSettings | None = None) -> dict[str, Any]:
        """The contract's status object, from disk (the server adds its job's state)."""
        return document_status(self.store, document_id, voice)

    @staticmethod
    def status_of(
        document_id: str, manifest: Manifest | None, voice: VoiceSettings | None = None
    ) -> dict[str, Any]:
        """``status`` of a manifest already read (e.g. the server's cached one)."""
        return status_of(document_id, manifest, voice)

    def listing(self) -> list[dict[str, Any]]:
        """One row per stored document: title, state, chunks, size, voice."""
        rows = []
        for document_id in sorted(self.store.known_ids()):
            manifest = self.store.read_manifest(document_id)
            registration = None if manifest else self.store.read_registration(document_id)
            rows.append(document_row(document_id, manifest, registration))
        return rows

    def stats(self) -> dict[str, Any]:
        """The store's figures, and ``synthesis``: P50/P95 seconds per chunk per provider
        over the store's recent syntheses (``preread.latency``)."""
        from preread.lifecycle import store_stats

        stats = store_stats(self.store, max_bytes=self.settings.max_bytes)
        stats["synthesis"] = self.synthesis_summary()
        return stats

    def synthesis_summary(self) -> dict[str, dict[str, Any]]:
        """``{provider: {count, p50, p95}}`` over the store's recent syntheses."""
        from preread.latency import SynthesisLog

        return SynthesisLog(self.store.synthesis_log_path).summary()

    def store_bytes(self) -> int:
        """The store's size on disk (a scan)."""
        from preread.lifecycle import scan_store

        return int(scan_store(self.store).total_bytes)

    # -- removing audio -----------------------------------------------------------------------
    def has_audio(self, document_id: str) -> bool:
        return self.store.doc_dir(document_id).exists()

    def delete_audio(self, document_id: str) -> Eviction:
        """Remove a document's chunk folder (its registration stays); no pins apply."""
        from preread.lifecycle import delete_document

        result = delete_document(self.store, document_id)
        if self.shared is not None:
            self.shared.forget_document(document_id, registration=False)
        return result

    def delete(self, document_id: str) -> Eviction:
        """Remove a document's audio and its registration (shared blobs stay)."""
        if document_id not in self.store.known_ids():
            raise NotFound(f"document {document_id[:12]} is not in the store")
        result = self.delete_audio(document_id)
        self.store.unregister(document_id)
        if self.shared is not None:
            self.shared.forget_document(document_id, registration=True)
        return result

    def cleanup(self, *, older_than: float | None = None, dry_run: bool = False) -> CleanupReport:
        """Least recently used audio out until the store is under ``settings.max_bytes``."""
        from preread.lifecycle import run_cleanup

        return run_cleanup(
            self.store,
            max_bytes=self.settings.max_bytes,
            older_than=older_than,
            pin_minutes=self.settings.pin_minutes,
            dry_run=dry_run,
            grace_seconds=self.settings.grace_minutes * 60.0,
        )

    def start_cleaner(self, *, debounce: float, interval: float | None) -> BackgroundCleaner:
        """Run the same cleanup in the background whenever the store grows past its limit."""
        from preread.lifecycle import BackgroundCleaner

        self.cleaner = BackgroundCleaner(
            self.store, self.settings, debounce=debounce, interval=interval
        )
        return self.cleaner

    # -- the shared tier ----------------------------------------------------------------------
    def tier_health(self) -> dict[str, Any] | None:
        """The shared tier's state for /healthz; None without one."""
        return self.shared.health() if self.shared is not None else None

    # -- hooks into the cache lifecycle -------------------------------------------------------
    def note_use(self, document_id: str) -> None:
        """Mark the document used (LRU); written at most once a minute."""
        from preread.lifecycle import record_use

        record_use(self.store, document_id)

    def last_used(self, document_id: str) -> float:
        """When the document was last used (its access mark, else when its manifest or
        folder was written); 0.0 when the store knows nothing of it."""
        from preread.lifecycle.access import last_used

        return last_used(self.store, document_id)

    def note_written(self, nbytes: int) -> None:
        if self.cleaner is not None and nbytes:
            self.cleaner.notify_written(nbytes)

    def verify(self, document_ids: list[str] | None = None) -> list[DocumentCheck]:
        """Check every done chunk's bytes against its manifest (of ``document_ids``, else
        of every document with audio); repair those that differ (``preread.verify``)."""
        if document_ids is None:
            document_ids = sorted(i for i in self.store.known_ids() if self.store.read_manifest(i))
        return verify_documents(self.store, document_ids)
