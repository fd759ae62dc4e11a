"""The last-resort offline voice: espeak-ng, from the library the Piper wheel ships.

Piper phonemizes with espeak-ng, and its wheel carries the whole engine
(``piper/espeakbridge.so``, with espeak-ng's C API exported) and its data
(``piper/espeak-ng-data``: a dictionary for ≈ 120 languages). espeak-ng can speak
too: this provider loads that library with ``ctypes`` and asks it for audio. No
Debian package, no download. Its formant voice is clear but robotic, so chunks it
speaks are marked in the manifest (``spokenBy.robotic``) and the reader says so.

The library keeps global state (one voice, one callback), and Piper's own module
uses the same file for phonemes; so this provider loads a private copy of the file
(the dynamic loader would otherwise hand back Piper's instance) and calls it under a
lock. ``voice`` is the language (``fr``, ``de``, …); there is one model,
``espeak-ng``. Sentence times are exact sample counts, as with Piper; no word times.
"""

from __future__ import annotations

import ctypes
import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from preread.errors import BadSettings, SynthesisFailed
from preread.settings import VoiceSettings
from preread.tts.base import AudioChunk, Provider
from preread.voice import ResolvedVoice

MODEL = "espeak-ng"
_OUTPUT_SYNCHRONOUS = 2  # espeak_AUDIO_OUTPUT: call the callback, play nothing
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_RATE_PARAMETER = 1  # espeakRATE: words per minute
_DEFAULT_WPM = 160  # a little slower than espeak's 175: easier on a listener

_Callback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


def piper_dir() -> Path | None:
    """Where the Piper wheel keeps espeak-ng (library and data), if installed."""
    try:
        import piper
    except ImportError:
        return None
    folder = Path(piper.__file__).parent
    if (folder / "espeakbridge.so").is_file() and (folder / "espeak-ng-data").is_dir():
        return folder
    return None


@lru_cache(maxsize=1)
def espeak_languages() -> frozenset[str]:
    """The languages (ISO 639-1/3 codes) espeak-ng has a dictionary for here."""
    folder = piper_dir()
    if folder is None:
        return frozenset()
    return frozenset(p.name[: -len("_dict")] for p in (folder / "espeak-ng-data").glob("*_dict"))


class _Engine:
    """The loaded library: one per process, used under ``lock``."""

    def __init__(self, folder: Path) -> None:
        private = Path(tempfile.mkdtemp(prefix="preread-espeak-")) / "libespeak-ng.so"
        shutil.copyfile(folder / "espeakbridge.so", private)
        lib: Any = ctypes.CDLL(str(private))
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
            ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]  # fmt: skip
        lib.espeak_Synth.restype = ctypes.c_int
        self.rate = int(lib.espeak_Initialize(_OUTPUT_SYNCHRONOUS, 0, str(folder).encode(), 0))
        if self.rate <= 0:
            raise SynthesisFailed("espeak-ng could not start (its data is missing)")
        self.pieces: list[bytes] = []

        def collect(wav: Any, count: int, events: Any) -> int:
            if count > 0 and wav:
                self.pieces.append(ctypes.string_at(wav, count * 2))
            return 0

        self._callback = _Callback(collect)  # kept: the library holds a pointer to it
        lib.espeak_SetSynthCallback(self._callback)
        private.unlink()  # mapped now: nothing left behind
        private.parent.rmdir()
        self.lib = lib
        self.lock = threading.Lock()

    def speak(self, text: str, language: str, speed: float) -> bytes:
        with self.lock:
            if self.lib.espeak_SetVoiceByName(language.encode()) != 0:
                raise SynthesisFailed(f"espeak-ng has no voice for {language!r}")
            wpm = min(450, max(80, round(_DEFAULT_WPM * speed)))  # espeak's range
            self.lib.espeak_SetParameter(_RATE_PARAMETER, wpm, 0)
            self.pieces = []
            data = text.encode("utf-8")
            status = self.lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0,
                                           _CHARS_UTF8, None, None)  # fmt: skip
            if status != 0:
                raise SynthesisFailed(f"espeak-ng failed on {text[:40]!r} (status {status})")
            return b"".join(self.pieces)


_engine: _Engine | None = None
_engine_lock = threading.Lock()


def engine() -> _Engine:
    global _engine
    with _engine_lock:
        if _engine is None:
            folder = piper_dir()
            if folder is None:
                raise SynthesisFailed("espeak-ng is missing (it comes with the piper-tts package)")
            _engine = _Engine(folder)
        return _engine


class EspeakProvider(Provider):
    """espeak-ng's voice for a language: ``voice`` is its code (``fr``, ``de``)."""

    name = "espeak"

    def resolve(self, voice: VoiceSettings) -> ResolvedVoice:
        model = voice.model or MODEL
        if model != MODEL:
            raise BadSettings(f"unknown model {model!r} for provider espeak: use {MODEL}")
        language = (voice.voice or "en").lower()
        if language not in espeak_languages():
            raise BadSettings(
                f"unknown voice {language!r} for provider espeak: use a language code "
                "(fr, de, es, …)"
            )
        if voice.instructions:
            raise BadSettings("provider espeak does not take instructions (openai does)")
        return ResolvedVoice("espeak", model, language, voice.speed, voice.format, None)

    def voices(self) -> list[str]:
        return sorted(espeak_languages())

    def models(self) -> list[str]:
        return [MODEL]

    def synthesize(self, sentences: Sequence[str], voice: ResolvedVoice) -> Iterator[AudioChunk]:
        speaker = engine()
        for sentence in sentences:
            pcm = speaker.speak(sentence, voice.voice, voice.speed)
            if not pcm:
                pcm = np.zeros(speaker.rate // 10, dtype="<i2").tobytes()  # never empty
            yield AudioChunk(sentence, pcm, speaker.rate)
