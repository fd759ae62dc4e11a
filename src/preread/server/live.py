"""Live generation of missing chunks: single flight, a bounded pool, a queue limit.

``LiveGenerator.start(document_id, index, voice)`` returns the ``Flight`` making
that chunk, starting one only if none is under way (however many requests ask
at once, the chunk is synthesized once: ``preread.flights.Flights`` keyed by
chunk). A flight runs in a worker thread of a bounded pool, independent of any
request: a client that disconnects cancels nothing. Past ``workers + queue_limit``
flights, ``Busy`` (503 + Retry-After).

The flight makes the chunk through ``make`` (``ChunkMaker.make``: the same code
as ``preprocess``, which stores and records it, under the content key's flight it
shares with preprocess jobs and ``/v1/audio/speech``) and, for MP3, encodes each
sentence's PCM as it arrives, so listeners get audio after the first sentence (its
first quarter second encoded and sent before the rest of it).
When no PCM arrives (the content store already had the audio) or the format is
Opus, the stored file's bytes are streamed instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
import traceback
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor

from preread.errors import Busy, PrereadError, SynthesisFailed
from preread.flights import Flights
from preread.manifest import ChunkEntry
from preread.server.live_audio import LiveMp3Encoder
from preread.server.metrics import Metrics
from preread.tts.base import AudioChunk
from preread.voice import ResolvedVoice

# Seconds of the first sentence encoded and sent before the rest of it: encoding a whole
# first sentence (2-3 s of audio) took 34-56 ms before any byte could leave, its first
# quarter second 5-7 ms; the MP3 stream is byte for byte the same however it is fed.
FIRST_SLICE = 0.25

MakeChunk = Callable[[str, int, ResolvedVoice, Callable[[AudioChunk], None]], ChunkEntry]
ReadChunk = Callable[[str, ChunkEntry], bytes]


class Flight:
    """One chunk being made; any number of listeners read its bytes from the start."""

    def __init__(self, key: tuple[str, int, str], loop: asyncio.AbstractEventLoop) -> None:
        self.key = key
        self.loop = loop
        self.pieces: list[bytes] = []
        self.done = False
        self.error: PrereadError | None = None
        self.entry: ChunkEntry | None = None
        self._waiters: list[asyncio.Future[None]] = []

    # called on the event loop (the worker thread posts with call_soon_threadsafe)
    def _push(self, piece: bytes) -> None:
        if piece:
            self.pieces.append(piece)
            self._wake()

    def _finish(self, entry: ChunkEntry | None, error: PrereadError | None) -> None:
        self.entry, self.error, self.done = entry, error, True
        self._wake()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _changed(self) -> None:
        waiter: asyncio.Future[None] = self.loop.create_future()
        self._waiters.append(waiter)
        await waiter

    async def ready(self) -> None:
        """Wait for the first bytes; raise the flight's error if it failed before any."""
        while not self.pieces and not self.done:
            await self._changed()
        if not self.pieces and self.error is not None:
            raise self.error

    async def stream(self) -> AsyncIterator[bytes]:
        position = 0
        while True:
            while position < len(self.pieces):
                yield self.pieces[position]
                position += 1
            if self.done:
                if self.error is not None:  # failed mid-stream: cut the response short
                    raise self.error
                return
            await self._changed()


class LiveGenerator:
    def __init__(
        self,
        *,
        make: MakeChunk,
        read_chunk: ReadChunk,
        metrics: Metrics,
        workers: int = 1,
        queue_limit: int = 8,
        retry_after: float = 5.0,
    ) -> None:
        self.make = make
        self.read_chunk = read_chunk
        self.metrics = metrics
        self.workers = max(1, workers)
        self.queue_limit = max(0, queue_limit)
        self.retry_after = retry_after
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="preread-live")
        self._flights: Flights[Flight] = Flights()

    @property
    def in_flight(self) -> int:
        return len(self._flights)

    def start(self, document_id: str, index: int, voice: ResolvedVoice) -> Flight:
        """The flight making this chunk: joined if under way, else started (or Busy)."""
        key = (document_id, index, voice.key_material())
        if key not in self._flights and len(self._flights) >= self.workers + self.queue_limit:
            raise Busy(
                f"{len(self._flights)} live generations are running or queued; retry later",
                retry_after=self.retry_after,
            )
        loop = asyncio.get_running_loop()
        flight, started = self._flights.join(key, lambda: Flight(key, loop))
        if started:
            self.metrics.live_running(len(self._flights))
            self._pool.submit(self._work, flight, document_id, index, voice)
        return flight

    def _post(self, flight: Flight, piece: bytes) -> None:
        with contextlib.suppress(RuntimeError):  # a closed loop: the server is stopping
            flight.loop.call_soon_threadsafe(flight._push, piece)

    def _end(self, flight: Flight, entry: ChunkEntry | None, error: PrereadError | None) -> None:
        def finish() -> None:
            self._flights.land(flight.key)
            self.metrics.live_running(len(self._flights))
            flight._finish(entry, error)

        with contextlib.suppress(RuntimeError):
            flight.loop.call_soon_threadsafe(finish)

    def _work(self, flight: Flight, document_id: str, index: int, voice: ResolvedVoice) -> None:
        started = time.perf_counter()
        first_audio: float | None = None
        encoder = LiveMp3Encoder() if voice.format == "mp3" else None

        def on_audio(chunk: AudioChunk) -> None:
            nonlocal first_audio
            if encoder is None:
                return
            pcm = chunk.pcm
            if first_audio is None:  # its first quarter second out first (see FIRST_SLICE)
                cut = 2 * int(chunk.sample_rate * FIRST_SLICE)
                pieces = (pcm[:cut], pcm[cut:]) if len(pcm) > cut else (pcm,)
            else:
                pieces = (pcm,)
            for piece in pieces:
                data = encoder.feed(piece, chunk.sample_rate)
                if data and first_audio is None:
                    first_audio = time.perf_counter() - started
                self._post(flight, data)

        entry: ChunkEntry | None = None
        error: PrereadError | None = None
        try:
            entry = self.make(document_id, index, voice, on_audio)
            if encoder is not None and encoder.fed:
                self._post(flight, encoder.close())
            else:  # nothing synthesized here (reused audio) or not streamable: the file
                data = self.read_chunk(document_id, entry)
                if first_audio is None:
                    first_audio = time.perf_counter() - started
                self._post(flight, data)
        except PrereadError as exc:
            error = exc
        except Exception as exc:  # a bug or an engine crash: reported, never a hang
            print(f"preread: live generation failed: {exc!r}", file=sys.stderr)
            traceback.print_exception(exc, file=sys.stderr)
            error = SynthesisFailed(f"live generation failed: {type(exc).__name__}")
        finally:
            self.metrics.live_done(first_audio, time.perf_counter() - started, error is None)
            self._end(flight, entry, error)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
