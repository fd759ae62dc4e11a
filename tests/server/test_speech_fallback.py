"""``POST /v1/audio/speech`` through the engine chain: a failing primary's request is
spoken by the fallback (said in ``X-Preread-Spoken-By``) and stored under the fallback
voice's key, so the primary, healthy again, makes the request's own audio."""

from __future__ import annotations

import time
from pathlib import Path

from serverkit import asked
from starlette.testclient import TestClient

from openai_server import SpeechServer
from preread.blobs import BlobStore, blob_key
from preread.settings import Settings, VoiceSettings
from preread.store import Store
from preread.tts import make_provider

TEXT = "The fallback speaks when the primary cannot."


def test_a_failing_primary_is_covered_by_the_fallback_under_its_own_key(
    chain_client: TestClient, speech: SpeechServer, home: Path
) -> None:
    client = chain_client
    speech.fail_when = lambda text: True  # every synthesis answers 500
    speech.retry_after_on_500 = "0"
    body = {"input": TEXT, "response_format": "mp3"}
    first = client.post("/v1/audio/speech", json=body)
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "audio/mpeg"
    assert first.headers["X-Preread-Spoken-By"] == "fake"
    assert first.headers["X-Cache"] == "MISS"
    assert TEXT in asked(speech)  # the primary was tried first
    fake = make_provider(Settings.load({"PREREAD_PROVIDER": "fake"}, home=str(home)))
    fallback_voice = fake.resolve(VoiceSettings(provider="fake", format="mp3"))
    blobs = BlobStore(Store(home))
    assert blobs.read(blob_key(TEXT, fallback_voice), "mp3") is not None
    # the same request again while the primary still fails: the fallback's stored copy
    again = client.post("/v1/audio/speech", json=body)
    assert (again.headers["X-Preread-Spoken-By"], again.headers["X-Cache"]) == ("fake", "HIT")
    assert again.content == first.content

    speech.fail_when = None
    time.sleep(0.3)  # the breaker's cool-down (0.2 s): the next request is its probe
    before = len(asked(speech))
    healthy = client.post("/v1/audio/speech", json=body)
    assert healthy.status_code == 200
    assert healthy.headers["X-Preread-Spoken-By"] == "openai"
    assert healthy.headers["X-Cache"] == "MISS"  # not the fallback's audio as the primary's
    assert asked(speech)[before:] == [TEXT]
    assert healthy.content != first.content
    stored = client.post("/v1/audio/speech", json=body)
    assert (stored.headers["X-Preread-Spoken-By"], stored.headers["X-Cache"]) == ("openai", "HIT")
    assert stored.content == healthy.content
