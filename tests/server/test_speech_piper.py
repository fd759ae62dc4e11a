"""With the real embedded voice: assembled answers never load it, and cut at its word times."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import openai
import pytest
import soundfile as sf

from liveserver import running_server
from preread.model import Block, DocumentText
from preread.preprocess import run_preprocess
from preread.settings import VoiceSettings
from preread.store import Store
from preread.tts.piper import PiperProvider

SENTENCES = (
    "The keeper climbed the long stairs at dusk.",
    "Far out at sea, a ship saw the light and turned toward the harbour.",
)


def _voice_loaded(pid: int) -> bool:
    """Whether the server process has mapped the ONNX runtime (Piper loads it)."""
    return "onnxruntime" in Path(f"/proc/{pid}/maps").read_text()


@pytest.mark.slow
def test_assembled_piper_speech_never_loads_the_voice(home: Path) -> None:
    store = Store(home)
    block = Block(0, 1, 0, " ".join(SENTENCES), SENTENCES)
    doc = DocumentText("7a" * 32, "keeper.pdf", "Keeper", 1, blocks=(block,))
    provider = PiperProvider(workers=1, models_dir=home / "models")
    assert run_preprocess(store, provider, doc, VoiceSettings()).state == "complete"
    (entry,) = store.require_manifest(doc.document_id).chunks
    ship = entry.sentences[1]
    assert ship.words is not None
    with running_server(home, PREREAD_PROVIDER="piper") as (base, process):
        client = openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0)
        # the second sentence from its fourth word ("sea,"), as a reader might cut it
        text = " ".join(SENTENCES[1].split()[3:])
        raw = client.audio.speech.with_raw_response.create(
            model="kokoro", voice="af_sky", input=text
        )
        assert raw.headers["x-cache"] == "ASSEMBLED"
        assert raw.headers["x-preread-synthesized-chars"] == "0"
        samples, rate = sf.read(io.BytesIO(raw.content), dtype="int16")
        cut = (ship.words[2][1] + ship.words[3][0]) / 2
        assert abs(len(samples) / rate - (ship.end - cut)) <= 0.050
        assert not _voice_loaded(process.pid)
        piper = httpx.get(f"{base}/healthz", timeout=10).json()["providers"]["piper"]
        assert "sentencesByThreads" not in piper  # nothing synthesized yet
        raw = client.audio.speech.with_raw_response.create(
            model="tts-1", voice="alloy", input="A gull landed on the rail."
        )
        assert raw.headers["x-cache"] == "MISS"
        assert _voice_loaded(process.pid)
        # the sentence (and the voice's level, measured once): counted by ONNX session
        piper = httpx.get(f"{base}/healthz", timeout=10).json()["providers"]["piper"]
        by_threads = piper["sentencesByThreads"]
        assert set(by_threads) <= {"1", "2"} and sum(by_threads.values()) >= 1
