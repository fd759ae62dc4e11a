"""The job routes against the queue interface, with the fake queue (``ManualQueue``):
what they submit, how they report each state, cancel; no worker threads involved."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from serverkit import quiet_options, register_document
from starlette.testclient import TestClient
from test_server_jobs import events_of

from preread.jobqueue import JobSpec, ManualQueue
from preread.server import create_app
from preread.settings import Settings
from preread.store import Store
from preread.tts.fake import FakeProvider


@pytest.fixture
def queue() -> ManualQueue:
    return ManualQueue()


@pytest.fixture
def queued_client(
    settings: Settings, provider: FakeProvider, queue: ManualQueue
) -> Iterator[TestClient]:
    app = create_app(settings, provider=provider, options=quiet_options(), jobs=queue)
    with TestClient(app) as client:
        yield client
    assert queue.started and queue.stopped


def test_a_request_becomes_one_queued_job(
    queued_client: TestClient, queue: ManualQueue, store: Store, settings: Settings
) -> None:
    doc = register_document(store)
    body = {"documentId": doc, "pages": "2"}
    started = queued_client.post("/api/tts/preprocess", json=body)
    assert started.status_code == 202 and started.json()["state"] == "queued"
    again = queued_client.post("/api/tts/preprocess", json=body)
    assert again.json()["jobId"] == started.json()["jobId"]  # the same request joins it
    assert queue.submitted == [JobSpec(doc, settings.voice, "2", False)]
    other = queued_client.post("/api/tts/preprocess", json={"documentId": doc, "speed": 1.5})
    assert other.status_code == 409
    status = queued_client.get(f"/api/tts/preprocess/status?documentId={doc}").json()
    assert status["state"] == "queued" and status["jobId"] == started.json()["jobId"]


def test_status_and_events_follow_the_queue(
    queued_client: TestClient, queue: ManualQueue, store: Store
) -> None:
    doc = register_document(store)
    queued_client.post("/api/tts/preprocess", json={"documentId": doc})
    progress = {"total": 3, "done": 2, "failed": 0, "bytes": 10, "duration": 1.0, "eta": 4.0}
    queue.advance(doc, "running", progress)
    status = queued_client.get(f"/api/tts/preprocess/status?documentId={doc}").json()
    assert (status["state"], status["done"], status["eta"]) == ("running", 2, 4.0)
    finisher = threading.Timer(0.3, queue.advance, (doc, "failed"), {"error": "engine gone"})
    finisher.start()
    events = events_of(queued_client, doc)
    finisher.join()
    assert events[0] == ("status", events[0][1]) and events[0][1]["state"] == "running"
    assert events[-1][0] == "end" and events[-1][1]["error"] == "engine gone"
    assert queue.counts()["failed"] == 1


def test_delete_cancels_the_queued_job(
    queued_client: TestClient, queue: ManualQueue, store: Store
) -> None:
    doc = register_document(store)
    queued_client.post("/api/tts/preprocess", json={"documentId": doc})
    assert queued_client.delete(f"/api/tts/preprocess?documentId={doc}").status_code == 204
    job = queue.job(doc)
    assert job is not None and job.state == "cancelled" and job.cancel.is_set()
    status = queued_client.get(f"/api/tts/preprocess/status?documentId={doc}").json()
    assert status["state"] == "cancelled"
