"""What the server shares between requests: settings, the library, caches, pools.

``ServerOptions`` holds the server's own limits (body sizes, pool sizes, rate
limits), with defaults; ``ServerState`` is built once by ``create_app`` and
reached from a request as ``state_of(request)``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.requests import Request

from preread.errors import NotFound
from preread.jobqueue import JobQueue
from preread.library import Library
from preread.manifest import ChunkEntry
from preread.server.export_jobs import ExportJobs
from preread.server.jobs import InProcessQueue
from preread.server.live import LiveGenerator
from preread.server.manifests import CachedManifest, ManifestCache, safe_chunk_name
from preread.server.metrics import Metrics
from preread.server.ratelimit import RateLimiter
from preread.settings import Settings
from preread.tts.base import Provider
from preread.voice import ResolvedVoice


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
        self,
        settings: Settings,
        options: ServerOptions,
        provider: Provider | None,
        jobs: JobQueue | None = None,
    ) -> None:
        self.settings = settings
        self.options = options
        self.library = Library(settings, provider=provider)
        self.metrics = Metrics()
        listeners = self.library.engines.listeners  # synthesis times, fallbacks
        listeners.synthesized.append(self.metrics.synthesized)
        listeners.fell_back.append(self.metrics.fell_back)
        self.manifests = ManifestCache(self.library, options.manifest_cache)
        self.limiter = RateLimiter(options.live_per_minute, options.live_burst)
        self.live = LiveGenerator(
            make=self.library.ensure_chunk,
            read_chunk=self.read_chunk,
            metrics=self.metrics,
            workers=options.live_workers,
            queue_limit=options.live_queue,
            retry_after=options.retry_after,
        )
        if jobs is None and settings.queue_url:
            from preread.pgqueue import PostgresQueue

            jobs = PostgresQueue(settings.queue_url, on_end=self._job_ended)
        self.jobs: JobQueue = (
            jobs if jobs is not None else InProcessQueue(self.library, workers=options.job_workers)
        )
        self.exports = ExportJobs(self.library)  # export jobs: local to this store's processes
        self.store_size_cache: tuple[float, int] | None = None
        self.speech_waiting = 0
        self.started = time.time()
        # stored chunks this process answered before the Starlette stack, by who answered
        # (``preread.server.fastpath``): the HTTP protocol itself, or the ASGI fast path
        self.fast_answers = {"protocol": 0, "asgi": 0}

    def _job_ended(self, document_id: str) -> None:
        """A queue worker (maybe on another machine) ended a job: its manifest from the
        shared tier, and the cached one forgotten."""
        self.library.refresh_manifest(document_id)
        self.manifests.forget(document_id)

    # -- the engine, loaded once, on first need -----------------------------------------
    def provider(self) -> Provider:
        return self.library.provider()

    def provider_for(self, name: str) -> Provider:
        """The provider called ``name``: the server's own, or another one built once."""
        return self.library.provider_for(name)

    # -- hooks into the cache lifecycle (preread.lifecycle) -------------------------------
    def note_use(self, document_id: str) -> None:
        """Mark the document used (LRU); ``record_use`` writes at most once a minute."""
        self.library.note_use(document_id)

    def note_written(self, nbytes: int) -> None:
        self.library.note_written(nbytes)

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
        """The manifest index and voice to generate a missing chunk with
        (``Library.chunk_target``); NotFound for a chunk name that is not a plain name."""
        target, voice = self.library.chunk_target(
            document_id,
            cached.manifest if cached is not None else None,
            index=index,
            page=page,
            block=block,
            prepare=prepare,
        )
        if isinstance(target, ChunkEntry) and not safe_chunk_name(target.file_name):
            raise NotFound(f"chunk {target.index} has a bad file name in its manifest")
        return target.index, voice

    def chunk_path(self, document_id: str, entry: ChunkEntry) -> Path:
        return self.library.chunk_path(document_id, entry)

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
        self.library.close()
        self.metrics.close()


def state_of(request: Request) -> ServerState:
    state: ServerState = request.app.state.preread
    return state
