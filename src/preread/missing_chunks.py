"""A library's missing chunks: one chunk made (or put back) when it is asked for.

``MissingChunks`` is the part of ``preread.library.Library`` behind the live
fallback: which block a missing chunk is of and with which voice to make it
(``chunk_target``), making it once across instances (``ensure_chunk``) and putting
its file back from the shared tier without synthesis (``restore_chunk``);
``Library`` inherits it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from preread.blobs import BlobStore
from preread.chunk_folder import (
    find_block,
    find_entry,
    list_every_block,
    no_block,
    not_listed,
    prepare_manifest,
)
from preread.engines import Engines
from preread.errors import Conflict, NotFound, PrereadError
from preread.manifest import ChunkEntry, Manifest
from preread.model import Block, DocumentText
from preread.settings import Settings
from preread.shared import SharedTier
from preread.store import Store
from preread.tts.base import AudioChunk, Provider
from preread.voice import ResolvedVoice


class MissingChunks:
    settings: Settings
    store: Store
    blobs: BlobStore
    shared: SharedTier | None
    engines: Engines

    if TYPE_CHECKING:  # provided by ``Library`` and ``Upkeep``

        def provider(self) -> Provider: ...

        def voice_of(self, manifest: Manifest) -> ResolvedVoice: ...

        def spoken_key(self, manifest: Manifest, entry: ChunkEntry) -> str: ...

        def registration(self, document_id: str) -> DocumentText | None: ...

        def registered(self, document_id: str) -> DocumentText | None: ...

        def manifest(self, document_id: str) -> Manifest | None: ...

        def _share_document(self, document_id: str, *, registration: bool = True) -> None: ...

        def note_use(self, document_id: str) -> None: ...

        def note_written(self, nbytes: int) -> None: ...

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
            entry = find_entry(manifest, index=index, page=page, block=block)
            if entry is None and prepare and index is None:
                document = self.registered(document_id)
                if document is not None:
                    voice = self.voice_of(manifest)
                    entry = list_every_block(self.store, document, voice, page, block)
            if entry is None:
                known = self.registration(document_id) if page is not None else None
                raise NotFound(not_listed(document_id, known, index, page, block))
            if manifest.tts_provider != provider.name:
                raise Conflict(
                    f"chunk {entry.index} of {document_id[:12]} is not generated and its audio"
                    f" is for provider {manifest.tts_provider}, not this server's {provider.name}"
                )
            return entry, self.voice_of(manifest)
        document = self.registration(document_id)
        if document is None:
            raise NotFound(f"no document {document_id} (register it or preprocess it first)")
        found = find_block(document.blocks, index=index, page=page, block=block)
        if found is None:
            raise NotFound(no_block(document_id, index, page, block))
        voice = provider.resolve(self.settings.voice)
        if prepare:  # not for a HEAD request: it only asks
            prepare_manifest(self.store, document, voice)
            self._share_document(document_id, registration=False)
        return found, voice

    def ensure_chunk(
        self,
        document_id: str,
        index: int,
        voice: ResolvedVoice,
        on_audio: Callable[[AudioChunk], None] | None = None,
    ) -> ChunkEntry:
        """Chunk ``index`` of a document with a manifest: made (and recorded) if missing.

        With a shared tier, a blob it has is fetched first (no synthesis); one neither
        has is made by one instance only (a claim in the tier; the others wait for its
        blob, or, when a fallback voice spoke it, take the chunk the tier's manifest
        records), then shared.
        """
        new_key = None
        claimed = False
        manifest: Manifest | None = None
        if self.shared is not None:
            manifest = self.store.read_manifest(document_id)
            wanted = manifest.chunk(index) if manifest is not None else None
            if wanted is not None:
                new_key = self.shared.fetch_missing(self.blobs, wanted.text, voice)
            if new_key is not None:
                claimed = self.shared.claim(new_key)
                if not claimed:
                    if self.shared.wait_for_blob(new_key, voice.format, self.shared.claim_ttl):
                        new_key = None  # another instance made it: linked from its blob
                    else:
                        made = self._made_elsewhere(document_id, index)
                        if made is not None:  # by a fallback: its blob, linked here
                            self.note_use(document_id)
                            return made
        maker = self.engines.maker(voice.provider)
        entry: ChunkEntry | None = None
        try:
            entry = maker.make(document_id, index, voice, on_audio=on_audio)
        finally:
            if self.shared is not None and new_key is not None:
                spoken = None
                if manifest is not None and entry is not None and entry.spoken_by is not None:
                    with contextlib.suppress(PrereadError):  # (the claim is released anyway)
                        spoken = self.spoken_key(manifest, entry)  # a fallback's: its own key
                if claimed:  # (with the manifest when the waiters need it)
                    shared = document_id if spoken is not None else None
                    self.shared.release(new_key, voice.format, spoken=spoken, document_id=shared)
                else:
                    for key in (new_key, spoken):
                        if key is not None:
                            self.shared.push_blob(key, voice.format)
        self.note_use(document_id)
        self.note_written(entry.bytes or 0)
        if self.shared is not None:
            self._share_document(document_id, registration=False)
        return entry

    def restore_chunk(
        self, document_id: str, *, index: int | None, page: int | None, block: int | None
    ) -> bool:
        """Put a missing chunk file back from the shared tier's blob, never synthesizing.

        A done chunk is linked to the blob of the voice that spoke it (a fallback's
        too) when that blob holds the audio the manifest records. True when the chunk is
        now on the local disk (served like any stored chunk).
        """
        if self.shared is None:
            return False
        try:
            manifest = self.manifest(document_id)
            entry = find_entry(manifest, index=index, page=page, block=block) if manifest else None
            if manifest is None or entry is None:
                return False
            if entry.status == "done" and entry.sha256:
                restored = self._link_done(manifest, entry)
            else:  # not made yet here: the blob of its text in the document's voice
                voice = self.voice_of(manifest)
                if self.shared.fetch_missing(self.blobs, entry.text, voice) is not None:
                    return False  # neither tier has it
                self.engines.maker(voice.provider).make(document_id, entry.index, voice)
                restored = True
        except PrereadError:
            return False
        if restored:
            self.note_use(document_id)
        return restored

    def _made_elsewhere(self, document_id: str, index: int) -> ChunkEntry | None:
        """After another instance's claim on chunk ``index`` ended without a blob in the
        asked voice: the chunk as the tier's manifest records it (a fallback spoke it),
        linked here; None when it is not done there, or its blob is not the recorded one."""
        assert self.shared is not None
        self.shared.refresh_manifest(document_id)
        manifest = self.store.read_manifest(document_id)
        entry = manifest.chunk(index) if manifest is not None else None
        if manifest is None or entry is None or entry.status != "done" or not entry.sha256:
            return None
        try:
            return entry if self._link_done(manifest, entry) else None
        except PrereadError:  # (the blob changed while it was linked): made here then
            return None

    def _link_done(self, manifest: Manifest, entry: ChunkEntry) -> bool:
        """Link a done chunk's file to its blob, brought from the shared tier when this
        disk lacks it; only when the blob holds the audio the manifest records (a local
        blob of other bytes is kept, not served for it)."""
        assert self.shared is not None
        key = self.spoken_key(manifest, entry)
        info = self.blobs.read(key, manifest.format)
        if info is None:
            info = self.shared.fetch_blob(key, manifest.format, entry.sha256)
        if info is None or info.sha256 != entry.sha256:
            return False
        document_id = manifest.document_id
        with self.store.manifest_lock(document_id):  # not while a run changes the manifest
            now = self.store.read_manifest(document_id)
            current = now.chunk(entry.index) if now is not None else None
            if current is None or current.sha256 != entry.sha256:
                return False
            if current.file_name != entry.file_name:
                return False
            self.blobs.link(info, self.store.chunks_dir(document_id) / entry.file_name)
        return True
