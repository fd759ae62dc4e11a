"""One loudness: a gain per voice (measured once over a reference text) and fixed dynamics
bring chunks of different engines, and consecutive chunks of one engine, within 1 LU,
measured with pyloudnorm on the decoded chunk files."""

from __future__ import annotations

import hashlib
import itertools
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
from preread.errors import Conflict
from preread.library import Library
from preread.manifest import ChunkEntry
from preread.model import Block, DocumentText
from preread.settings import Settings
from preread.tts.dynamics import limit
from preread.tts.fake import FakeProvider
from preread.tts.loudness import (
    BOUND_DB,
    CEILING_DBTP,
    LEVEL,
    TARGET_LUFS,
    Levels,
    identity,
    integrated,
    level,
)
from preread.voice import ResolvedVoice

KEY = "sk-loudness-secret-0123456789"


def lufs(samples: np.ndarray, rate: int) -> float:
    return float(pyloudnorm.Meter(rate).integrated_loudness(samples / 32768.0))


def true_peak_db(samples: np.ndarray) -> float:
    return float(20 * np.log10(np.abs(resample_poly(samples / 32768.0, 4, 1)).max()))


# Blocks of two sentences each that Piper, scaling every sentence to full-scale peaks
# (and a gain and limiter only), delivered ≈ 2.3 LU apart, quiet, loud, quiet, loud:
# the first sentences' sharp consonants stand far above their level.
PIPER_BLOCKS = (
    (
        "Passed morning while walked out from museum by museum from.",
        "Lasted the while light tower to to rang looked night written above visitors by.",
    ),
    (
        "Walked slowly where often days fishermen along bay west.",
        "Small ships while water read burned stopped logbooks brave careful hands small lamp.",
    ),
    (
        "Passed rain came from looked through village island ships read narrow fishermen.",
        "To to every passed careful where in path winter path?",
    ),
    (
        "Crew crew written days three narrow who every before lamp ships.",
        "Slowly visitors quiet in from storm bay water rang lamp?",
    ),
)


def document(blocks: int) -> DocumentText:
    texts = [
        f"Paragraph {i} tells its story. It has a second sentence, a little longer than the "
        f"first one, and then it ends." + (" A third sentence closes it." if i % 2 else "")
        for i in range(blocks)
    ]
    return text_document(
        [tuple(s.strip() + "." for s in text.split(".") if s.strip()) for text in texts]
    )


def text_document(sentences: list[tuple[str, ...]]) -> DocumentText:
    return DocumentText(
        hashlib.sha256(repr(sentences).encode()).hexdigest(),
        "loud.pdf",
        "Loud",
        1,
        blocks=tuple(Block(i, 1, i, " ".join(block), block) for i, block in enumerate(sentences)),
    )


def levelled_chunks(library: Library, doc: DocumentText) -> list[tuple[ChunkEntry, float]]:
    """Pre-generates ``doc`` and decodes every chunk: each one's duration is exact and its
    true peak under the ceiling; returns each chunk's entry and loudness (LUFS)."""
    try:
        summary = library.pregenerate(doc)
    finally:
        library.close()
    assert summary.state == "complete"
    manifest = library.manifest(doc.document_id)
    assert manifest is not None and manifest.level == LEVEL
    measured = []
    for entry in manifest.chunks:
        samples, rate = decode(library.chunk_path(doc.document_id, entry).read_bytes())
        assert abs(len(samples) / rate - (entry.duration or 0)) < 0.002  # times unchanged
        assert true_peak_db(samples) <= CEILING_DBTP + 0.1
        measured.append((entry, lufs(samples, rate)))
    return measured


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
    by_engine: dict[str, list[float]] = {}
    for entry, loudness in levelled_chunks(Library(settings), document(7)):
        engine = entry.spoken_by[0] if entry.spoken_by else "openai"
        by_engine.setdefault(engine, []).append(loudness)
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


def test_consecutive_piper_chunks_end_within_1_lu(home: Path) -> None:
    """The real embedded voice on varied text: consecutive chunks (decoded) within 1 LU,
    at the target; durations exact, peaks under the ceiling. Without the fixed dynamics
    (Piper's per-sentence peak scaling, a gain and a limiter) these were ≈ 2.3 LU apart."""
    library = Library(Settings.load({"PREREAD_PROVIDER": "piper"}, home=str(home)))
    doc = text_document(list(PIPER_BLOCKS))
    levels = [loudness for _, loudness in levelled_chunks(library, doc)]
    steps = [abs(a - b) for a, b in itertools.pairwise(levels)]
    assert max(steps) <= 1.0, levels
    assert all(abs(v - TARGET_LUFS) <= 1.0 for v in levels), levels


def test_a_quiet_sentence_is_raised_a_bounded_amount() -> None:
    """The slow leveller moves a sentence towards the target by at most ``BOUND_DB``: a
    whisper 10 dB under its neighbour ends more than 5 dB under it."""
    rate = 22050
    t = np.arange(rate * 3) / rate
    syllables = (np.sin(2 * np.pi * 4 * t) > -0.3).astype(float)  # speech-like on/off
    voice = np.sin(2 * np.pi * 180 * t) * syllables
    loudness = {}
    for name, amplitude in (("normal", 0.12), ("quiet", 0.12 / 10 ** (10 / 20))):
        pcm = np.round(voice * amplitude * 32767).astype("<i2")
        out = np.frombuffer(level(pcm.tobytes(), rate, 0.0), dtype="<i2")
        assert len(out) == len(pcm)
        before, after = integrated(pcm, rate), integrated(out, rate)
        assert after - before <= BOUND_DB + 0.05  # never lifted more than the bound
        loudness[name] = (before, after)
    assert loudness["quiet"][1] - loudness["quiet"][0] == pytest.approx(BOUND_DB, abs=0.1)
    assert loudness["normal"][1] - loudness["quiet"][1] > 5.0


def test_level_keeps_length_and_the_ceiling() -> None:
    rate = 22050
    t = np.arange(rate * 2) / rate
    speechy = 0.25 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2
    speechy[rate // 2 : rate // 2 + 50] = 0.9  # a click far above the rest
    pcm = (speechy * 32767).astype("<i2").tobytes()
    out = np.frombuffer(level(pcm, rate, 6.0), dtype="<i2")
    assert len(out) == len(pcm) // 2
    assert true_peak_db(out) <= CEILING_DBTP
    # the limiter alone: away from the click the gain is 1, it touched the peak only
    x = speechy * 10 ** (6 / 20)
    gain = limit(x, rate, 10 ** ((CEILING_DBTP - 2.0) / 20))
    assert np.all(gain[rate : rate + 2000] == 1.0) and gain[rate // 2 + 25] < 0.5


def test_the_level_names_its_parameters() -> None:
    """``LEVEL`` (in content keys) is what ``identity()`` derives from the levelling's
    parameters: changing one without changing the identity fails here."""
    assert identity() == LEVEL
    assert LEVEL != "lufs-16/dbtp-1.5/1"  # gain and limiter only: other bytes, other keys


def test_the_level_is_part_of_the_voice(home: Path) -> None:
    """Audio made before levelling (level "") keeps its own content keys and is never
    levelled: a stored blob is never replaced by other bytes."""
    now = ResolvedVoice("fake", "tone-1", "tone", 1.0, "mp3")
    before = ResolvedVoice("fake", "tone-1", "tone", 1.0, "mp3", level="")
    assert now.level == LEVEL
    assert blob_key("Some text.", now) != blob_key("Some text.", before)
    assert Levels(home).gain(FakeProvider(), before) is None
    assert not (home / "voices").exists()
    earlier = ResolvedVoice("fake", "tone-1", "tone", 1.0, "mp3", level="lufs-16/dbtp-1.5/1")
    with pytest.raises(Conflict, match=r"an earlier levelling.*preprocess the document again"):
        Levels(home).gain(FakeProvider(), earlier)
