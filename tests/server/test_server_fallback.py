"""An engine chain over HTTP: fallback counts in the status and the documents listing,
and a job with ``upgrade: true`` that makes exactly the fallback's chunks again."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest
from serverkit import TEXTS, asked, register_document
from starlette.testclient import TestClient

from openai_server import SpeechServer
from preread.store import Store


def finish(client: TestClient, doc: str) -> dict[str, object]:
    with client.stream("GET", f"/api/tts/preprocess/events?documentId={doc}") as response:
        last = ""
        for line in response.iter_lines():
            if line.startswith("data: "):
                last = line[6:]
    return dict(json.loads(last))


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


def test_a_live_chunk_is_made_by_the_fallback_when_the_primary_fails(
    chain_client: TestClient, speech: SpeechServer, home: Path
) -> None:
    client = chain_client
    doc = register_document(Store(home), seed=8)
    speech.default = "500"
    speech.retry_after_on_500 = "0"
    response = client.get(f"/api/tts/chunk?documentId={doc}&index=1")
    assert response.status_code == 200 and response.headers["x-cache"] == "MISS"
    assert asked(speech) == [TEXTS[1]] * 5  # the primary's retries, then the fallback spoke
    chunk = client.get(f"/api/documents/{doc}").json()["chunks"][1]
    assert chunk["status"] == "done" and chunk["spokenBy"]["provider"] == "fake"
    status = client.get(f"/api/tts/preprocess/status?documentId={doc}").json()
    assert (status["done"], status["fallback"]) == (1, 1)
    again = client.get(f"/api/tts/chunk?documentId={doc}&index=1")  # stored: the fallback's
    assert again.headers["x-cache"] == "HIT"
    assert hashlib.sha256(again.content).hexdigest() == chunk["sha256"]


def test_cli_status_counts_fallback_chunks_and_upgrade_redoes_them(
    home: Path, speech: SpeechServer, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:  # fmt: skip
    from preread.cli import main

    source = tmp_path / "notes.md"  # a section per heading: three blocks
    source.write_text(
        "# Sea\n\nThis part speaks of the sea.\n\n# Lamp\n\nThis part speaks of the lamp."
        "\n\n# Keeper\n\nThis part speaks of the keeper.\n"
    )
    monkeypatch.setenv("OPENAI_BASE_URL", speech.base_url)
    monkeypatch.setenv("PREREAD_OPENAI_RETRIES", "0")
    speech.fail_when = lambda text: "lamp" in text or "keeper" in text
    args = ["--home", str(home), "--provider", "openai,fake"]
    assert main(["preprocess", str(source), *args]) == 0
    out = capsys.readouterr().out
    assert "2 chunks spoken by a fallback voice" in out and "--upgrade" in out
    assert main(["status", str(source), "--home", str(home)]) == 0
    assert ", 2 by a fallback voice" in capsys.readouterr().out
    speech.fail_when = None
    before = len(asked(speech))
    assert main(["preprocess", str(source), *args, "--upgrade", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["upgraded"], summary["fallback"]) == (2, 0)
    assert (summary["total"], summary["skipped"]) == (3, 1)  # the primary's chunk: untouched
    redone = asked(speech)[before:]
    assert len(redone) == 2 and all("lamp" in t or "keeper" in t for t in redone)
    assert main(["status", str(source), "--home", str(home), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["fallback"] == 0
