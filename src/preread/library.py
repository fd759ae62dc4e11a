"""The library: one object that owns a store's documents and their audio.

``Library(settings)`` is what the CLI and the server talk to; neither reaches the
store's layout, the chunk maker or the preprocess runner directly::

    library.register(document, source)           remember a document's blocks (and file)
    library.pregenerate(document, voice, ...)    fill its chunk folder (resumable)
    library.ensure_chunk(doc, index, voice)      make one missing chunk (live fallback)
    library.speech(text, voice)                  audio for any text, from the same blobs
    library.status(doc) / listing() / stats()    what is stored
    library.verify(doc)                          chunks whose bytes differ, repaired
    library.delete(doc) / cleanup(...)           remove audio (explicitly, or LRU)

It owns the providers (each built once, on first need), one chunk maker per
provider, the content-key single flight they, its preprocess runs and ``speech``
share (``preread.flights``: one synthesis of a given content at a time) and the
voice identity rule: which voice a manifest's audio was made with
(``voice_of``) and whether it is the voice asked for (``matches``).

Its parts live beside it as mixins ``Library`` inherits: ``preread.missing_chunks``
(``chunk_target``, ``ensure_chunk``, ``restore_chunk``), ``preread.speaking``
(``speech``, the speech index), ``preread.upkeep`` (status, delete, cleanup) and
``preread.exporting`` (exports kept in the store, for the server's export jobs).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from preread import journal
from preread.blobs import BlobStore, blob_key
from preread.chunk_folder import fallback_count, pages_done, select_blocks
from preread.engines import Engines
from preread.errors import NotFound
from preread.exporting import (
    EXPORT_FORMATS,
    ExportCancelled,
    Exporting,
    ExportOrder,
    MissingAudio,
)
from preread.flights import Flights
from preread.lifecycle import CleanupReport
from preread.manifest import ChunkEntry, Manifest
from preread.missing_chunks import MissingChunks
from preread.model import DocumentText
from preread.preprocess import run_preprocess
from preread.progress import Progress, Summary
from preread.settings import Settings, VoiceSettings
from preread.shared import SharedTier
from preread.speaking import Speaking
from preread.speech.assemble import Answer
from preread.speech.index import SpeechIndex
from preread.store import Store
from preread.tiers import ObjectTier
from preread.tts.base import Provider
from preread.upkeep import Upkeep
from preread.voice import ResolvedVoice

if TYPE_CHECKING:
    from preread.lifecycle import BackgroundCleaner
    from preread.readers import Kind

__all__ = [
    "EXPORT_FORMATS", "Answer", "CleanupReport", "ExportCancelled", "ExportOrder", "Library",
    "MissingAudio", "Progress", "Summary",
]  # fmt: skip


class Library(MissingChunks, Speaking, Upkeep, Exporting):
    """A store of documents and their audio; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        *,
        provider: Provider | None = None,
        shared: ObjectTier | None = None,
    ) -> None:
        """``provider`` replaces the engine ``settings`` name (tests, embedding);
        ``shared`` the second tier ``settings.s3_url`` names (tests: a ``MemoryTier``)."""
        self.settings = settings
        self.store = Store(settings.home)
        self.blobs = BlobStore(self.store)
        if shared is None and settings.s3_url:
            from preread.s3tier import S3Tier

            shared = S3Tier.from_settings(settings)
        self.shared = SharedTier(shared, self.store) if shared is not None else None
        self.engines = Engines(settings, self.store, provider)
        self.cleaner: BackgroundCleaner | None = None
        self._speech_index: SpeechIndex | None = None
        self._lock = threading.Lock()

    # -- providers and voice identity (``preread.engines``) -------------------------------
    @property
    def flights(self) -> Flights[str]:
        """Content keys being made now (``preread.flights``), shared by every maker."""
        return self.engines.flights

    def provider(self) -> Provider:
        """The configured provider (``settings.voice.provider``), built on first need."""
        return self.engines.provider_for()

    def provider_for(self, name: str) -> Provider:
        return self.engines.provider_for(name)

    def resolve_voice(self, voice: VoiceSettings | None = None) -> ResolvedVoice:
        return self.engines.resolve(voice)

    def voice_of(self, manifest: Manifest) -> ResolvedVoice:
        return self.engines.voice_of(manifest)

    def matches(self, manifest: Manifest, voice: ResolvedVoice) -> bool:
        return self.engines.matches(manifest, voice)

    def spoken_key(self, manifest: Manifest, entry: ChunkEntry) -> str:
        """The content key of a chunk's blob: its text in the voice that spoke it."""
        return blob_key(entry.text, self.engines.spoken_voice(manifest, entry))

    # -- documents ----------------------------------------------------------------------------
    @property
    def home(self) -> Path:
        return self.store.home

    @property
    def jobs_dir(self) -> Path:
        """Where the in-process job queue saves unfinished jobs' requests."""
        return self.store.jobs_dir

    def resolve(self, id_or_prefix: str) -> str:
        """A full id from an id or prefix of ≥ 8 hex chars; BadInput / NotFound otherwise."""
        return self.store.resolve(id_or_prefix)

    def known_ids(self) -> set[str]:
        return self.store.known_ids()

    def registration(self, document_id: str) -> DocumentText | None:
        """The document's registration; from the shared tier when only it has one."""
        found = self.store.read_registration(document_id)
        if found is None and self.shared is not None:
            found = self.shared.fetch_registration(document_id)
        return found

    def manifest(self, document_id: str) -> Manifest | None:
        """The document's manifest; the shared tier's copy when the disk has none."""
        found = self.store.read_manifest(document_id)
        if found is None and self.shared is not None:
            found = self.shared.adopt_manifest(document_id)
        return found

    def manifest_bytes(self, document_id: str) -> bytes | None:
        """The manifest (the contract's JSON), with a running job's journal folded in;
        None without one (the shared tier's, when only it has one)."""
        if self.shared is not None:
            self.manifest(document_id)  # adopted when the disk has none
        path = self.store.journal_path(document_id)
        try:
            if not path.exists():
                return self.store.manifest_path(document_id).read_bytes()
        except FileNotFoundError:
            pass  # the journal was folded meanwhile
        data = self.store.read_manifest_json(document_id)
        return None if data is None else journal.dumps_manifest(data)

    def manifest_path(self, document_id: str) -> Path:
        return self.store.manifest_path(document_id)

    def journal_path(self, document_id: str) -> Path:
        """Where a run records chunks before they are folded into the manifest."""
        return self.store.journal_path(document_id)

    def chunks_dir(self, document_id: str) -> Path:
        return self.store.chunks_dir(document_id)

    def chunk_path(self, document_id: str, entry: ChunkEntry) -> Path:
        return self.store.chunks_dir(document_id) / entry.file_name

    def register(self, document: DocumentText, source: Path | bytes | None = None) -> None:
        """Remember a document's blocks (and its source file) so chunks can be made later."""
        self.store.register(document, source)
        self._share_document(document.document_id)

    def registered(self, document_id: str) -> DocumentText | None:
        """The document's registration when it is whole (None: none, or one to repair)."""
        if not self.store.registration_is_whole(document_id):
            return None
        return self.registration(document_id)

    @staticmethod
    def accepts(content_type: str | None = None) -> tuple[Kind | None, str]:
        """The input kind a media type names (``text/markdown; charset=utf-8`` → markdown;
        None: the bytes alone decide), for ``add``'s ``declared``; and the kinds read, in
        words (for messages)."""
        from preread.readers import ACCEPTED, media_kind

        return media_kind(content_type), ACCEPTED

    def add(
        self, data: bytes, name: str | None, declared: Kind | None = None
    ) -> tuple[DocumentText, bool]:
        """Register an uploaded file (any kind ``preread.readers`` reads; ``declared``: the
        kind its media type names): (its document, whether it is new).

        A registration an older version shortened (``preprocess --pages``) is read
        again from ``data`` and replaced by the whole document's.
        """
        from preread.ids import document_id_of_bytes

        document_id = document_id_of_bytes(data)
        existing = self.registered(document_id)
        if existing is not None:
            self.note_use(document_id)
            return existing, False
        known = self.store.is_registered(document_id)
        document = self.read(data, name=name, declared=declared)
        self.register(document, data)
        self.note_use(document_id)
        self.note_written(len(data))  # registrations count against the store's limit
        return document, not known

    def read(
        self,
        source: Path | bytes,
        *,
        pages: str | None = None,
        password: str | None = None,
        name: str | None = None,
        declared: Kind | None = None,
    ) -> DocumentText:
        """A document file (PDF, EPUB, Markdown, HTML, text) read into blocks with this
        library's text settings; nothing stored."""
        from preread.readers import read_document, read_options

        return read_document(
            source,
            pages=pages,
            password=password,
            name=name,
            declared=declared,
            text=self.settings.text,
            options=read_options(self.settings),
        )

    @staticmethod
    def check_pages(document: DocumentText, pages: str | None) -> None:
        """Refuse a page selection the document cannot satisfy (``BadInput``/``BadRange``)."""
        if pages is not None:
            from preread.pages import parse_pages

            parse_pages(pages, document.pages)

    def blocks(self, document_id: str, pages: str | None = None) -> DocumentText:
        """A stored document's blocks (of ``pages``): its registration, else its stored
        source read again."""
        registration = self.registration(document_id)
        if registration is not None:
            return replace(registration, blocks=tuple(select_blocks(registration, pages)))
        source = self.store.source_path(document_id)
        if not source.is_file():
            raise NotFound(f"document {document_id[:12]} has no stored file; give its path")
        return self.read(source, pages=pages)

    # -- making audio -------------------------------------------------------------------------
    def pregenerate(
        self,
        document: DocumentText,
        voice: VoiceSettings | None = None,
        *,
        source: Path | bytes | None = None,
        pages: str | Collection[int] | None = None,
        force: bool = False,
        wait: bool = False,
        on_progress: Callable[[Progress], None] | None = None,
        cancel: threading.Event | None = None,
        list_all: bool = False,
        upgrade: bool = False,
    ) -> Summary:
        """Pre-generate ``document``'s chunks (``preread.preprocess.run_preprocess``);
        ``upgrade``: also make again those a fallback voice spoke, with the primary."""
        voice = voice or self.settings.voice
        if self.shared is not None:
            resolved = self.resolve_voice(voice)
            self.shared.fetch_done(self.blobs, document.document_id, resolved, self.spoken_key)
        summary = run_preprocess(
            self.store, self.provider_for(voice.provider), document, voice, source=source,
            pages=pages, force=force, wait=wait, on_progress=on_progress, cancel=cancel,
            list_all=list_all, flights=self.flights,
            chain=self.engines.chain(self.provider_for(voice.provider)), upgrade=upgrade,
            observe=self.engines.observe,
            languages=self.engines.languages,
            fetch=self.shared.fetch_blob if self.shared is not None else None,
        )  # fmt: skip
        if summary.generated + summary.reused:
            self.note_written(int(summary.progress.bytes))
        if self.shared is not None:
            manifest = self.store.read_manifest(document.document_id)
            if manifest is not None:
                self.shared.push_done(manifest, self.spoken_key)
            self._share_document(document.document_id)
        return summary

    def share_progress(self, document_id: str, shared: set[str]) -> int:
        """While a run goes on (a queue worker): fold its journal and queue the chunks done
        since the last call (their keys kept in ``shared``) and the manifest for the
        shared tier, so a worker that resumes the job elsewhere finds them; how many."""
        if self.shared is None:
            return 0
        self.store.fold_journal(document_id)
        manifest = self.store.read_manifest(document_id)
        if manifest is None:
            return 0
        new = 0
        for entry in manifest.chunks:
            if entry.status == "done":
                key = self.spoken_key(manifest, entry)  # a fallback's blob: its own key
                if key not in shared:
                    shared.add(key)
                    self.shared.push_blob(key, manifest.format)
                    new += 1
        if new:
            self._share_document(document_id, registration=False)
        return new

    def refresh_manifest(self, document_id: str) -> bool:
        """A job ran elsewhere (a queue worker on another machine): take the shared tier's
        manifest of the document (``SharedTier.refresh_manifest``); False without a tier."""
        return self.shared is not None and self.shared.refresh_manifest(document_id)

    def flush_shared(self, timeout: float) -> bool:
        """Wait until the shared tier took every queued write (True without a tier)."""
        return self.shared is None or self.shared.flush(timeout)

    def is_complete(
        self,
        document_id: str,
        voice: VoiceSettings,
        pages: str | None,
        force: bool = False,
        upgrade: bool = False,
    ) -> tuple[int, bool]:
        """(blocks selected, whether a job would find them all done already; with
        ``upgrade``, none of them spoken by a fallback voice).

        Jobs list every registered block and generate the pages asked.
        """
        document = self.registration(document_id)
        if document is None:
            raise NotFound(
                f"document {document_id} is not registered: POST it to /api/documents first"
            )
        blocks = select_blocks(document, pages)
        manifest = None if force else self.manifest(document_id)
        wanted = {b.page for b in blocks}
        done = manifest is not None and pages_done(
            manifest, document, self.resolve_voice(voice), wanted
        )
        if done and upgrade and manifest is not None:
            done = not fallback_count([c for c in manifest.chunks if c.page in wanted])
        return len(blocks), done

    def _share_document(self, document_id: str, *, registration: bool = True) -> None:
        if self.shared is not None:
            self.shared.push_document(document_id, registration=registration)

    def close(self) -> None:
        if self.shared is not None:
            self.shared.close()
        if self.cleaner is not None:
            self.cleaner.close(timeout=5.0)
            self.cleaner = None
        self.engines.close()
