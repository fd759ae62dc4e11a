"""PCM in, a compressed audio file out, with an exact, known duration.

Formats (libsndfile via ``soundfile``; no FFmpeg needed):

* ``mp3`` (default): MPEG-2 Layer III, mono, at the voice's own rate (22,050 Hz for
  Piper), LAME VBR at ``compression_level=0.6``: about 40 kbit/s on speech, i.e.
  ≈ 300 KB per audio minute (measured: 85,777 bytes for 16.7 s of the Piper voice).
  Speech at 22 kHz needs no more, and it is ≈ 30 % smaller than the smallest
  constant bitrate that decodes to the exact length (56 kbit/s ≈ 420 KB/min: below
  that, a 22 kHz frame is too small to carry the Xing/LAME header, and decoders then
  play ≈ 70 ms of encoder padding). With the header, a chunk decodes to exactly the
  samples we encoded, so chunk seams are clean.
* ``opus``: Ogg/Opus, mono, 24,000 Hz (Opus in libsndfile takes 8/12/16/24/48 kHz;
  22,050 Hz input is resampled here with an FFT resampler),
  ``compression_level=0.95``: ≈ 19 kbit/s, ≈ 145 KB per audio minute. The Ogg
  pre-skip is recorded in the header, so it too decodes to the exact length.

Durations recorded in manifests are read back with mutagen from the encoded bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import soundfile as sf

from preread.errors import BadSettings

MP3_VBR_LEVEL = 0.6
OPUS_LEVEL = 0.95
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
CONTENT_TYPES = {"mp3": "audio/mpeg", "opus": "audio/ogg; codecs=opus"}


@dataclass(frozen=True)
class Encoded:
    data: bytes
    duration: float  # seconds, as read back from ``data``
    sample_rate: int  # of the encoded stream


def resample(pcm: np.ndarray, rate: int, new_rate: int) -> np.ndarray:
    """Band-limited (FFT) resampling of int16 mono ``pcm``; returns int16.

    The signal is zero-padded to a 2-smooth multiple of the rate ratio so the
    transforms are fast and the output length is an exact integer.
    """
    if rate == new_rate or len(pcm) == 0:
        return pcm.astype("<i2", copy=False)
    g = np.gcd(rate, new_rate)
    up, down = new_rate // g, rate // g
    k = 1
    while down * k < len(pcm):
        k *= 2
    n, m = down * k, up * k
    spectrum = np.fft.rfft(pcm.astype(np.float64), n)
    out = np.zeros(m // 2 + 1, dtype=np.complex128)
    keep = min(len(spectrum), len(out))
    out[:keep] = spectrum[:keep]
    if m < n and keep == len(out):  # downsampling: the new Nyquist bin is real
        out[-1] = out[-1].real
    y = np.fft.irfft(out, m) * (m / n)
    length = resampled_length(len(pcm), rate, new_rate)
    result: np.ndarray = np.clip(np.round(y[:length]), -32768, 32767).astype("<i2")
    return result


def resampled_length(samples: int, rate: int, new_rate: int) -> int:
    """How many samples ``resample`` makes of ``samples`` samples."""
    if rate == new_rate or samples == 0:
        return samples
    g = int(np.gcd(rate, new_rate))
    return round(samples * (new_rate // g) / (rate // g))


def encode(pcm: bytes, sample_rate: int, fmt: str) -> Encoded:
    """Encode int16 little-endian mono ``pcm`` as ``fmt`` (``mp3`` or ``opus``)."""
    samples = np.frombuffer(pcm, dtype="<i2")
    if len(samples) == 0:
        samples = np.zeros(int(sample_rate * 0.05), dtype="<i2")  # never an empty file
    buffer = io.BytesIO()
    if fmt == "mp3":
        sf.write(
            buffer,
            samples,
            sample_rate,
            format="MP3",
            bitrate_mode="VARIABLE",
            compression_level=MP3_VBR_LEVEL,
        )
        rate = sample_rate
    elif fmt == "opus":
        rate = next((r for r in OPUS_RATES if r >= sample_rate), 48000)
        samples = resample(samples, sample_rate, rate)
        sf.write(buffer, samples, rate, format="OGG", subtype="OPUS", compression_level=OPUS_LEVEL)
    else:
        raise BadSettings(f"bad format {fmt!r}: use mp3 or opus")
    data = buffer.getvalue()
    return Encoded(data=data, duration=duration_of(data, fmt), sample_rate=rate)


def duration_of(data: bytes, fmt: str) -> float:
    """The playing time of encoded ``data`` as mutagen reads it (seconds)."""
    if fmt == "mp3":
        from mutagen.mp3 import MP3

        mp3: Any = MP3(io.BytesIO(data))  # type: ignore[no-untyped-call]
        return float(mp3.info.length)
    if fmt == "opus":
        from mutagen.oggopus import OggOpus

        ogg: Any = OggOpus(io.BytesIO(data))  # type: ignore[no-untyped-call]
        return float(ogg.info.length)
    raise BadSettings(f"bad format {fmt!r}: use mp3 or opus")


def decode(data: bytes) -> tuple[np.ndarray, int]:
    """Decode an encoded file to int16 mono samples and their rate (for tests and checks)."""
    samples, rate = sf.read(io.BytesIO(data), dtype="int16", always_2d=False)
    return np.asarray(samples), int(rate)


def silence(seconds: float, sample_rate: int) -> bytes:
    return bytes(2 * round(seconds * sample_rate))
