"""Preprocess jobs over HTTP: start, events, status, cancel/delete, resume after restart."""

from __future__ import annotations

import json
import time

from serverkit import quiet_options, register_document
from starlette.testclient import TestClient

from preread.server import create_app
from preread.server.jobs import JobSpec
from preread.settings import Settings
from preread.store import Store
from preread.tts.fake import FakeProvider
from promtext import value


def events_of(client: TestClient, doc: str) -> list[tuple[str, dict[str, object]]]:
    out = []
    with client.stream("GET", f"/api/tts/preprocess/events?documentId={doc}") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        event = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                out.append((event, json.loads(line[6:])))
    return out


def test_job_runs_to_complete_with_events_and_status(client: TestClient, store: Store) -> None:
    doc = register_document(store)
    started = client.post("/api/tts/preprocess", json={"documentId": doc})
    assert started.status_code == 202
    body = started.json()
    assert body["documentId"] == doc and body["total"] == 3 and body["jobId"]
    events = events_of(client, doc)
    assert events[-1][0] == "end"
    assert events[-1][1]["state"] == "complete"
    status = client.get(f"/api/tts/preprocess/status?documentId={doc[:10]}").json()
    assert status["state"] == "complete" and status["done"] == 3 and status["settingsMatch"]
    other = client.get(f"/api/tts/preprocess/status?documentId={doc}&speed=1.5").json()
    assert other["settingsMatch"] is False
    again = client.post("/api/tts/preprocess", json={"documentId": doc})
    assert again.status_code == 200 and again.json()["state"] == "complete"
    chunk = client.get(f"/api/tts/chunk?documentId={doc}&index=2")
    assert chunk.headers["x-cache"] == "HIT"


def test_pages_selection_and_bad_requests(client: TestClient, store: Store) -> None:
    doc = register_document(store)
    started = client.post("/api/tts/preprocess", json={"documentId": doc, "pages": "2"})
    assert started.status_code == 202 and started.json()["total"] == 1
    for payload in (
        {},
        {"documentId": 5},
        {"documentId": doc, "speed": 0},
        {"documentId": doc, "format": "wav"},
        {"documentId": doc, "pages": {"a": 1}},
    ):
        assert client.post("/api/tts/preprocess", json=payload).status_code == 400, payload
    assert client.post("/api/tts/preprocess", content=b"{not json").status_code == 400
    unknown = client.post("/api/tts/preprocess", json={"documentId": "a" * 64})
    assert unknown.status_code == 404


def test_conflicting_job_is_409_and_delete_cancels(settings: Settings, store: Store) -> None:
    doc = register_document(store)
    provider = FakeProvider(delay=0.3)
    with TestClient(create_app(settings, provider=provider, options=quiet_options())) as client:
        assert client.post("/api/tts/preprocess", json={"documentId": doc}).status_code == 202
        same = client.post("/api/tts/preprocess", json={"documentId": doc})
        assert same.status_code == 202
        conflict = client.post("/api/tts/preprocess", json={"documentId": doc, "speed": 1.5})
        assert conflict.status_code == 409
        assert conflict.json()["error"]["code"] == "conflict"
        deleted = client.delete(f"/api/tts/preprocess?documentId={doc}")
        assert deleted.status_code == 204
        status = client.get(f"/api/tts/preprocess/status?documentId={doc}").json()
        assert status["state"] == "cancelled" and status["exists"] is False
        assert not store.doc_dir(doc).exists()
        assert client.delete(f"/api/tts/preprocess?documentId={doc}").status_code == 404


def test_delete_removes_the_audio_only_this_document_used(client: TestClient, store: Store) -> None:
    """The same whole-or-nothing removal as ``preread delete``: no orphaned blobs left."""
    doc = register_document(store)
    assert client.post("/api/tts/preprocess", json={"documentId": doc}).status_code == 202
    events_of(client, doc)  # until the job ends
    blobs = sorted(store.blobs_dir.rglob("*.mp3"))
    assert blobs and all(path.stat().st_nlink == 2 for path in blobs)
    assert client.delete(f"/api/tts/preprocess?documentId={doc}").status_code == 204
    assert not store.doc_dir(doc).exists()
    assert [path for path in store.blobs_dir.rglob("*") if path.is_file()] == []
    assert store.is_registered(doc)  # a reader can still have it generated live


def test_an_interrupted_job_resumes_when_the_server_starts(
    settings: Settings, store: Store
) -> None:
    doc = register_document(store)
    spec = JobSpec(doc, settings.voice)
    jobs_dir = store.home / "jobs"
    jobs_dir.mkdir()
    (jobs_dir / f"{doc}.json").write_text(json.dumps(spec.to_json()))
    with TestClient(
        create_app(settings, provider=FakeProvider(), options=quiet_options())
    ) as client:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            status = client.get(f"/api/tts/preprocess/status?documentId={doc}").json()
            if status["state"] == "complete":
                break
            time.sleep(0.05)
        assert status["state"] == "complete"
    assert not (jobs_dir / f"{doc}.json").exists()


def test_stats_and_metrics(client: TestClient, store: Store) -> None:
    doc = register_document(store)
    client.post("/api/tts/preprocess", json={"documentId": doc})
    events_of(client, doc)
    client.get(f"/api/tts/chunk?documentId={doc}&index=0")
    stats = client.get("/api/tts/preprocess/stats").json()
    assert stats["documentsCount"] == 1 and stats["totalSize"] > 0
    assert {"limit", "oldestDocument", "newestDocument"} <= set(stats)
    text = client.get("/metrics").text
    assert value(text, "preread_requests_total", route="/api/tts/chunk", status="200") == 1
    assert 'preread_chunk_cache_total{result="hit"} 1' in text
    assert "preread_live_generation_seconds_bucket" in text
    assert 'preread_jobs{state="complete"} 1' in text
    assert "preread_store_bytes " in text
    assert client.get("/healthz").json()["status"] == "ok"


def test_a_voice_that_cannot_speak_the_language_is_refused(
    client: TestClient, store: Store
) -> None:
    from dataclasses import replace

    from serverkit import TEXTS, document_text

    doc = "f" * 64
    store.register(replace(document_text(doc, TEXTS), language="wo"), None)  # nor espeak-ng
    refused = client.post("/api/tts/preprocess", json={"documentId": doc, "provider": "piper"})
    assert refused.status_code == 400
    message = refused.json()["error"]["message"]
    assert "in wo (wo)" in message and "PREREAD_VOICE_WO=" in message
    assert client.post("/api/tts/preprocess", json={"documentId": doc}).status_code == 202
