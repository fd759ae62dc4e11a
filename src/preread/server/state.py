"""What the server shares between requests: settings, store, provider, caches, pools.

``ServerOptions`` holds the server's own limits (body sizes, pool sizes, rate
limits), with defaults; ``ServerState`` is built once by ``create_app`` and
reached from a request as ``state_of(request)``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from starlette.requests import Request

from preread.errors import Conflict, NotFound
from preread.manifest import ChunkEntry, Manifest
from preread.model import Block
from preread.server.live import LiveGenerator
from preread.server.manifests import CachedManifest, ManifestCache, safe_chunk_name
from preread.server.metrics import Metrics
from preread.server.ratelimit import RateLimiter
from preread.settings import Settings, VoiceSettings
from preread.store import Store
from preread.tts.base import AudioChunk, Provider, ResolvedVoice


@dataclass(frozen=True)
class ServerOptions:
    max_upload_bytes: int = 100 * 2**20  # POST /api/documents
    max_json_bytes: int = 2**20  # JSON request bodies
    max_speech_chars: int = 4096  # /v1/audio/speech input (OpenAI's own limit)
    whole_file_limit: int = 2**20  # responses up to this size are read whole
    stream_piece: int = 256 * 2**10  # larger ones are sent in pieces of this size
    live_workers: int = 1  # live generations at once (each uses the engine's threads)
    live_queue: int = 8  # live generations waiting; past this, 503
    live_per_minute: float = 60.0  # per-client live generations a minute (0: no limit)
    live_burst: int = 20
    retry_after: float = 5.0
    job_workers: int = 1  # preprocess jobs at once (one document per worker)
    manifest_cache: int = 64
    access_log: bool = True
    cleaner_debounce: float = 5.0
    cleaner_interval: float | None = 600.0
    extra: dict[str, Any] = field(default_factory=dict)


class ServerState:
    def __init__(
        self, settings: Settings, options: ServerOptions, provider: Provider | None
    ) -> None:
        self.settings = settings
        self.options = options
        self.store = Store(settings.home)
        self.metrics = Metrics()
        self.manifests = ManifestCache(self.store, options.manifest_cache)
        self.limiter = RateLimiter(options.live_per_minute, options.live_burst)
        self._provider = provider
        self._provider_lock = threading.Lock()
        self._maker: Any = None
        self.live = LiveGenerator(
            make=self._make_chunk,
            read_chunk=self.read_chunk,
            metrics=self.metrics,
            workers=options.live_workers,
            queue_limit=options.live_queue,
            retry_after=options.retry_after,
        )
        self.jobs: Any = None  # preread.server.jobs.JobManager, set by create_app
        self.cleaner: Any = None  # preread.lifecycle.BackgroundCleaner, started with the app
        self.store_size_cache: tuple[float, int] | None = None
        self.speech_locks: dict[str, asyncio.Lock] = {}
        self.speech_waiting = 0
        self._providers: dict[str, Provider] = {}
        self.started = time.time()

    # -- the engine, loaded once, on first need -----------------------------------------
    def provider(self) -> Provider:
        with self._provider_lock:
            if self._provider is None:
                from preread.tts import make_provider

                self._provider = make_provider(self.settings)
            return self._provider

    def provider_for(self, name: str) -> Provider:
        """The provider called ``name``: the server's own, or another one built once."""
        if name == self.settings.voice.provider:
            return self.provider()
        with self._provider_lock:
            if name not in self._providers:
                from preread.tts import make_provider

                voice = replace(self.settings.voice, provider=name)
                self._providers[name] = make_provider(replace(self.settings, voice=voice))
            return self._providers[name]

    def chunk_maker(self) -> Any:
        provider = self.provider()
        with self._provider_lock:
            if self._maker is None:
                from preread.generate import ChunkMaker

                self._maker = ChunkMaker(self.store, provider)
            return self._maker

    def _make_chunk(
        self,
        document_id: str,
        index: int,
        voice: ResolvedVoice,
        on_audio: Callable[[AudioChunk], None],
    ) -> ChunkEntry:
        entry: ChunkEntry = self.chunk_maker().make(document_id, index, voice, on_audio=on_audio)
        self.note_use(document_id)
        self.note_written(entry.bytes or 0)
        return entry

    # -- hooks into the cache lifecycle (preread.lifecycle) -------------------------------
    def note_use(self, document_id: str) -> None:
        """Mark the document used (LRU); ``record_use`` writes at most once a minute."""
        from preread.lifecycle import record_use

        record_use(self.store, document_id)

    def note_written(self, nbytes: int) -> None:
        if self.cleaner is not None and nbytes:
            self.cleaner.notify_written(nbytes)

    # -- what a chunk request refers to ---------------------------------------------------
    def live_target(
        self,
        document_id: str,
        cached: CachedManifest | None,
        *,
        index: int | None,
        page: int | None,
        block: int | None,
        prepare: bool = True,
    ) -> tuple[int, ResolvedVoice]:
        """The manifest index and voice to generate a missing chunk with.

        A block is known when the manifest lists it, or (no manifest yet) when the
        registered document has it; then a manifest is written for the server's
        voice. NotFound otherwise; Conflict when the manifest's provider is not ours.
        """
        provider = self.provider()
        if cached is not None:
            entry = cached.find(index=index, page=page, block=block)
            if entry is None:
                raise NotFound(self._not_in_manifest(document_id, index, page, block))
            if not safe_chunk_name(entry.file_name):
                raise NotFound(f"chunk {entry.index} has a bad file name in its manifest")
            made_by = cached.manifest.tts_provider
            if made_by != provider.name:
                raise Conflict(
                    f"chunk {entry.index} of {document_id[:12]} is not generated and its audio"
                    f" is for provider {made_by}, not this server's {provider.name}"
                )
            return entry.index, voice_of(cached.manifest, provider)
        document = self.store.read_registration(document_id)
        if document is None:
            raise NotFound(f"no document {document_id} (register it or preprocess it first)")
        found = _find_block(document.blocks, index=index, page=page, block=block)
        if found is None:
            raise NotFound(_no_block(document_id, index, page, block))
        voice = provider.resolve(self.settings.voice)
        if prepare:  # not for a HEAD request: it only asks
            from preread.preprocess import prepare_manifest

            prepare_manifest(self.store, document, voice)
        return found.index, voice

    def _not_in_manifest(
        self, document_id: str, index: int | None, page: int | None, block: int | None
    ) -> str:
        """Why a block the manifest lacks is not found: not in the document, or not selected."""
        document = self.store.read_registration(document_id) if page is not None else None
        if document is not None and _find_block(
            document.blocks, index=None, page=page, block=block
        ):
            return (
                f"page {page} block {block} of {document_id[:12]} is outside the pages its"
                " audio was made for: POST /api/tts/preprocess with those pages"
            )
        return _no_block(document_id, index, page, block)

    def chunk_path(self, document_id: str, entry: ChunkEntry) -> Path:
        return self.store.chunks_dir(document_id) / entry.file_name

    def read_chunk(self, document_id: str, entry: ChunkEntry) -> bytes:
        """A stored chunk's bytes (never through a symlink); NotFound if not whole."""
        from preread.server.filebody import open_chunk, read_whole

        if not safe_chunk_name(entry.file_name):
            raise NotFound(f"chunk {entry.index} has a bad file name in its manifest")
        opened = open_chunk(self.chunk_path(document_id, entry), entry.bytes)
        if opened is None:
            raise NotFound(f"chunk {entry.index} of {document_id[:12]} is not a whole file")
        return read_whole(*opened)

    def close(self) -> None:
        self.live.shutdown()
        if self.cleaner is not None:
            self.cleaner.close(timeout=5.0)
        for provider in [self._provider, *self._providers.values()]:
            if provider is not None:
                provider.close()


def voice_of(manifest: Manifest, provider: Provider) -> ResolvedVoice:
    """The voice the manifest's audio was made with, as ``provider`` resolves it (so the
    content key has what the manifest does not record, e.g. a compatible endpoint)."""
    return provider.resolve(
        VoiceSettings(
            provider=manifest.tts_provider,
            model=manifest.tts_model,
            voice=manifest.voice,
            speed=manifest.native_speed,
            format=manifest.format,
            instructions=manifest.instructions,
        )
    )


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


def state_of(request: Request) -> ServerState:
    state: ServerState = request.app.state.preread
    return state
