"""An engine chain (openai,fake) against a real local OpenAI-protocol server."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from openai_server import SpeechServer
from preread.blobs import blob_key
from preread.errors import BadSettings
from preread.library import Library
from preread.model import Block, DocumentText
from preread.settings import Settings

KEY = "sk-chain-secret-0123456789"
DOC_ID = hashlib.sha256(b"engine chain document").hexdigest()


def _document(blocks: int = 6) -> DocumentText:
    return DocumentText(
        DOC_ID,
        "chain.pdf",
        "Chain",
        1,
        blocks=tuple(
            Block(i, 1, i, f"Block number {i} speaks. It has two sentences.",
                  (f"Block number {i} speaks.", "It has two sentences."))
            for i in range(blocks)
        ),
    )  # fmt: skip


@pytest.fixture
def server() -> Iterator[SpeechServer]:
    with SpeechServer() as running:
        running.retry_after_on_500 = "0"  # retried at once: the test stays fast
        yield running


def library_for(home: Path, server: SpeechServer, **env: str) -> Library:
    settings = Settings.load(
        {
            "PREREAD_PROVIDER": "openai,fake",
            "OPENAI_API_KEY": KEY,
            "OPENAI_BASE_URL": server.base_url,
            "PREREAD_BREAKER_FAILURES": "2",
            **env,
        },
        home=str(home),
    )
    return Library(settings)


def speech_requests(server: SpeechServer) -> int:
    return sum(1 for r in server.requests if r.path.endswith("/audio/speech"))


def test_settings_name_a_chain() -> None:
    settings = Settings.load({"PREREAD_PROVIDER": "OpenAI, piper"}, home="/tmp/x")
    assert settings.voice.provider == "openai" and settings.fallback_providers == ("piper",)
    assert (settings.breaker_failures, settings.breaker_cooldown) == (5, 300.0)
    flagged = Settings.load({"PREREAD_PROVIDER": "piper"}, home="/tmp/x", provider="openai,fake")
    assert (flagged.voice.provider, flagged.fallback_providers) == ("openai", ("fake",))
    with pytest.raises(BadSettings, match="named twice"):
        Settings.load({"PREREAD_PROVIDER": "fake,fake"}, home="/tmp/x")
    with pytest.raises(BadSettings, match="PREREAD_BREAKER_FAILURES"):
        Settings.load({"PREREAD_BREAKER_FAILURES": "0"}, home="/tmp/x")
    with pytest.raises(BadSettings, match="PREREAD_BREAKER_COOLDOWN"):
        Settings.load({"PREREAD_BREAKER_COOLDOWN": "soon"}, home="/tmp/x")


def test_failing_primary_opens_its_breaker_and_the_fallback_speaks(
    home: Path, server: SpeechServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.default = "500"
    library = library_for(home, server)
    caplog.set_level(logging.WARNING, logger="preread.tts")
    try:
        summary = library.pregenerate(_document())
        assert summary.state == "complete" and not summary.failures
        # two chunks failed on openai (5 attempts each), then its breaker opened: no more
        # asks (openai runs 2 requests at once: one more chunk may have been in flight)
        assert speech_requests(server) in (2 * 5, 3 * 5)
        assert library.engines.breaker("openai").state == "open"
        opened = [r for r in caplog.records if "openai failed 2 times in a row" in r.message]
        assert len(opened) == 1
        manifest = library.manifest(DOC_ID)
        assert manifest is not None and manifest.tts_provider == "openai"
        fallback = library.engines.provider_for("fake")
        asked = library.resolve_voice(library.settings.voice)
        for entry in manifest.chunks:
            assert entry.status == "done"
            assert entry.spoken_by is not None and entry.spoken_by[0] == "fake"
            spoken = fallback.resolve(
                library.settings.voice.__class__(provider="fake", format=asked.format)
            )
            # stored under the fallback voice's key, never under the asked voice's
            assert library.store.blob_path(blob_key(entry.text, spoken), "mp3").is_file()
            assert not library.store.blob_path(blob_key(entry.text, asked), "mp3").exists()
        written = json.loads(library.store.manifest_path(DOC_ID).read_text())
        assert written["chunks"][0]["spokenBy"]["provider"] == "fake"
        assert KEY not in library.store.manifest_path(DOC_ID).read_text()
    finally:
        library.close()


def test_a_healthy_primary_speaks_and_nothing_is_marked(home: Path, server: SpeechServer) -> None:
    library = library_for(home, server)
    try:
        assert library.pregenerate(_document(2)).state == "complete"
        manifest = library.manifest(DOC_ID)
        assert manifest is not None
        assert all(e.spoken_by is None for e in manifest.chunks)
        assert "spokenBy" not in library.store.manifest_path(DOC_ID).read_text()
        assert library.engines.breaker("openai").state == "closed"
    finally:
        library.close()


@pytest.mark.parametrize(("answer", "words"), [("401", "API key"), ("404-voice", "not found")])
def test_a_refusal_opens_the_breaker_at_once_and_is_reported_once(
    home: Path, server: SpeechServer, caplog: pytest.LogCaptureFixture, answer: str, words: str
) -> None:
    server.default = answer
    library = library_for(home, server, PREREAD_BREAKER_FAILURES="5")
    caplog.set_level(logging.WARNING, logger="preread.tts")
    try:
        summary = library.pregenerate(_document())
        assert summary.state == "complete"
        # one refusal (two at most: openai runs 2 requests at once); never asked again
        assert speech_requests(server) in (1, 2)
        refused = [r for r in caplog.records if "openai refused" in r.message]
        assert len(refused) == 1 and words in refused[0].message
        assert KEY not in caplog.text
        manifest = library.manifest(DOC_ID)
        assert manifest is not None
        assert all(e.spoken_by and e.spoken_by[0] == "fake" for e in manifest.chunks)
    finally:
        library.close()
