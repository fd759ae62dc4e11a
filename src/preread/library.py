"""The library: one object that owns a store's documents and their audio.

``Library(settings)`` is what the CLI and the server talk to; neither reaches the
store's layout, the chunk maker or the preprocess runner directly::

    library.register(document, source)           remember a document's blocks (and file)
    library.pregenerate(document, voice, ...)    fill its chunk folder (resumable)
    library.ensure_chunk(doc, index, voice)      make one missing chunk (live fallback)
    library.speech(text, voice)                  audio for any text, from the same blobs
    library.status(doc) / listing() / stats()    what is stored
    library.delete(doc) / cleanup(...)           remove audio (explicitly, or LRU)

It owns the providers (each built once, on first need), one chunk maker per
provider (its single flight: one synthesis of a given content at a time) and the
voice identity rule: which voice a manifest's audio was made with
(``voice_of``) and whether it is the voice asked for (``matches``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from preread import journal
from preread.blobs import BlobStore, blob_key
from preread.chunk_folder import (
    document_status,
    prepare_manifest,
    same_blocks,
    select_blocks,
    state_of,
    status_of,
)
from preread.errors import Conflict, NotFound
from preread.generate import ChunkMaker, manifest_matches
from preread.lifecycle import CleanupReport
from preread.manifest import ChunkEntry, Manifest
from preread.model import Block, DocumentText
from preread.preprocess import Progress, Summary, run_preprocess
from preread.settings import Settings, VoiceSettings
from preread.speech.assemble import Answer
from preread.speech.index import SpeechIndex, index_path, rebuild
from preread.store import Store
from preread.tts.base import AudioChunk, Provider, ResolvedVoice

if TYPE_CHECKING:
    from preread.lifecycle import BackgroundCleaner, Eviction
    from preread.readers import Kind

__all__ = ["Answer", "CleanupReport", "Library", "Progress", "Summary"]


class Library:
    """A store of documents and their audio; see the module docstring."""

    def __init__(self, settings: Settings, *, provider: Provider | None = None) -> None:
        """``provider`` replaces the engine ``settings`` name (tests, embedding)."""
        self.settings = settings
        self.store = Store(settings.home)
        self.blobs = BlobStore(self.store)
        self._providers: dict[str, Provider] = {}
        if provider is not None:
            self._providers[settings.voice.provider] = provider
        self._makers: dict[str, ChunkMaker] = {}
        self._lock = threading.Lock()
        self.cleaner: BackgroundCleaner | None = None
        self._speech_index: SpeechIndex | None = None

    # -- providers and voice identity -----------------------------------------------------
    def provider(self) -> Provider:
        """The configured provider (``settings.voice.provider``), built on first need."""
        return self.provider_for(self.settings.voice.provider)

    def provider_for(self, name: str) -> Provider:
        """The provider called ``name``, built once."""
        with self._lock:
            found = self._providers.get(name)
            if found is None:
                from preread.tts import make_provider

                voice = replace(self.settings.voice, provider=name)
                found = self._providers[name] = make_provider(replace(self.settings, voice=voice))
            return found

    def resolve_voice(self, voice: VoiceSettings | None = None) -> ResolvedVoice:
        """``voice`` (default: the configured one) as its provider will speak it."""
        voice = voice or self.settings.voice
        return self.provider_for(voice.provider).resolve(voice)

    def voice_of(self, manifest: Manifest) -> ResolvedVoice:
        """The voice the manifest's audio was made with, as its provider resolves it (so
        the content key has what the manifest does not record, e.g. an endpoint)."""
        return self.resolve_voice(
            VoiceSettings(
                provider=manifest.tts_provider,
                model=manifest.tts_model,
                voice=manifest.voice,
                speed=manifest.native_speed,
                format=manifest.format,
                instructions=manifest.instructions,
            )
        )

    @staticmethod
    def matches(manifest: Manifest, voice: ResolvedVoice) -> bool:
        """Whether the manifest's audio is ``voice``'s."""
        return manifest_matches(manifest, voice)

    def maker(self, provider_name: str | None = None) -> ChunkMaker:
        provider = self.provider_for(provider_name or self.settings.voice.provider)
        with self._lock:
            found = self._makers.get(provider.name)
            if found is None:
                found = self._makers[provider.name] = ChunkMaker(self.store, provider)
            return found

    # -- documents ----------------------------------------------------------------------------
    @property
    def home(self) -> Path:
        return self.store.home

    def resolve(self, id_or_prefix: str) -> str:
        """A full id from an id or prefix of ≥ 8 hex chars; BadInput / NotFound otherwise."""
        return self.store.resolve(id_or_prefix)

    def known_ids(self) -> set[str]:
        return self.store.known_ids()

    def registration(self, document_id: str) -> DocumentText | None:
        return self.store.read_registration(document_id)

    def manifest(self, document_id: str) -> Manifest | None:
        return self.store.read_manifest(document_id)

    def manifest_bytes(self, document_id: str) -> bytes | None:
        """The manifest (the contract's JSON), with a running job's journal folded in;
        None without one."""
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

    def registered(self, document_id: str) -> DocumentText | None:
        """The document's registration when it is whole (None: none, or one to repair)."""
        if not self.store.registration_is_whole(document_id):
            return None
        return self.registration(document_id)

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
        from preread.readers import read_document, read_options

        known = self.store.is_registered(document_id)
        document = read_document(
            data,
            name=name,
            declared=declared,
            text=self.settings.text,
            options=read_options(self.settings),
        )
        self.register(document, data)
        self.note_use(document_id)
        return document, not known

    def blocks(self, document_id: str, pages: str | None = None) -> DocumentText:
        """A stored document's blocks (of ``pages``): its registration, else its stored
        source read again."""
        registration = self.registration(document_id)
        if registration is not None:
            return replace(registration, blocks=tuple(select_blocks(registration, pages)))
        source = self.store.source_path(document_id)
        if not source.is_file():
            raise NotFound(f"document {document_id[:12]} has no stored file; give its path")
        from preread.readers import read_document, read_options

        options = read_options(self.settings)
        return read_document(source, pages=pages, text=self.settings.text, options=options)

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
    ) -> Summary:
        """Pre-generate ``document``'s chunks (``preread.preprocess.run_preprocess``)."""
        voice = voice or self.settings.voice
        summary = run_preprocess(
            self.store, self.provider_for(voice.provider), document, voice, source=source,
            pages=pages, force=force, wait=wait, on_progress=on_progress, cancel=cancel,
            list_all=list_all,
        )  # fmt: skip
        if summary.generated + summary.reused:
            self.note_written(int(summary.progress.bytes))
        return summary

    def is_complete(
        self, document_id: str, voice: VoiceSettings, pages: str | None, force: bool = False
    ) -> tuple[int, bool]:
        """(blocks selected, whether a job would find them all done already).

        Jobs list every registered block and generate the pages asked.
        """
        document = self.registration(document_id)
        if document is None:
            raise NotFound(
                f"document {document_id} is not registered: POST it to /api/documents first"
            )
        resolved = self.resolve_voice(voice)
        blocks = select_blocks(document, pages)
        manifest = self.manifest(document_id)
        complete = (
            not force
            and manifest is not None
            and self.matches(manifest, resolved)
            and same_blocks(manifest, list(document.blocks), resolved.format)
            and state_of(manifest, {b.page for b in blocks}) == "complete"
        )
        return len(blocks), complete

    def chunk_target(
        self,
        document_id: str,
        manifest: Manifest | None,
        *,
        index: int | None,
        page: int | None,
        block: int | None,
        prepare: bool = True,
    ) -> tuple[ChunkEntry | Block, ResolvedVoice]:
        """The block to make a missing chunk of, and the voice to make it with.

        A block is known when the manifest lists it, or (no manifest yet) when the
        registered document has it; then (``prepare``) a manifest is written for the
        configured voice. NotFound otherwise; Conflict when the manifest's provider
        is not the configured one.
        """
        provider = self.provider()
        if manifest is not None:
            entry = (
                manifest.chunk(index)
                if index is not None
                else manifest.chunk_at(page or 0, block or 0)
            )
            if entry is None and prepare and index is None:
                entry = self._list_every_block(document_id, manifest, page or 0, block or 0)
            if entry is None:
                raise NotFound(self._not_in_manifest(document_id, index, page, block))
            if manifest.tts_provider != provider.name:
                raise Conflict(
                    f"chunk {entry.index} of {document_id[:12]} is not generated and its audio"
                    f" is for provider {manifest.tts_provider}, not this server's {provider.name}"
                )
            return entry, self.voice_of(manifest)
        document = self.registration(document_id)
        if document is None:
            raise NotFound(f"no document {document_id} (register it or preprocess it first)")
        found = _find_block(document.blocks, index=index, page=page, block=block)
        if found is None:
            raise NotFound(_no_block(document_id, index, page, block))
        voice = provider.resolve(self.settings.voice)
        if prepare:  # not for a HEAD request: it only asks
            prepare_manifest(self.store, document, voice)
        return found, voice

    def _list_every_block(
        self, document_id: str, manifest: Manifest, page: int, block: int
    ) -> ChunkEntry | None:
        """A manifest listing only some pages (an older ``preprocess --pages``) made to list
        every registered block, its done audio kept, when the block asked for is one of
        them and no job holds the document; the block's entry, else None."""
        document = self.registered(document_id)
        if document is None or not _find_block(document.blocks, index=None, page=page, block=block):
            return None
        voice = self.voice_of(manifest)
        if not self.matches(manifest, voice):
            return None
        lock = self.store.job_lock(document_id)
        try:
            lock.acquire(blocking=False)
        except Conflict:
            return None
        try:
            return prepare_manifest(self.store, document, voice).chunk_at(page, block)
        finally:
            lock.release()

    def _not_in_manifest(
        self, document_id: str, index: int | None, page: int | None, block: int | None
    ) -> str:
        """Why a block the manifest lacks is not found: not in the document, or not selected."""
        document = self.registration(document_id) if page is not None else None
        if document is not None and _find_block(
            document.blocks, index=None, page=page, block=block
        ):
            return (
                f"page {page} block {block} of {document_id[:12]} is outside the pages its"
                " audio was made for: POST /api/tts/preprocess with those pages"
            )
        return _no_block(document_id, index, page, block)

    def ensure_chunk(
        self,
        document_id: str,
        index: int,
        voice: ResolvedVoice,
        on_audio: Callable[[AudioChunk], None] | None = None,
    ) -> ChunkEntry:
        """Chunk ``index`` of a document with a manifest: made (and recorded) if missing."""
        entry = self.maker(voice.provider).make(document_id, index, voice, on_audio=on_audio)
        self.note_use(document_id)
        self.note_written(entry.bytes or 0)
        return entry

    def speech(self, text: str, voice: ResolvedVoice) -> Answer:
        """The audio for any ``text``: stored verbatim (HIT), built from stored speech
        of the same voice (ASSEMBLED) or synthesized (MISS); see ``preread.speech``."""
        from preread.speech.assemble import answer

        provider = self.provider_for(voice.provider)
        return answer(
            self.store, provider, voice, text, self.speech_index(), on_written=self.note_written
        )

    def speech_index(self) -> SpeechIndex:
        """The index of stored speech, loaded on first need, then kept up to date."""
        with self._lock:
            if self._speech_index is None:
                self._speech_index = SpeechIndex(index_path(self.store))
            return self._speech_index

    def rebuild_speech_index(self) -> tuple[int, int]:
        """Rewrite the speech index from the blobs' sidecars: (indexed, skipped)."""
        return rebuild(self.store)

    def speech_key(self, text: str, voice: ResolvedVoice) -> str:
        return blob_key(text, voice)

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
        for document_id in sorted(self.known_ids()):
            manifest = self.manifest(document_id)
            registration = None if manifest else self.registration(document_id)
            named = manifest or registration
            done = [c for c in manifest.chunks if c.status == "done"] if manifest else []
            rows.append(
                {
                    "documentId": document_id,
                    "title": named.title if named else "",
                    "sourceName": named.source_name if named else "",
                    "state": state_of(manifest),
                    "total": len(manifest.chunks) if manifest else 0,
                    "done": len(done),
                    "bytes": sum(c.bytes or 0 for c in done),
                    "duration": round(sum(c.duration or 0.0 for c in done), 3),
                    "provider": manifest.tts_provider if manifest else None,
                    "voice": manifest.voice if manifest else None,
                    "format": manifest.format if manifest else None,
                    "updatedAt": manifest.updated_at if manifest else None,
                }
            )  # fmt: skip
        return rows

    def stats(self) -> dict[str, Any]:
        from preread.lifecycle import store_stats

        return store_stats(self.store, max_bytes=self.settings.max_bytes)

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

        return delete_document(self.store, document_id)

    def delete(self, document_id: str) -> Eviction:
        """Remove a document's audio and its registration (shared blobs stay)."""
        if document_id not in self.known_ids():
            raise NotFound(f"document {document_id[:12]} is not in the store")
        result = self.delete_audio(document_id)
        self.store.unregister(document_id)
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

    # -- hooks into the cache lifecycle -------------------------------------------------------
    def note_use(self, document_id: str) -> None:
        """Mark the document used (LRU); written at most once a minute."""
        from preread.lifecycle import record_use

        record_use(self.store, document_id)

    def note_written(self, nbytes: int) -> None:
        if self.cleaner is not None and nbytes:
            self.cleaner.notify_written(nbytes)

    def close(self) -> None:
        if self.cleaner is not None:
            self.cleaner.close(timeout=5.0)
            self.cleaner = None
        with self._lock:
            providers, self._providers = list(self._providers.values()), {}
            self._makers.clear()
        for provider in providers:
            provider.close()


def _find_block(
    blocks: tuple[Block, ...], *, index: int | None, page: int | None, block: int | None
) -> Block | None:
    for candidate in blocks:
        if index is not None:
            if candidate.index == index:
                return candidate
        elif candidate.page == page and candidate.block_index == block:
            return candidate
    return None


def _no_block(document_id: str, index: int | None, page: int | None, block: int | None) -> str:
    where = f"index {index}" if index is not None else f"page {page} block {block}"
    return f"document {document_id[:12]} has no block at {where}"
