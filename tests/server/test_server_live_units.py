"""The live generator and the live MP3 stream, without HTTP."""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Callable

import numpy as np
import pytest
import soundfile as sf

from preread.errors import Busy, SynthesisFailed
from preread.manifest import ChunkEntry
from preread.server.live import LiveGenerator
from preread.server.live_audio import LiveMp3Encoder
from preread.server.metrics import Metrics
from preread.tts.base import AudioChunk
from preread.voice import ResolvedVoice

VOICE = ResolvedVoice("fake", "tone-1", "tone", 1.0, "mp3")


def tone(seconds: float, rate: int = 22050) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * 330 * t) * 8000).astype("<i2").tobytes()


def test_live_mp3_stream_decodes_to_the_audio_fed() -> None:
    encoder = LiveMp3Encoder()
    pieces = [encoder.feed(tone(1.5), 22050) for _ in range(3)]
    assert all(pieces)  # bytes come out after each sentence, not only at the end
    data = b"".join(pieces) + encoder.close()
    samples, rate = sf.read(io.BytesIO(data), dtype="int16")
    assert abs(len(samples) / rate - 4.5) < 0.1
    assert np.abs(samples).max() > 4000


def run_generator(
    make: Callable[..., ChunkEntry], body: Callable[[LiveGenerator], object]
) -> object:
    async def main() -> object:
        live = LiveGenerator(
            make=make,
            read_chunk=lambda d, e: b"stored",
            metrics=Metrics(),
            workers=1,
            queue_limit=0,
        )
        try:
            result = body(live)
            if asyncio.iscoroutine(result):
                return await result
            return result
        finally:
            live.shutdown()

    return asyncio.run(main())


def test_first_audio_is_streamed_before_the_chunk_is_done() -> None:
    release = threading.Event()
    entry = ChunkEntry(0, 1, 0, "x", "0001__page-001__block-000.mp3", status="done")

    def make(
        doc: str, index: int, voice: ResolvedVoice, on_audio: Callable[[AudioChunk], None]
    ) -> ChunkEntry:
        on_audio(AudioChunk("one", tone(1.0), 22050))
        release.wait(10)
        on_audio(AudioChunk("two", tone(1.0), 22050))
        return entry

    async def body(live: LiveGenerator) -> None:
        flight = live.start("a" * 64, 0, VOICE)
        assert live.start("a" * 64, 0, VOICE) is flight  # joined, not started twice
        with pytest.raises(Busy):
            live.start("a" * 64, 1, VOICE)
        await asyncio.wait_for(flight.ready(), 5)
        assert flight.pieces and not flight.done
        release.set()
        data = b"".join([piece async for piece in flight.stream()])
        samples, rate = sf.read(io.BytesIO(data), dtype="int16")
        assert abs(len(samples) / rate - 2.0) < 0.1

    run_generator(make, body)


def test_a_failure_before_any_audio_is_raised_to_every_listener() -> None:
    def make(*args: object) -> ChunkEntry:
        raise SynthesisFailed("engine down")

    async def body(live: LiveGenerator) -> None:
        flight = live.start("b" * 64, 0, VOICE)
        with pytest.raises(SynthesisFailed):
            await asyncio.wait_for(flight.ready(), 5)
        assert live.in_flight == 0

    run_generator(make, body)


def test_the_first_quarter_second_leaves_first_and_the_stream_is_unchanged() -> None:
    first, second = tone(2.5), tone(1.0)
    entry = ChunkEntry(0, 1, 0, "x", "0001__page-001__block-000.mp3", status="done")

    def make(
        doc: str, index: int, voice: ResolvedVoice, on_audio: Callable[[AudioChunk], None]
    ) -> ChunkEntry:
        on_audio(AudioChunk("one", first, 22050))
        on_audio(AudioChunk("two", second, 22050))
        return entry

    async def body(live: LiveGenerator) -> list[bytes]:
        flight = live.start("a" * 64, 0, VOICE)
        return [piece async for piece in flight.stream()]

    pieces = run_generator(make, body)
    assert isinstance(pieces, list)
    whole = LiveMp3Encoder()
    first_sentence = whole.feed(first, 22050)
    expected = first_sentence + whole.feed(second, 22050) + whole.close()
    assert b"".join(pieces) == expected  # the same stream, byte for byte
    # what left first is the first quarter second's frames, not the whole sentence's
    assert 0 < len(pieces[0]) < len(first_sentence) / 4
