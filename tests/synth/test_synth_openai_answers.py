"""A speech server's answers are checked before they are stored; its errors told safely.

Against the real local server speaking OpenAI's protocol (``tests/openai_server.py``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from openai_server import SpeechServer
from preread.errors import SynthesisFailed
from preread.model import Block, DocumentText
from preread.preprocess import run_preprocess
from preread.server import create_app
from preread.settings import Settings, VoiceSettings
from preread.store import Store
from preread.tts.openai import OpenAIProvider

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
from serverkit import quiet_options, register_document
from starlette.testclient import TestClient

KEY = "sk-answers-secret-5566778899"
VOICE = VoiceSettings(provider="openai")
SENTENCES = ["The lighthouse keeper climbs the stairs.", "He lights the lamp at dusk."]


@pytest.fixture
def server() -> Iterator[SpeechServer]:
    with SpeechServer() as running:
        yield running


def provider_for(server: SpeechServer, attempts: int = 3) -> OpenAIProvider:
    return OpenAIProvider(KEY, server.base_url, max_attempts=attempts, sleep=lambda _: None)


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("noise-mpeg", "the server answered audio/mpeg, not the PCM audio asked for"),
        ("mp3", "the server answered audio/mpeg, not the PCM audio asked for"),
        ("mp3-as-pcm", "the server answered MP3 audio labelled audio/pcm"),
        ("html", "the server answered text/html, not the PCM audio asked for"),
        ("silence", "the audio is silence"),
        (
            "short",
            "the audio is too short: 0.10 s for 55 letters and digits (at least 1.27 s at speed 1)",
        ),
    ],
)
def test_an_unusable_answer_is_retried_then_fails_with_its_reason(
    server: SpeechServer, answer: str, reason: str
) -> None:
    server.default = answer
    provider = provider_for(server)
    with pytest.raises(SynthesisFailed) as caught:
        list(provider.synthesize(SENTENCES, provider.resolve(VOICE)))
    assert len(server.requests) == 3  # retried, like a failed request
    assert str(caught.value).startswith("openai failed after 3 attempts: " + reason)


def test_a_bad_answer_then_a_good_one_gives_the_good_audio(server: SpeechServer) -> None:
    server.script = ["mp3", "silence"]  # then "ok"
    provider = provider_for(server)
    chunks = list(provider.synthesize(SENTENCES, provider.resolve(VOICE)))
    assert len(server.requests) == 3 and sum(c.duration for c in chunks) > 1.0


def test_a_rejected_answer_is_never_stored(server: SpeechServer, store: Store) -> None:
    """The chunk is failed with the reason, nothing reaches blobs/, a re-run makes it."""
    text = "A block the broken server cannot speak. It answers silence."
    block = Block(0, 1, 0, text, tuple(s.strip() + "." for s in text.split(".") if s.strip()))
    doc = DocumentText("cd" * 32, "d.pdf", "d", 1, blocks=(block,))
    server.default = "silence"
    summary = run_preprocess(store, provider_for(server, attempts=2), doc, VOICE)
    assert summary.state == "failed"
    (chunk,) = store.require_manifest(doc.document_id).chunks
    assert chunk.status == "failed"
    assert (
        chunk.error
        == "openai failed after 2 attempts: the audio is silence (loudest 10 ms at -120 dBFS)"
    )
    assert not any(p.is_file() for p in store.blobs_dir.rglob("*"))
    server.default = "ok"
    summary = run_preprocess(store, provider_for(server), doc, VOICE)
    assert summary.state == "complete" and summary.generated == 1


@pytest.mark.parametrize("answer", ["leaky-500", "leaky-400"])
def test_a_provider_error_body_never_reaches_the_manifest(
    server: SpeechServer, store: Store, answer: str
) -> None:
    text = "Any block at all. The server errs."
    block = Block(0, 1, 0, text, ("Any block at all.", "The server errs."))
    doc = DocumentText("ef" * 32, "d.pdf", "d", 1, blocks=(block,))
    server.default = answer
    run_preprocess(store, provider_for(server, attempts=2), doc, VOICE)
    (chunk,) = store.require_manifest(doc.document_id).chunks
    status = answer.removeprefix("leaky-")
    assert chunk.status == "failed" and f"HTTP {status} test" in (chunk.error or "")
    written = store.manifest_path(doc.document_id).read_text()
    for leak in (KEY, "hunter2", "Traceback", "/srv/tts", "Bearer sk"):
        assert leak not in written


def test_a_502_body_of_an_unauthenticated_get_tells_no_secret(
    server: SpeechServer, home: Path, store: Store
) -> None:
    server.default = "leaky-500"
    settings = Settings(home=home, voice=VOICE)
    provider = provider_for(server, attempts=1)
    doc = register_document(store)
    app = create_app(settings, provider=provider, options=quiet_options())
    with TestClient(app) as client:
        response = client.get(f"/api/tts/chunk?documentId={doc}&index=0")
    assert response.status_code == 502
    body = response.text
    assert "HTTP 500 test" in body
    for leak in (KEY, "hunter2", "Traceback", "/srv/tts", "app.py"):
        assert leak not in body
