"""Every synthesis in a process shares the Piper provider's bound (memory: ≈ 250 MB each)."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from preread.errors import BadSettings
from preread.settings import Settings, VoiceSettings
from preread.tts import make_provider
from preread.tts import piper as piper_module
from preread.tts.piper import PiperProvider


class CountingEngine:
    """Stands in for the ONNX voice (the dependency), to observe how many calls overlap."""

    def __init__(self) -> None:
        self.config = SimpleNamespace(sample_rate=22050, length_scale=1.0)
        self.running = 0
        self.most = 0
        self._lock = threading.Lock()

    def synthesize(
        self, sentence: str, config: Any, include_alignments: bool = False
    ) -> list[SimpleNamespace]:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.05)
        with self._lock:
            self.running -= 1
        return [
            SimpleNamespace(
                audio_int16_array=np.zeros(100, dtype=np.int16),
                audio_float_array=np.zeros(100, dtype=np.float32),
                phoneme_alignments=None,  # a model without alignments: no word times
            )
        ]


@pytest.mark.parametrize("workers", [1, 2])
def test_concurrent_callers_never_exceed_the_bound(
    monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    engine = CountingEngine()
    monkeypatch.setattr(piper_module, "load_voice", lambda models_dir=None, threads=1: engine)
    provider = PiperProvider(workers=workers)
    voice = provider.resolve(VoiceSettings())

    def speak() -> None:
        list(provider.synthesize(["One.", "Two."], voice))

    threads = [threading.Thread(target=speak) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert engine.most == workers


def test_workers_come_from_settings(home: Any) -> None:
    settings = Settings.load({"PREREAD_SYNTH_WORKERS": "1"}, home=str(home))
    provider = make_provider(settings)
    assert isinstance(provider, PiperProvider)
    assert provider.concurrency == 1
    for bad in ("0", "9", "many"):
        with pytest.raises(BadSettings):
            Settings.load({"PREREAD_SYNTH_WORKERS": bad})
