"""The OpenAI provider against a real local server speaking /v1/audio/speech."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from openai_server import GAP, RATE, SECONDS_PER_CHAR, SpeechServer
from preread.blobs import blob_key
from preread.errors import BadSettings, SynthesisFailed
from preread.model import Block, DocumentText
from preread.preprocess import run_preprocess
from preread.settings import VoiceSettings
from preread.store import Store
from preread.tts.openai import OpenAIProvider, split_by_share

KEY = "sk-test-secret-0123456789"
VOICE = VoiceSettings(provider="openai")
SENTENCES = ["Hello there.", "This is the second sentence, a bit longer than the first."]


@pytest.fixture
def server() -> Iterator[SpeechServer]:
    with SpeechServer() as running:
        yield running


def provider_for(server: SpeechServer, sleeps: list[float], **kwargs: float) -> OpenAIProvider:
    return OpenAIProvider(KEY, server.base_url, sleep=sleeps.append, **kwargs)  # type: ignore[arg-type]


def test_one_request_per_block_cut_into_sentences(server: SpeechServer) -> None:
    provider = provider_for(server, [])
    voice = provider.resolve(VoiceSettings(provider="openai", speed=1.25, instructions="calm"))
    chunks = list(provider.synthesize(SENTENCES, voice))
    assert [c.text for c in chunks] == SENTENCES and {c.sample_rate for c in chunks} == {RATE}
    (request,) = server.requests
    assert request.path == "/v1/audio/speech" and request.authorization == f"Bearer {KEY}"
    assert request.body == {
        "model": "gpt-4o-mini-tts",
        "voice": "alloy",
        "input": " ".join(SENTENCES),
        "response_format": "pcm",
        "speed": 1.25,
        "instructions": "calm",
    }
    first_tone = len(SENTENCES[0]) * SECONDS_PER_CHAR
    cut = chunks[0].duration
    assert first_tone - 0.01 <= cut <= first_tone + GAP + 0.01  # the cut is in the pause


def test_split_by_share_finds_the_pauses() -> None:
    rng = np.random.default_rng(1)
    loud = [rng.normal(0, 3000, n).astype("<i2") for n in (RATE, 2 * RATE, RATE // 2)]
    gap = np.zeros(RATE // 5, dtype="<i2")
    pcm = np.concatenate([loud[0], gap, loud[1], gap, loud[2]])
    pieces = split_by_share(pcm, RATE, ["a" * 10, "b" * 25, "c" * 5])
    assert sum(len(p) for p in pieces) == len(pcm)
    assert len(loud[0]) <= len(pieces[0]) <= len(loud[0]) + len(gap)
    end_of_second = len(pieces[0]) + len(pieces[1])
    assert len(loud[0]) + len(gap) + len(loud[1]) <= end_of_second <= len(pcm) - len(loud[2])
    assert split_by_share(pcm, RATE, ["one"])[0] is pcm


def test_429_respects_retry_after_then_succeeds(server: SpeechServer) -> None:
    server.script = ["429", "429", "ok"]
    server.retry_after = "0.7"
    sleeps: list[float] = []
    provider = provider_for(server, sleeps)
    chunks = list(provider.synthesize(SENTENCES, provider.resolve(VOICE)))
    assert len(chunks) == 2 and len(server.requests) == 3
    assert sleeps == [0.7, 0.7]


def test_500_backs_off_exponentially_with_jitter(server: SpeechServer) -> None:
    server.script = ["500", "500", "500", "ok"]
    sleeps: list[float] = []
    provider = provider_for(server, sleeps, backoff=1.0)
    list(provider.synthesize(SENTENCES, provider.resolve(VOICE)))
    assert len(server.requests) == 4
    for attempt, slept in enumerate(sleeps, start=1):
        base = 2.0 ** (attempt - 1)
        assert 0.5 * base <= slept <= 1.5 * base


def test_gives_up_after_bounded_attempts(server: SpeechServer) -> None:
    server.default = "500"
    sleeps: list[float] = []
    provider = provider_for(server, sleeps, max_attempts=3)
    with pytest.raises(SynthesisFailed, match="after 3 attempts: HTTP 500") as caught:
        list(provider.synthesize(SENTENCES, provider.resolve(VOICE)))
    assert len(server.requests) == 3 and len(sleeps) == 2
    assert KEY not in str(caught.value)


def test_timeouts_are_retried_then_fail(server: SpeechServer) -> None:
    server.default = "timeout"
    server.hang = 1.5
    provider = provider_for(server, [], max_attempts=2, timeout=0.3)
    with pytest.raises(SynthesisFailed, match="timed out"):
        list(provider.synthesize(SENTENCES, provider.resolve(VOICE)))
    assert len(server.requests) == 2


def test_bad_key_fails_at_once_without_showing_it(server: SpeechServer) -> None:
    server.default = "401"
    provider = provider_for(server, [])
    with pytest.raises(SynthesisFailed, match="rejected the API key") as caught:
        list(provider.synthesize(SENTENCES, provider.resolve(VOICE)))
    assert len(server.requests) == 1 and KEY not in str(caught.value)
    assert KEY not in repr(provider)


def test_settings_are_checked_before_any_request() -> None:
    with pytest.raises(BadSettings, match="OPENAI_API_KEY is not set"):
        OpenAIProvider(None, None).resolve(VOICE)
    real = OpenAIProvider(KEY, None)
    with pytest.raises(BadSettings, match="unknown voice"):
        real.resolve(VoiceSettings(provider="openai", voice="joe"))
    with pytest.raises(BadSettings, match="unknown model"):
        real.resolve(VoiceSettings(provider="openai", model="tts-9"))
    with pytest.raises(BadSettings, match="instructions"):
        real.resolve(VoiceSettings(provider="openai", model="tts-1", instructions="calm"))
    compatible = OpenAIProvider(None, "http://127.0.0.1:9/v1")  # e.g. Kokoro: any voice, no key
    assert (
        compatible.resolve(VoiceSettings(provider="openai", voice="af_bella")).voice == "af_bella"
    )


def test_preprocess_marks_failed_chunks_and_goes_on(server: SpeechServer, store: Store) -> None:
    server.fail_when = lambda text: "poison" in text
    texts = ["A fine block. Nothing wrong.", "A poison block. It always fails.", "Last one."]
    blocks = tuple(
        Block(i, 1, i, t, tuple(s if s.endswith(".") else s + "." for s in t.split(". ")))
        for i, t in enumerate(texts)
    )
    doc = DocumentText("ab" * 32, "d.pdf", "d", 1, blocks=blocks)
    provider = provider_for(server, [], max_attempts=2)
    summary = run_preprocess(store, provider, doc, VOICE)
    assert summary.state == "failed" and summary.progress.done == 2
    manifest = store.require_manifest(doc.document_id)
    assert [c.status for c in manifest.chunks] == ["done", "failed", "done"]
    assert "HTTP 500" in (manifest.chunks[1].error or "")
    assert KEY not in store.manifest_path(doc.document_id).read_text()
    assert (manifest.tts_provider, manifest.tts_model, manifest.voice) == (
        "openai",
        "gpt-4o-mini-tts",
        "alloy",
    )
    sentences = manifest.chunks[0].sentences
    assert (
        sentences[0].end == sentences[1].start and sentences[1].end == manifest.chunks[0].duration
    )


def test_compatible_servers_do_not_share_cached_audio() -> None:
    """Same model and voice names on two servers are different voices: different keys."""
    settings = VoiceSettings(provider="openai", model="kokoro", voice="af_bella")
    here = OpenAIProvider(api_key=None, base_url="http://user:pw@127.0.0.1:8880/v1/").resolve(
        settings
    )
    there = OpenAIProvider(api_key=None, base_url="http://127.0.0.1:9999/v1").resolve(settings)
    assert here.endpoint == "http://127.0.0.1:8880/v1"  # no credentials kept
    assert blob_key("Hello.", here) != blob_key("Hello.", there)
    openai_itself = OpenAIProvider(api_key="sk-x").resolve(VoiceSettings(provider="openai"))
    assert openai_itself.endpoint is None
