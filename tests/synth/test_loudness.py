"""One loudness: a gain per voice (measured once over a reference text) brings chunks of
different engines within 1 LU, measured with pyloudnorm on the decoded chunk files."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
from scipy.signal import resample_poly

from openai_server import SpeechServer
from preread.audio import decode
from preread.blobs import blob_key
from preread.library import Library
from preread.model import Block, DocumentText
from preread.settings import Settings
from preread.tts.fake import FakeProvider
from preread.tts.loudness import CEILING_DBTP, LEVEL, TARGET_LUFS, Levels, level
from preread.voice import ResolvedVoice

KEY = "sk-loudness-secret-0123456789"


def lufs(samples: np.ndarray, rate: int) -> float:
    return float(pyloudnorm.Meter(rate).integrated_loudness(samples / 32768.0))


def true_peak_db(samples: np.ndarray) -> float:
    return float(20 * np.log10(np.abs(resample_poly(samples / 32768.0, 4, 1)).max()))


def document(blocks: int) -> DocumentText:
    texts = [
        f"Paragraph {i} tells its story. It has a second sentence, a little longer than the "
        f"first one, and then it ends." + (" A third sentence closes it." if i % 2 else "")
        for i in range(blocks)
    ]
    return DocumentText(
        hashlib.sha256(b"loudness document").hexdigest(),
        "loud.pdf",
        "Loud",
        1,
        blocks=tuple(
            Block(i, 1, i, text, tuple(s.strip() + "." for s in text.split(".") if s.strip()))
            for i, text in enumerate(texts)
        ),
    )


@pytest.fixture
def server() -> Iterator[SpeechServer]:
    with SpeechServer() as running:
        running.retry_after_on_500 = "0"  # retried at once: the test stays fast
        running.amplitude = 0.03  # ≈ 20 dB quieter than the fake tone
        yield running


def test_two_engines_in_one_document_end_within_1_lu(home: Path, server: SpeechServer) -> None:
    """An engine chain (a quiet OpenAI-protocol server, then the fake tone): the chunks
    the server failed on are the fake's; every chunk ends at the target ±1 LU."""
    server.fail_when = lambda text: "Paragraph 2 " in text or "Paragraph 5 " in text
    settings = Settings.load(
        {
            "PREREAD_PROVIDER": "openai,fake",
            "OPENAI_API_KEY": KEY,
            "OPENAI_BASE_URL": server.base_url,
            "PREREAD_BREAKER_FAILURES": "10",
        },
        home=str(home),
    )
    library = Library(settings)
    doc = document(7)
    try:
        summary = library.pregenerate(doc)
    finally:
        library.close()
    assert summary.state == "complete"
    manifest = library.manifest(doc.document_id)
    assert manifest is not None and manifest.level == LEVEL
    by_engine: dict[str, list[float]] = {}
    for entry in manifest.chunks:
        samples, rate = decode(library.chunk_path(doc.document_id, entry).read_bytes())
        assert abs(len(samples) / rate - (entry.duration or 0)) < 0.002  # times unchanged
        engine = entry.spoken_by[0] if entry.spoken_by else "openai"
        by_engine.setdefault(engine, []).append(lufs(samples, rate))
        assert true_peak_db(samples) <= CEILING_DBTP + 0.1
    assert len(by_engine["fake"]) == 2 and len(by_engine["openai"]) == 5
    everything = [v for values in by_engine.values() for v in values]
    assert max(everything) - min(everything) <= 1.0
    assert all(abs(v - TARGET_LUFS) <= 1.0 for v in everything)
    # the voices really differ: each gain was measured once and stored
    gains = {}
    for path in (home / "voices").glob("*.loudness.json"):
        data = json.loads(path.read_text("utf-8"))
        gains[data["provider"]] = (data["measuredLufs"], data["gainDb"])
    assert set(gains) == {"openai", "fake"}
    assert gains["fake"][0] - gains["openai"][0] > 15  # ≈ 20 dB apart as made
    assert len(server.references) == 1  # measured once, not per chunk


def test_one_gain_per_voice_measured_once(home: Path) -> None:
    """Two fake voices ≈ 9.5 dB apart both end at the target, each with its own gain."""
    provider = FakeProvider()
    levels = Levels(home)
    for name in ("tone", "low"):
        voice = ResolvedVoice("fake", "tone-1", name, 1.0, "mp3")
        gain = levels.gain(provider, voice)
        assert gain is not None
        chunks = list(
            levels.speak(
                provider,
                ["One short sentence, spoken here.", "And another one, a little longer."],
                voice,
            )
        )
        for chunk in chunks:
            samples = np.frombuffer(chunk.pcm, dtype="<i2")
            assert abs(lufs(samples, chunk.sample_rate) - TARGET_LUFS) <= 1.0
        assert levels.gain(provider, voice) == gain  # stored: no second measurement
    stored = sorted(json.loads(p.read_text())["gainDb"] for p in (home / "voices").iterdir())
    # low = 0.1 (220 Hz), tone = 0.3 (440 Hz): 9.5 dB, plus the K-weighting of 220 Hz
    assert stored[1] - stored[0] == pytest.approx(9.5, abs=0.5)


def test_level_keeps_length_and_the_ceiling() -> None:
    rate = 22050
    t = np.arange(rate * 2) / rate
    speechy = 0.25 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2
    speechy[rate // 2 : rate // 2 + 50] = 0.9  # a click far above the rest
    pcm = (speechy * 32767).astype("<i2").tobytes()
    out = np.frombuffer(level(pcm, rate, 6.0), dtype="<i2")
    assert len(out) == len(pcm) // 2
    assert true_peak_db(out) <= CEILING_DBTP
    raw = np.frombuffer(pcm, dtype="<i2")
    # away from the click, exactly the gain: the limiter touched the peak only
    far = slice(rate, rate + 2000)
    assert np.allclose(out[far], raw[far] * 10 ** (6 / 20), atol=2)
    assert level(pcm, rate, 0.0) == pcm


def test_the_level_is_part_of_the_voice(home: Path) -> None:
    """Audio made before levelling (level "") keeps its own content keys and is never
    levelled: a stored blob is never replaced by other bytes."""
    now = ResolvedVoice("fake", "tone-1", "tone", 1.0, "mp3")
    before = ResolvedVoice("fake", "tone-1", "tone", 1.0, "mp3", level="")
    assert now.level == LEVEL
    assert blob_key("Some text.", now) != blob_key("Some text.", before)
    assert Levels(home).gain(FakeProvider(), before) is None
    assert not (home / "voices").exists()
