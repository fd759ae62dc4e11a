"""One loudness for every chunk: a gain per voice, measured once over a reference text.

Voices differ in level (Piper's ``joe``, an OpenAI voice, espeak-ng, a fallback), so a
listener would reach for the volume at every seam between engines. Every chunk is
delivered at ``TARGET_LUFS`` (−16 LUFS integrated, the podcast norm) under a true-peak
ceiling of ``CEILING_DBTP`` (−1.5 dBTP), measured with ``pyloudnorm`` (ITU-R BS.1770-4):

* **One gain per voice**, not per chunk: the voice speaks ``REFERENCE`` once (a few
  ordinary sentences), its integrated loudness is measured, and the gain that brings
  it to the target, once the peaks are limited (``calibrate``; 0.1 dB steps), is that
  voice's gain for good. A quiet sentence stays quieter
  than a loud one, as the voice said them; only the voice's overall level moves.
  The measurement is stored as ``voices/{id}.loudness.json`` in the store (created
  once, never replaced: ``fsutil.create_exclusive``) and kept in memory per process.
* **Peaks**: after the gain, a look-ahead limiter (4× oversampled peaks, gain held
  10 ms around them and ramped) keeps every sample under the ceiling; it acts only on
  the rare peaks the gain pushes over, never on the level of the speech. It is plain
  numpy: only the once-per-voice measurement imports pyloudnorm (and SciPy, ≈ 2 s).
* **Where**: to every sentence's PCM as the provider hands it over (``Levels.speak``),
  before encoding: chunks, live audio and ``/v1/audio/speech`` clips alike. Sample
  counts do not change, so durations, sentence and word times stay exact.

The gain is part of what a blob's bytes are, so it is part of the voice's identity:
``ResolvedVoice.level`` is ``LEVEL`` (this target, ceiling and method) in every voice
resolved now, and it is in the content key and the speech index's voice id. Audio made
before levelling existed has ``level == ""`` (its manifests record none): its keys are
the old ones and it is never levelled, so an old document's missing chunks match its
old ones, while preprocessing it with today's settings makes it anew, all levelled.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from preread.errors import PrereadError
from preread.fsutil import create_exclusive
from preread.tts.base import AudioChunk, Provider
from preread.voice import LEVEL, ResolvedVoice

TARGET_LUFS = -16.0
CEILING_DBTP = -1.5
MAX_GAIN_DB = 30.0  # a voice this much quieter than the target is not lifted further
OVERSAMPLE = 4
TAPS = 24  # per phase of the oversampling filter
CALIBRATION_STEPS = 8
MARGIN_DB = 2.0  # the limiter aims this far under the ceiling: MP3 overshoots up to ≈ 1.4 dB
HOLD_SECONDS = 0.010
REFERENCE = (
    "The quick brown fox jumps over the lazy dog.",
    "She sells sea shells by the sea shore, and the shells she sells are surely seashells.",
    "How much wood would a woodchuck chuck, if a woodchuck could chuck wood?",
    "On the twelfth of March, nineteen ninety-eight, the river rose three metres in a night.",
    "Reading aloud is slower than reading silently, but it reaches more people.",
)

__all__ = ["CEILING_DBTP", "LEVEL", "REFERENCE", "TARGET_LUFS", "Levels", "integrated", "level"]


def integrated(samples: np.ndarray, rate: int) -> float:
    """Integrated loudness (LUFS) of int16 mono ``samples``; −inf for silence."""
    import pyloudnorm

    x = np.asarray(samples, dtype=np.float64) / 32768.0
    block = int(0.4 * rate) + 1
    if len(x) < block:  # pyloudnorm needs one 400 ms block; silence is gated out anyway
        x = np.concatenate([x, np.zeros(block - len(x))])
    return float(pyloudnorm.Meter(rate).integrated_loudness(x))


def _interpolator() -> np.ndarray:
    """A windowed-sinc FIR for 4× oversampling: ``TAPS`` taps per phase."""
    taps = TAPS * OVERSAMPLE + 1  # odd: the fine grid holds the original samples
    n = np.arange(taps) - (taps - 1) / 2
    fir: np.ndarray = np.sinc(n / OVERSAMPLE) * np.kaiser(taps, 7.0)
    fir *= OVERSAMPLE / fir.sum()
    return fir


_FIR = _interpolator()


def true_peaks(x: np.ndarray) -> np.ndarray:
    """Per sample, the largest magnitude of the signal from it to the next, 4×
    oversampled as BS.1770's true-peak meter is (``x``: float, full scale 1.0)."""
    if len(x) < 2:
        return np.asarray(np.abs(x))
    peaks = np.abs(x)
    delay = (len(_FIR) - 1) // 2
    for phase in range(OVERSAMPLE):  # polyphase: each phase is a short convolution
        # fine sample 4i + phase of the upsampled signal is conv(x, taps)[i], at
        # original time i + (phase - delay) / 4: between samples i - shift and the next
        y = np.abs(np.convolve(x, _FIR[phase::OVERSAMPLE]))
        shift = (delay - phase + OVERSAMPLE - 1) // OVERSAMPLE
        np.maximum(peaks, y[shift : shift + len(x)], out=peaks)
    result: np.ndarray = np.maximum(peaks, np.concatenate([peaks[1:], peaks[-1:]]))
    return result


def running_min(x: np.ndarray, radius: int) -> np.ndarray:
    """The minimum of ``x`` over ``[i - radius, i + radius]`` at each i (van Herk)."""
    width = 2 * radius + 1
    padded = np.pad(x, (radius, radius + (-(len(x) + 2 * radius)) % width), mode="edge")
    blocks = padded.reshape(-1, width)
    prefix = np.minimum.accumulate(blocks, axis=1).ravel()
    suffix = np.minimum.accumulate(blocks[:, ::-1], axis=1)[:, ::-1].ravel()
    out: np.ndarray = np.minimum(suffix[: len(x)], prefix[width - 1 : width - 1 + len(x)])
    return out


def running_mean(x: np.ndarray, radius: int) -> np.ndarray:
    """The mean of ``x`` over ``[i - radius, i + radius]`` (edges repeated)."""
    padded = np.pad(x, (radius + 1, radius), mode="edge")
    sums = np.cumsum(padded)
    out: np.ndarray = (sums[2 * radius + 1 :] - sums[: len(x)]) / (2 * radius + 1)
    return out


def level(pcm: bytes, rate: int, gain_db: float) -> bytes:
    """``pcm`` (int16 mono) times the gain, peaks limited to the ceiling; same length.

    Only samples near a peak over the ceiling are turned down: the lowest gain any
    sample within 10 ms wants, averaged over ±5 ms (so never above what a peak needs,
    and ramped instead of stepped)."""
    if not pcm or gain_db == 0.0:
        return pcm
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64) * (10 ** (gain_db / 20) / 32768.0)
    ceiling = 10 ** ((CEILING_DBTP - MARGIN_DB) / 20)
    if np.abs(x).max() * 1.5 > ceiling:  # else no sample, nor a peak between, is over
        peaks = true_peaks(x)
        if peaks.max() > ceiling:
            wanted = np.minimum(1.0, ceiling / np.maximum(peaks, 1e-12))
            hold = max(1, round(HOLD_SECONDS * rate))
            smooth = running_mean(running_min(wanted, hold), hold // 2)
            x *= np.minimum(smooth, wanted)
    out = np.clip(np.round(x * 32768.0), -32768, 32767).astype("<i2")
    return out.tobytes()


def calibrate(pcm: bytes, rate: int) -> tuple[float, float, float]:
    """The gain (dB, 0.1 dB steps) that brings ``pcm`` to the target once limited, its
    loudness as it is, and as levelled. The limiter takes a little loudness off a voice
    whose peaks stand far above its level (Piper's), so the gain is raised until the
    levelled reference is at the target."""
    samples = np.frombuffer(pcm, dtype="<i2")
    raw = integrated(samples, rate)
    if not math.isfinite(raw):
        return 0.0, raw, raw
    gain = got = 0.0
    miss = TARGET_LUFS - raw
    for _ in range(CALIBRATION_STEPS):
        gain = round(min(MAX_GAIN_DB, gain + miss), 1)
        got = integrated(np.frombuffer(level(pcm, rate, gain), dtype="<i2"), rate)
        miss = TARGET_LUFS - got
        if abs(miss) < 0.1 or gain >= MAX_GAIN_DB:
            break
    return gain, raw, got


def level_id(voice: ResolvedVoice) -> str:
    """What the gain depends on: the voice and its speed (not the file format)."""
    parts = (voice.provider, voice.model, voice.voice, f"{voice.speed:.4f}", voice.level)
    material = "\x1f".join((*parts, voice.instructions or "", voice.endpoint or ""))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:24]


_known: dict[tuple[Path, str], float] = {}  # (store home, level id) → gain, per process
_measured: dict[str, tuple[float, float, float]] = {}  # level id → calibrate()
_locks: dict[str, threading.Lock] = {}
_locks_lock = threading.Lock()


class Levels:
    """The store's per-voice gains (``voices/{id}.loudness.json``)."""

    def __init__(self, home: Path) -> None:
        self.folder = home / "voices"

    def gain(self, provider: Provider, voice: ResolvedVoice) -> float | None:
        """The voice's gain in dB (None: audio of a voice that is not levelled)."""
        if not voice.level:
            return None
        if voice.level != LEVEL:
            raise PrereadError(f"audio levelled as {voice.level!r} cannot be made here")
        vid = level_id(voice)
        found = _known.get((self.folder, vid))
        if found is not None:
            return found
        with _locks_lock:
            lock = _locks.setdefault(vid, threading.Lock())
        with lock:  # one measurement per voice at a time
            found = self._read(vid)
            if found is None:
                record = self._measure(provider, voice)
                path = self.folder / f"{vid}.loudness.json"
                data = json.dumps(record, ensure_ascii=False, indent=1).encode("utf-8")
                if not create_exclusive(path, data):  # another process was first: its gain
                    found = self._read(vid)
                found = record["gainDb"] if found is None else found
            _known[(self.folder, vid)] = found
            return found

    def _read(self, vid: str) -> float | None:
        try:
            data = json.loads((self.folder / f"{vid}.loudness.json").read_bytes())
            return float(data["gainDb"])
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return None

    @staticmethod
    def _measure(provider: Provider, voice: ResolvedVoice) -> dict[str, Any]:
        vid = level_id(voice)
        if vid not in _measured:  # once per process: every store gets the same gain
            chunks = list(provider.synthesize(REFERENCE, voice))
            rate = chunks[0].sample_rate if chunks else 22050
            _measured[vid] = calibrate(b"".join(c.pcm for c in chunks), rate)
        gain, lufs, levelled = _measured[vid]
        return {
            "provider": voice.provider,
            "model": voice.model,
            "voice": voice.voice,
            "speed": voice.speed,
            "level": voice.level,
            "targetLufs": TARGET_LUFS,
            "ceilingDbtp": CEILING_DBTP,
            "measuredLufs": round(lufs, 2) if math.isfinite(lufs) else None,
            "levelledLufs": round(levelled, 2) if math.isfinite(levelled) else None,
            "gainDb": gain,
            "measuredAt": int(time.time()),
        }

    def speak(
        self, provider: Provider, sentences: Sequence[str], voice: ResolvedVoice
    ) -> Iterator[AudioChunk]:
        """``provider.synthesize`` at the voice's gain: each sentence levelled."""
        gain: float | None = None
        for number, chunk in enumerate(provider.synthesize(sentences, voice)):
            if number == 0:  # measured after the engine answered the text asked of it
                gain = self.gain(provider, voice)
            if gain is None:
                yield chunk
            else:
                pcm = level(chunk.pcm, chunk.sample_rate, gain)
                yield AudioChunk(chunk.text, pcm, chunk.sample_rate, chunk.words, chunk.estimated)
