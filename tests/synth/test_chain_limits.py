"""An engine chain's limits, live: per-provider timeouts and retry budgets, a hanging
primary, Retry-After, the breaker's half-open probe with the real Piper voice as the
fallback, ``--upgrade`` and the fallback's single flight, against a real local
OpenAI-protocol server."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from openai_server import SpeechServer
from preread.blobs import blob_key
from preread.errors import BadSettings
from preread.library import Library
from preread.limits import ProviderLimits
from preread.model import Block, DocumentText
from preread.settings import Settings, VoiceSettings

KEY = "sk-limits-secret-0123456789"


def _document(texts: list[str], salt: str = "") -> DocumentText:
    digest = hashlib.sha256(repr((texts, salt)).encode()).hexdigest()
    blocks = []
    for i, text in enumerate(texts):
        sentences = tuple(s if s.endswith(".") else s + "." for s in text.split(". ") if s)
        blocks.append(Block(i, 1, i, text, sentences))
    return DocumentText(digest, "limits.pdf", "Limits", 1, blocks=tuple(blocks))


def _numbered(n: int, salt: str = "") -> DocumentText:
    return _document([f"Block {i} of {n} speaks. A second sentence." for i in range(n)], salt)


@pytest.fixture
def server() -> Iterator[SpeechServer]:
    with SpeechServer() as running:
        running.retry_after_on_500 = "0"
        yield running


def library_for(
    home: Path, server: SpeechServer, chain: str = "openai,fake", **env: str
) -> Library:
    settings = Settings.load(
        {
            "PREREAD_PROVIDER": chain,
            "OPENAI_API_KEY": KEY,
            "OPENAI_BASE_URL": server.base_url,
            **env,
        },
        home=str(home),
    )
    return Library(settings)


def speech(server: SpeechServer) -> list[str]:
    """The inputs the server was asked to speak, in order."""
    return [str(r.body.get("input")) for r in server.requests if r.path.endswith("/audio/speech")]


def test_limits_are_read_per_provider_else_for_all() -> None:
    env = {
        "PREREAD_PROVIDER": "openai,piper",
        "PREREAD_OPENAI_TIMEOUT": "7.5",
        "PREREAD_RETRIES": "2",
        "PREREAD_OPENAI_BREAKER_WINDOW": "8",
        "PREREAD_OPENAI_BREAKER_RATE_FAILURES": "3",
        "PREREAD_BREAKER_COOLDOWN": "30",
    }
    settings = Settings.load(env, home="/tmp/x")
    openai = settings.limits_for("openai")
    assert (openai.timeout, openai.retries, openai.attempts) == (7.5, 2, 3)
    assert (openai.breaker_window, openai.breaker_rate_failures) == (8, 3)
    assert openai.breaker_cooldown == 30 and openai.breaker_failures == 5
    piper = settings.limits_for("piper")
    assert (piper.timeout, piper.retries, piper.breaker_window) == (60.0, 2, 20)
    assert settings.breaker_cooldown == 30
    assert ProviderLimits() == ProviderLimits.load({}, "openai")  # the documented defaults
    for bad, words in [
        ({"PREREAD_OPENAI_TIMEOUT": "0"}, "PREREAD_OPENAI_TIMEOUT"),
        ({"PREREAD_OPENAI_RETRIES": "-1"}, "PREREAD_OPENAI_RETRIES"),
        ({"PREREAD_RETRY_BUDGET": "soon"}, "PREREAD_RETRY_BUDGET"),
        ({"PREREAD_BREAKER_WINDOW": "4", "PREREAD_BREAKER_RATE_FAILURES": "5"}, "at most"),
        ({"PREREAD_PIPER_BREAKER_COOLDOWN": "inf"}, "PREREAD_PIPER_BREAKER_COOLDOWN"),
    ]:
        with pytest.raises(BadSettings, match=words):
            Settings.load({"PREREAD_PROVIDER": "openai,piper", **bad}, home="/tmp/x")


def test_a_hanging_primary_times_out_and_the_fallback_finishes_the_job(
    home: Path, server: SpeechServer
) -> None:
    server.default = "hang"  # never answers
    library = library_for(
        home, server, PREREAD_OPENAI_TIMEOUT="0.3", PREREAD_OPENAI_RETRIES="1",
        PREREAD_BREAKER_FAILURES="2",
    )  # fmt: skip
    started = time.monotonic()
    try:
        summary = library.pregenerate(_numbered(6))
        elapsed = time.monotonic() - started
        assert summary.state == "complete" and not summary.failures
        manifest = library.manifest(summary.progress.document_id)
        assert manifest is not None
        assert all(e.spoken_by and e.spoken_by[0] == "fake" for e in manifest.chunks)
        # two chunks waited 2 × 0.3 s each, then the breaker opened (a third may have
        # been under way); without the timeout the job would still be waiting
        assert len(speech(server)) in (4, 6)
        assert library.engines.breaker("openai").state == "open"
        assert elapsed < 30
    finally:
        library.close()


def test_retry_after_is_honoured_within_the_budget(home: Path, server: SpeechServer) -> None:
    server.script = ["429"]
    server.retry_after = "0.4"
    library = library_for(home, server, PREREAD_OPENAI_RETRY_BUDGET="5")
    try:
        summary = library.pregenerate(_numbered(1))
        assert summary.state == "complete"
        manifest = library.manifest(summary.progress.document_id)
        assert manifest is not None and manifest.chunks[0].spoken_by is None  # openai spoke
        first, second = (r for r in server.requests if r.path.endswith("/audio/speech"))
        assert (first.answer, second.answer) == ("429", "ok")
        assert second.at - first.at >= 0.4  # it waited what the server asked
    finally:
        library.close()


def test_a_retry_after_beyond_the_budget_goes_to_the_fallback_at_once(
    home: Path, server: SpeechServer
) -> None:
    server.script = ["429"]
    server.retry_after = "600"
    library = library_for(home, server, PREREAD_OPENAI_RETRY_BUDGET="1")
    try:
        summary = library.pregenerate(_numbered(1))
        assert summary.state == "complete"
        manifest = library.manifest(summary.progress.document_id)
        assert manifest is not None and manifest.chunks[0].spoken_by is not None
        assert speech(server) == [manifest.chunks[0].text]  # asked once, never waited 600 s
        assert library.engines.breaker("openai").state == "closed"  # one failure of five
    finally:
        library.close()


def test_a_failure_rate_opens_the_breaker_without_failures_in_a_row(
    home: Path, server: SpeechServer, caplog: pytest.LogCaptureFixture
) -> None:
    odd = {f"Block {i} of 12 speaks. A second sentence." for i in range(1, 12, 2)}
    server.fail_when = lambda text: text in odd  # every other chunk fails
    library = library_for(
        home, server, PREREAD_OPENAI_RETRIES="0", PREREAD_BREAKER_WINDOW="6",
        PREREAD_BREAKER_RATE_FAILURES="3",
    )  # fmt: skip
    library.provider_for("openai").concurrency = 1  # type: ignore[attr-defined]
    caplog.set_level(logging.WARNING, logger="preread.tts")
    try:
        summary = library.pregenerate(_numbered(12))
        assert summary.state == "complete"
        # chunks 0-5 asked: 1, 3, 5 failed (never two in a row) → open; 6-11 not asked
        assert len(speech(server)) == 6
        assert [r.message for r in caplog.records if "3 of its last 6" in r.message]
        manifest = library.manifest(summary.progress.document_id)
        assert manifest is not None
        spoken = [e.spoken_by[0] if e.spoken_by else "openai" for e in manifest.chunks]
        assert spoken == ["openai", "fake"] * 3 + ["fake"] * 6
    finally:
        library.close()


@pytest.mark.slow
def test_breaker_half_opens_after_the_cooldown_and_upgrade_redoes_only_fallback_chunks(
    home: Path, server: SpeechServer, caplog: pytest.LogCaptureFixture
) -> None:
    texts = [
        "The lamp was lit at dusk.",
        "The keeper climbed the stairs.",
        "A ship saw the light.",
        "The sea was calm.",
        "Morning came at last.",
    ]
    failing = set(texts[2:])
    server.fail_when = lambda text: text in failing
    library = library_for(
        home, server, "openai,piper", PREREAD_OPENAI_RETRIES="0",
        PREREAD_BREAKER_FAILURES="2", PREREAD_BREAKER_COOLDOWN="3",
    )  # fmt: skip
    library.provider_for("openai").concurrency = 1  # type: ignore[attr-defined]
    caplog.set_level(logging.WARNING, logger="preread.tts")
    document = _document(texts)
    doc = document.document_id
    breaker = library.engines.breaker("openai")
    try:
        summary = library.pregenerate(document)
        assert summary.state == "complete" and summary.progress.fallback == 3
        # blocks 2 and 3 failed: open; block 4 went to Piper without asking openai
        assert speech(server) == texts[:4]
        assert len([r for r in caplog.records if "2 times in a row" in r.message]) == 1
        manifest = library.manifest(doc)
        assert manifest is not None
        spoken = [e.spoken_by for e in manifest.chunks]
        assert spoken[:2] == [None, None]
        assert spoken[2:] == [("piper", "en_US-joe-medium", "joe")] * 3
        status = library.status(doc)
        assert (status["done"], status["fallback"]) == (5, 3)
        assert library.listing()[0]["fallback"] == 3

        # verify finds a fallback chunk's blob under the voice that spoke it
        library.chunk_path(doc, manifest.chunks[3]).unlink()
        (check,) = library.verify([doc])
        assert check.ok and [p.action for p in check.problems] == ["relinked"]

        # the primary is back; after the cool-down one probe goes through, then all
        server.fail_when = None
        deadline = time.monotonic() + 10
        while breaker.state != "half-open" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert breaker.state == "half-open"
        asked = len(speech(server))
        upgraded = library.pregenerate(document, upgrade=True)
        assert upgraded.upgraded == 3 and upgraded.state == "complete"
        assert speech(server)[asked:] == texts[2:]  # exactly the fallback's chunks
        assert breaker.state == "closed"
        after = library.manifest(doc)
        assert after is not None and all(e.spoken_by is None for e in after.chunks)
        assert library.status(doc)["fallback"] == 0
        asked = len(speech(server))
        again = library.pregenerate(document, upgrade=True)  # nothing left to upgrade
        assert again.skipped == 5 and len(speech(server)) == asked
    finally:
        library.close()


def test_a_fallback_chunk_waits_for_its_own_keys_flight(home: Path, server: SpeechServer) -> None:
    server.default = "401"  # the primary refuses: the fallback speaks every chunk
    library = library_for(home, server)
    document = _numbered(1, "flight")
    fallback = library.provider_for("fake").resolve(VoiceSettings(provider="fake"))
    fallback_key = blob_key(document.blocks[0].text, fallback)
    results: list[object] = []
    library.flights.lead(fallback_key, "another maker")  # e.g. /v1/audio/speech
    runner = threading.Thread(target=lambda: results.append(library.pregenerate(document)))
    try:
        runner.start()
        deadline = time.monotonic() + 10
        while not speech(server) and time.monotonic() < deadline:
            time.sleep(0.05)
        runner.join(1.0)
        assert runner.is_alive()  # waiting for the flight of the key it would make
        assert not library.store.blob_path(fallback_key, "mp3").exists()
    finally:
        library.flights.land(fallback_key)
        runner.join(30)
        library.close()
    assert results and results[0].state == "complete"  # type: ignore[attr-defined]
    assert library.store.blob_path(fallback_key, "mp3").is_file()
