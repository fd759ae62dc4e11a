"""A fake provider, as httpx has MockTransport: a tone per sentence, instantly.

It speaks no words: each sentence becomes a sine tone whose length follows the
text (``seconds_per_char``) and speed, so tests and demos can exercise the whole
pipeline with real, non-silent audio but without a neural voice. Each word is a
burst of tone followed by a short silence, and its times are reported like the
Piper voice's (``AudioChunk.words``), so cutting at word times is testable. Tests
pass ``fail`` to make chosen sentences fail; ``calls`` lists the sentences spoken, but
for the loudness reference (``preread.tts.loudness``). Voice ``tone`` is a 440 Hz tone at
0.3 of full scale, ``low`` a 220 Hz one at 0.1 (≈ 9.5 dB quieter: two engines' levels).

``delay`` sleeps that long per sentence (a remote engine's latency). ``fixed_seconds``
(``PREREAD_FAKE_SECONDS``, a benchmark knob) makes every sentence that long, its tone
made once per process: with ``delay``, a fixed synthesis delay costing almost no CPU
(what is left is the pipeline's: levelling and encoding a short clip, hashing, files),
so a benchmark of the job queue measures the queue, not this machine's two cores.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from preread.errors import BadSettings, SynthesisFailed
from preread.settings import VoiceSettings
from preread.tts.base import AudioChunk, Provider
from preread.tts.loudness import REFERENCE
from preread.voice import ResolvedVoice

FAKE_VOICES = ("tone", "low")


class FakeProvider(Provider):
    name = "fake"

    def __init__(
        self,
        *,
        sample_rate: int = 22050,
        seconds_per_char: float = 0.02,
        delay: float = 0.0,
        fail: Callable[[str], bool] | None = None,
        fixed_seconds: float | None = None,
    ) -> None:
        self.sample_rate = sample_rate
        self.seconds_per_char = seconds_per_char
        self.delay = delay
        self.fail = fail
        self.fixed_seconds = fixed_seconds
        self._tones: dict[tuple[float, float, int], np.ndarray] = {}
        self.calls: list[str] = []  # sentences synthesized, for tests to count
        self._lock = threading.Lock()

    def resolve(self, voice: VoiceSettings) -> ResolvedVoice:
        name = voice.voice or "tone"
        if name not in FAKE_VOICES:
            raise BadSettings(
                f"unknown voice {name!r} for provider fake: use {', '.join(FAKE_VOICES)}"
            )
        return ResolvedVoice(
            "fake", voice.model or "tone-1", name, voice.speed, voice.format, voice.instructions
        )

    def voices(self) -> list[str]:
        return list(FAKE_VOICES)

    def models(self) -> list[str]:
        return ["tone-1"]

    def synthesize(self, sentences: Sequence[str], voice: ResolvedVoice) -> Iterator[AudioChunk]:
        base, amplitude = (440.0, 0.3) if voice.voice == "tone" else (220.0, 0.1)
        for number, sentence in enumerate(sentences):
            if self.fail is not None and self.fail(sentence):
                raise SynthesisFailed(f"fake provider refused {sentence[:30]!r}")
            if self.delay:
                time.sleep(self.delay)
            if sentence not in REFERENCE:  # the loudness reference is not a chunk's
                with self._lock:
                    self.calls.append(sentence)
            if self.fixed_seconds is not None:
                seconds = self.fixed_seconds
            else:
                seconds = max(0.1, len(sentence) * self.seconds_per_char / voice.speed)
            n = int(seconds * self.sample_rate)
            freq = base * (1 + 0.1 * (number % 4))
            wave = self._tone(freq, amplitude, n)
            words = word_spans(sentence.split(), n)
            voiced = np.zeros(n, dtype=bool)
            for start, end in words:
                voiced[start:end] = True
            if words:
                wave[~voiced] = 0.0
            pcm = (wave * 32767).astype("<i2").tobytes()
            yield AudioChunk(sentence, pcm, self.sample_rate, words=tuple(words) or None)

    def _tone(self, freq: float, amplitude: float, n: int) -> np.ndarray:
        """``n`` samples of the tone (a copy: the caller silences the pauses); kept when
        every sentence has the same length (``fixed_seconds``)."""
        key = (freq, amplitude, n)
        wave = self._tones.get(key)
        if wave is None:
            t = np.arange(n, dtype=np.float64) / self.sample_rate
            wave = amplitude * np.sin(2 * math.pi * freq * t)
            if self.fixed_seconds is not None:
                with self._lock:
                    self._tones[key] = wave
        return wave.copy()


def word_spans(words: Sequence[str], samples: int) -> list[tuple[int, int]]:
    """(start, end) in samples of each word: a share of ``samples`` by its length + 1,
    the last fifth of each share silent (the pause after the word)."""
    total = sum(len(w) + 1 for w in words)
    spans, position = [], 0
    for word in words:
        share = samples * (len(word) + 1) // total if total else 0
        spans.append((position, position + max(1, share * 4 // 5)))
        position += share
    return spans
