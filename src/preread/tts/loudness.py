"""One loudness for every chunk: a gain per voice, measured once over a reference text.

Voices differ in level (Piper's ``joe``, an OpenAI voice, espeak-ng, a fallback), so a
listener would reach for the volume at every seam between engines. Every chunk is
delivered at ``TARGET_LUFS`` (−16 LUFS integrated, the podcast norm) under a true-peak
ceiling of ``CEILING_DBTP`` (−1.5 dBTP), measured with ``pyloudnorm`` (ITU-R BS.1770-4):

* **One gain per voice**, not per chunk: the voice speaks ``REFERENCE`` once (a few
  ordinary sentences), its integrated loudness is measured, and the gain that brings
  it to the target once levelled (``calibrate``; 0.1 dB steps) is that voice's gain
  for good. The measurement is stored as ``voices/{id}.loudness.json`` in the store
  (created once, never replaced: ``fsutil.create_exclusive``) and kept in memory.
* **Fixed dynamics** (``preread.tts.dynamics``), the same for every sentence of every
  voice: a phase rotator (lower peaks at the same loudness), a slow leveller on
  short-term loudness (3/4 of the way to the target, at most ±3 dB: one voice's
  sentence-to-sentence swings shrink, a quiet sentence stays quieter), and a
  look-ahead limiter (4× oversampled peaks) under the ceiling. Plain numpy: only the
  once-per-voice measurement imports pyloudnorm (and SciPy, ≈ 2 s).
* **The engine's own level**: Piper scales every sentence so that its highest peak
  is full scale, which makes a sentence with one sharp consonant 3 LU quieter than
  its neighbour; a levelled Piper voice is asked for the model's own level
  (``normalize_audio=False``) and the levelling sets it.
* **Where**: to every sentence's PCM as the provider hands it over (``Levels.speak``),
  before encoding: chunks, live audio and ``/v1/audio/speech`` clips alike. Sample
  counts do not change, so durations, sentence and word times stay exact.

The gain is part of what a blob's bytes are, so it is part of the voice's identity:
``ResolvedVoice.level`` is ``LEVEL`` (``identity()``: target, ceiling, stages) in every voice
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

from preread.errors import Conflict
from preread.fsutil import create_exclusive
from preread.tts.base import AudioChunk, Provider
from preread.tts.dynamics import ROTATOR_HZ, ROTATOR_SECTIONS, rotate, steady, true_peaks
from preread.voice import LEVEL, ResolvedVoice

TARGET_LUFS = -16.0
CEILING_DBTP = -1.5
MAX_GAIN_DB = 30.0  # a voice this much quieter than the target is not lifted further
CALIBRATION_STEPS = 10
MARGIN_DB = 2.5  # the limiter aims this far under the ceiling: MP3 overshoots up to ≈ 2 dB
RATIO = 4.0  # the slow leveller: 3/4 of the way from a sentence's loudness to the target,
BOUND_DB = 3.0  # never more than 3 dB up or down,
GATE_LU = -20.0  # counting only blocks louder than 20 LU under the target
REFERENCE = (
    "The quick brown fox jumps over the lazy dog.",
    "She sells sea shells by the sea shore, and the shells she sells are surely seashells.",
    "How much wood would a woodchuck chuck, if a woodchuck could chuck wood?",
    "On the twelfth of March, nineteen ninety-eight, the river rose three metres in a night.",
    "Reading aloud is slower than reading silently, but it reaches more people.",
)

__all__ = [
    "CEILING_DBTP",
    "LEVEL",
    "REFERENCE",
    "TARGET_LUFS",
    "Levels",
    "identity",
    "integrated",
    "level",
]


def integrated(samples: np.ndarray, rate: int) -> float:
    """Integrated loudness (LUFS) of int16 mono ``samples``; −inf for silence."""
    import pyloudnorm

    x = np.asarray(samples, dtype=np.float64) / 32768.0
    block = int(0.4 * rate) + 1
    if len(x) < block:  # pyloudnorm needs one 400 ms block; silence is gated out anyway
        x = np.concatenate([x, np.zeros(block - len(x))])
    return float(pyloudnorm.Meter(rate).integrated_loudness(x))


def level(pcm: bytes, rate: int, gain_db: float) -> bytes:
    """``pcm`` (int16 mono) levelled at the voice's gain; same length.

    The gain, the phase rotator, the slow leveller (measured on the limited signal,
    which is what a listener hears), then the limiter on the result: every stage has
    fixed parameters (``preread.tts.dynamics``), the same for every sentence."""
    if not pcm:
        return pcm
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64) * (10 ** (gain_db / 20) / 32768.0)
    x = rotate(x, rate)
    ceiling = 10 ** ((CEILING_DBTP - MARGIN_DB) / 20)
    x = steady(
        x,
        rate,
        true_peaks(x),
        ceiling=ceiling,
        target=TARGET_LUFS,
        ratio=RATIO,
        bound=BOUND_DB,
        gate=GATE_LU,
    )
    out = np.clip(np.round(x * 32768.0), -32768, 32767).astype("<i2")
    return out.tobytes()


def identity() -> str:
    """What the levelling is, as ``LEVEL`` (in ``preread.voice``) must name it: a test
    checks they agree, so a change of parameters is a change of identity."""
    return (
        f"lufs{TARGET_LUFS:g}/dbtp{CEILING_DBTP:g}/rotate{ROTATOR_HZ:g}x{ROTATOR_SECTIONS}"
        f"/steady{RATIO:g}:1-{BOUND_DB:g}db/peaks{CEILING_DBTP - MARGIN_DB:g}/2"
    )


def calibrate(pcm: bytes, rate: int) -> tuple[float, float, float]:
    """The gain (dB, 0.1 dB steps) that brings ``pcm`` to the target once levelled, its
    loudness as it is, and as levelled. The limiter takes loudness off a voice whose
    peaks stand far above its level and the leveller answers a change of gain by a
    quarter of it, so the gain is searched for (secant steps) until the levelled
    reference is at the target."""
    samples = np.frombuffer(pcm, dtype="<i2")
    raw = integrated(samples, rate)
    if not math.isfinite(raw):
        return 0.0, raw, raw

    def levelled(gain: float) -> float:
        return integrated(np.frombuffer(level(pcm, rate, gain), dtype="<i2"), rate)

    gain = round(min(MAX_GAIN_DB, TARGET_LUFS - raw), 1)
    got = levelled(gain)
    slope = 1.0
    for _ in range(CALIBRATION_STEPS):
        miss = TARGET_LUFS - got
        following = round(min(MAX_GAIN_DB, gain + miss / slope), 1)
        if abs(miss) < 0.05 or following == gain:
            break
        then = levelled(following)
        if then != got:
            slope = min(2.0, max(0.2, (then - got) / (following - gain)))
        gain, got = following, then
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
            raise Conflict(
                f"audio levelled as {voice.level!r} (an earlier levelling) is made no more: "
                "preprocess the document again"
            )
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
