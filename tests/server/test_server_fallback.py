"""An engine chain over HTTP: fallback counts in the status and the documents listing,
and a job with ``upgrade: true`` that makes exactly the fallback's chunks again."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from serverkit import TEXTS, quiet_options, register_document
from starlette.testclient import TestClient

from openai_server import SpeechServer
from preread.server import create_app
from preread.settings import Settings
from preread.store import Store


@pytest.fixture
def speech() -> Iterator[SpeechServer]:
    with SpeechServer() as running:
        yield running


@pytest.fixture
def chain_client(home: Path, speech: SpeechServer) -> Iterator[TestClient]:
    env = {
        "PREREAD_PROVIDER": "openai,fake",
        "OPENAI_BASE_URL": speech.base_url,
        "PREREAD_BREAKER_COOLDOWN": "0.2",
    }
    app = create_app(Settings.load(env, home=str(home)), options=quiet_options())
    with TestClient(app) as client:
        yield client


def finish(client: TestClient, doc: str) -> dict[str, object]:
    with client.stream("GET", f"/api/tts/preprocess/events?documentId={doc}") as response:
        last = ""
        for line in response.iter_lines():
            if line.startswith("data: "):
                last = line[6:]
    return dict(json.loads(last))


def asked(speech: SpeechServer) -> list[str]:
    return [str(r.body["input"]) for r in speech.requests if r.path.endswith("/audio/speech")]


def test_fallback_chunks_are_counted_and_an_upgrade_job_redoes_only_them(
    chain_client: TestClient, speech: SpeechServer, home: Path
) -> None:
    client = chain_client
    doc = register_document(Store(home))
    speech.fail_when = lambda text: text != TEXTS[0]  # the primary makes block 0 only
    speech.retry_after_on_500 = "0"
    started = client.post("/api/tts/preprocess", json={"documentId": doc})
    assert started.status_code == 202
    assert finish(client, doc)["state"] == "complete"
    status = client.get(f"/api/tts/preprocess/status?documentId={doc}").json()
    assert (status["done"], status["fallback"]) == (3, 2)
    (listed,) = [
        d for d in client.get("/api/documents").json()["documents"] if d["documentId"] == doc
    ]
    assert listed["audio"]["fallback"] == 2
    # complete: a plain request has nothing to do; an upgrade has two chunks to make
    assert client.post("/api/tts/preprocess", json={"documentId": doc}).status_code == 200
    speech.fail_when = None
    time.sleep(0.3)  # the breaker's cool-down (0.2 s): the next request is its probe
    before = len(asked(speech))
    upgrade = client.post("/api/tts/preprocess", json={"documentId": doc, "upgrade": True})
    assert upgrade.status_code == 202
    assert finish(client, doc)["state"] == "complete"
    assert sorted(asked(speech)[before:]) == sorted(TEXTS[1:])  # exactly the fallback's
    status = client.get(f"/api/tts/preprocess/status?documentId={doc}").json()
    assert (status["done"], status["fallback"]) == (3, 0)
    manifest = client.get(f"/api/documents/{doc}").json()
    assert all("spokenBy" not in c for c in manifest["chunks"])
    done = client.post("/api/tts/preprocess", json={"documentId": doc, "upgrade": True})
    assert done.status_code == 200 and done.json()["state"] == "complete"
