"""An assembled answer, encoded and sent piece by piece as it is built.

``AnswerStream`` is made once everything that can fail for want of a blob or a voice
is done (the blobs it cuts from are claimed and read into memory, checked against
their sidecars; gaps are synthesized), so nothing is missing after its first byte.
Its length in samples is known then, which an MP3 stream needs up front
(``preread.stream_encoder``). Pieces are decoded, cut, faded and encoded one block
at a time; the encoded bytes are kept as they go out, and when the last of them is
made the whole answer is stored under the request's key (``close``), so the same
request is a HIT. An answer abandoned midway (its client went away) stores nothing.

Decoded blobs are kept in a small LRU (``DecodedBlobs``, ``PCM_CACHE_BYTES``): a
reader's next request usually cuts from the blob its last one ended in.
"""

from __future__ import annotations

import io
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import soundfile as sf

from preread.blobs import BlobInfo, BlobStore, fit_to_duration
from preread.manifest import SentenceTime
from preread.stream_encoder import stream_encoder

log = logging.getLogger(__name__)

PCM_CACHE_BYTES = 24 << 20  # ≈ 9 minutes of 22,050 Hz speech
FIRST_BLOCK = 4096  # samples encoded before the first bytes go out (≈ 0.19 s at 22 kHz)
BLOCK = 16384  # then this many at a time


@dataclass(frozen=True)
class Piece:
    """One stretch of the answer: ``length`` samples at the stream's rate, made by
    ``render`` (decoded or synthesized, cut, resampled, faded) when it is its turn."""

    text: str
    length: int
    render: Callable[[], np.ndarray]


class DecodedBlobs:
    """Blobs decoded to int16 PCM, the most recently used kept within ``budget`` bytes."""

    def __init__(self, budget: int = PCM_CACHE_BYTES) -> None:
        self.budget = budget
        self._lock = threading.Lock()
        self._pcm: OrderedDict[str, tuple[np.ndarray, int]] = OrderedDict()
        self._bytes = 0

    def shape(self, key: str, data: bytes) -> tuple[int, int]:
        """(sample rate, samples) of a blob, from its header unless it is decoded."""
        with self._lock:
            found = self._pcm.get(key)
        if found is not None:
            return found[1], len(found[0])
        with sf.SoundFile(io.BytesIO(data)) as audio:
            return int(audio.samplerate), int(audio.frames)

    def get(self, key: str, data: bytes) -> tuple[np.ndarray, int]:
        """The blob's samples (read-only) and rate, decoded now unless kept."""
        with self._lock:
            found = self._pcm.get(key)
            if found is not None:
                self._pcm.move_to_end(key)
                return found
        samples, rate = sf.read(io.BytesIO(data), dtype="int16", always_2d=False)
        pcm = np.asarray(samples, dtype=np.int16)
        pcm.flags.writeable = False
        with self._lock:
            if key not in self._pcm and pcm.nbytes <= self.budget:
                self._pcm[key] = (pcm, int(rate))
                self._bytes += pcm.nbytes
                while self._bytes > self.budget:
                    _, (dropped, _) = self._pcm.popitem(last=False)
                    self._bytes -= dropped.nbytes
        return pcm, int(rate)


decoded_blobs = DecodedBlobs()


class AnswerStream:
    """The encoded bytes of an assembled answer, made one block at a time (``next``).

    ``next`` and ``close`` are called from worker threads, one at a time. ``close``
    must be called once the answer is sent or abandoned: a whole answer is stored
    then (blobs are never replaced: an existing blob wins), and ``on_closed`` runs.
    """

    def __init__(
        self,
        blobs: BlobStore,
        key: str,
        fmt: str,
        rate: int,
        pieces: list[Piece],
        voice: str,
        *,
        on_stored: Callable[[BlobInfo], None] | None = None,
        on_closed: Callable[[], None] | None = None,
    ) -> None:
        self.blobs, self.key, self.format, self.rate = blobs, key, fmt, rate
        self.pieces, self.voice = pieces, voice
        self.total = sum(p.length for p in pieces)
        self.on_stored, self.on_closed = on_stored, on_closed
        self._made: list[bytes] = []
        self._blocks = self._encode()
        self._complete = False
        self._closed = False
        self._lock = threading.Lock()

    def _encode(self) -> Iterator[bytes]:
        encoder = stream_encoder(self.format, self.rate, self.total)
        block = FIRST_BLOCK
        for piece in self.pieces:
            samples = piece.render()
            if len(samples) != piece.length:  # a decoder off by a few samples: keep the promise
                fixed = np.zeros(piece.length, dtype=np.int16)
                fixed[: min(len(samples), piece.length)] = samples[: piece.length]
                samples = fixed
            at = 0
            while at < len(samples):
                out = encoder.feed(samples[at : at + block])
                at, block = at + block, BLOCK
                if out:
                    yield out
        out = encoder.finish()
        if out:
            yield out

    def next(self) -> bytes | None:
        """The next encoded bytes; None when the answer is whole."""
        with self._lock:
            if self._closed or self._complete:
                return None
            out = next(self._blocks, None)
            if out is None:
                self._complete = True
                return None
            self._made.append(out)
            return out

    def __iter__(self) -> Iterator[bytes]:
        while (out := self.next()) is not None:
            yield out

    def times(self) -> list[SentenceTime]:
        out, position = [], 0
        for piece in self.pieces:
            end = position + piece.length
            out.append(SentenceTime(piece.text, position / self.rate, end / self.rate))
            position = end
        return out

    def close(self) -> None:
        """Store the answer if it is whole (else drop it), then ``on_closed``; once."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            complete, made = self._complete, self._made
            self._made = []
        try:
            if complete:
                self._store(b"".join(made))
        except OSError as exc:  # a full disk: the answer was sent, it is not kept
            log.warning("an assembled answer was not stored: %s", exc)
        finally:
            self._blocks = iter(())
            if self.on_closed is not None:
                self.on_closed()

    def _store(self, data: bytes) -> None:
        from preread.audio import duration_of

        duration = duration_of(data, self.format)
        if self.format == "mp3" and abs(duration - self.total / self.rate) > 0.002:
            log.warning("an assembled answer's length is off (%.3f s): not stored", duration)
            return
        times = fit_to_duration(self.times(), duration)
        info = self.blobs.write(self.key, self.format, data, duration, times, voice=self.voice)
        if self.on_stored is not None:
            self.on_stored(info)
