"""Encoding audio while it is made: PCM goes in piece by piece, encoded bytes come out.

For answers sent as they are built (``preread.speech.stream``): the first bytes leave
after the first piece is encoded, not after the last.

* ``mp3``: LAME 3.100 (``lameenc``), mono, VBR at the input's own rate, fed in
  pieces. Its stream starts with a Xing/LAME tag frame made *before* the audio
  (``preread.mp3frames.lame_tag_frame``): the total sample count is known up front,
  and from it LAME's frame count, encoder delay and padding, so decoders play exactly
  the samples fed (gapless), as they do for the chunks libsndfile encodes (which
  write that frame last, seeking back: no good for a stream). About 3 times less CPU
  than libsndfile's encoder on speech (``bench/bench_reader_requests.py``), ≈ 50 kbit/s.
* ``opus``: libsndfile's Ogg/Opus writer (as ``preread.audio.encode``), whose pages
  are final once written (it never seeks back), at an Opus rate (``stream_rate``:
  the caller resamples its pieces, each whole, to it).
"""

from __future__ import annotations

import io
from typing import Protocol

import numpy as np
import soundfile as sf

from preread.audio import MP3_VBR_LEVEL, OPUS_LEVEL, OPUS_RATES
from preread.errors import BadSettings
from preread.mp3frames import lame_tag_frame

LAME_QUALITY = 5  # LAME's -q: 2 (slow, best) .. 7 (fast); 5 is its "good speed" default
LAME_VBR_MODE = 4  # vbr_mtrh, LAME's default VBR


class StreamEncoder(Protocol):
    sample_rate: int  # of the input PCM

    def feed(self, samples: np.ndarray) -> bytes:
        """Encode int16 mono ``samples``; the encoded bytes ready so far (maybe none)."""
        ...

    def finish(self) -> bytes:
        """The last encoded bytes; the stream is whole after them."""
        ...


class Mp3StreamEncoder:
    def __init__(self, sample_rate: int, total_samples: int) -> None:
        import lameenc

        self.sample_rate = sample_rate
        self.total = total_samples
        self.fed = 0
        self._lame = lameenc.Encoder()
        self._lame.set_in_sample_rate(sample_rate)
        self._lame.set_out_sample_rate(sample_rate)
        self._lame.set_channels(1)
        self._lame.set_quality(LAME_QUALITY)
        self._lame.set_vbr(LAME_VBR_MODE)
        self._lame.set_vbr_quality(round(MP3_VBR_LEVEL * 10))
        self._head = lame_tag_frame(sample_rate, total_samples)

    def feed(self, samples: np.ndarray) -> bytes:
        self.fed += len(samples)
        if self.fed > self.total:
            raise ValueError(f"fed {self.fed} samples to a stream of {self.total}")
        out = self._head + bytes(self._lame.encode(samples.astype("<i2", copy=False).tobytes()))
        self._head = b""
        return out

    def finish(self) -> bytes:
        if self.fed != self.total:
            raise ValueError(f"fed {self.fed} samples to a stream of {self.total}")
        return self._head + bytes(self._lame.flush())


class _Sink(io.RawIOBase):
    """A write-only file for libsndfile that hands out what was written: it must never
    seek back over bytes already handed out."""

    def __init__(self) -> None:
        self._out = bytearray()
        self._taken = 0  # bytes handed out before _out
        self._position = 0

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = 0) -> int:
        end = self._taken + len(self._out)
        self._position = (
            offset if whence == 0 else (self._position if whence == 1 else end) + offset
        )
        return self._position

    def read(self, size: int = -1) -> bytes:
        return b""

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        if self._position < self._taken:
            raise OSError("the encoder went back over bytes already sent")
        at = self._position - self._taken
        if at > len(self._out):
            self._out.extend(bytes(at - len(self._out)))
        self._out[at : at + len(data)] = data
        self._position += len(data)
        return len(data)

    def take(self) -> bytes:
        out = bytes(self._out)
        self._taken += len(out)
        self._out.clear()
        return out


class OpusStreamEncoder:
    def __init__(self, sample_rate: int) -> None:
        if sample_rate not in OPUS_RATES:
            raise BadSettings(f"Opus takes {OPUS_RATES} Hz, not {sample_rate}")
        self.sample_rate = sample_rate
        self._sink = _Sink()
        self._file = sf.SoundFile(
            self._sink, "w", sample_rate, 1, format="OGG", subtype="OPUS",
            compression_level=OPUS_LEVEL,
        )  # fmt: skip

    def feed(self, samples: np.ndarray) -> bytes:
        if len(samples):
            self._file.write(samples.astype("<i2", copy=False))
        return self._sink.take()

    def finish(self) -> bytes:
        self._file.close()
        return self._sink.take()


def stream_rate(fmt: str, sample_rate: int) -> int:
    """The rate PCM of ``sample_rate`` is encoded at as ``fmt`` (resampled to it first)."""
    if fmt == "opus":
        return next((r for r in OPUS_RATES if r >= sample_rate), 48000)
    return sample_rate


def stream_encoder(fmt: str, sample_rate: int, total_samples: int) -> StreamEncoder:
    """An encoder for ``total_samples`` of int16 mono PCM at ``sample_rate`` (a
    ``stream_rate``), as ``fmt``."""
    if fmt == "mp3":
        return Mp3StreamEncoder(sample_rate, total_samples)
    if fmt == "opus":
        return OpusStreamEncoder(sample_rate)
    raise BadSettings(f"bad format {fmt!r}: use mp3 or opus")
