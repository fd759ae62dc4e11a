"""A library's missing chunks: one chunk made (or put back) when it is asked for.

``MissingChunks`` is the part of ``preread.library.Library`` behind the live
fallback: which block a missing chunk is of and with which voice to make it
(``chunk_target``), making it once across instances (``ensure_chunk``) and putting
its file back from the shared tier without synthesis (``restore_chunk``);
``Library`` inherits it.
"""

from __future__ import annotations

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
        blob), then shared.
        """
        new_key = None
        claimed = False
        if self.shared is not None:
            manifest = self.store.read_manifest(document_id)
            wanted = manifest.chunk(index) if manifest is not None else None
            if wanted is not None:
                new_key = self.shared.fetch_missing(self.blobs, wanted.text, voice)
            if new_key is not None:
                claimed = self.shared.claim(new_key)
                if not claimed and self.shared.wait_for_blob(
                    new_key, voice.format, self.shared.claim_ttl
                ):
                    new_key = None  # another instance made it: linked from its blob
        maker = self.engines.maker(voice.provider)
        try:
            entry = maker.make(document_id, index, voice, on_audio=on_audio)
        finally:
            if self.shared is not None and new_key is not None:
                if claimed:
                    self.shared.release(new_key, voice.format)
                else:
                    self.shared.push_blob(new_key, voice.format)
        self.note_use(document_id)
        self.note_written(entry.bytes or 0)
        if self.shared is not None:
            self._share_document(document_id, registration=False)
        return entry

    def restore_chunk(
        self, document_id: str, *, index: int | None, page: int | None, block: int | None
    ) -> bool:
        """Put a missing chunk file back from the shared tier's blob, never synthesizing.

        True when the chunk is now on the local disk (served like any stored chunk).
        """
        if self.shared is None:
            return False
        try:
            manifest = self.manifest(document_id)
            entry = find_entry(manifest, index=index, page=page, block=block) if manifest else None
            if manifest is None or entry is None:
                return False
            voice = self.voice_of(manifest)
            if self.shared.fetch_missing(self.blobs, entry.text, voice) is not None:
                return False  # neither tier has it
            self.engines.maker(voice.provider).make(document_id, entry.index, voice)
        except PrereadError:
            return False
        self.note_use(document_id)
        return True
