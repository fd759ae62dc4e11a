"""What a browser reader app or an operator with curl runs into at the edges of the API."""

from __future__ import annotations

import re

import httpx
import pytest
from serverkit import quiet_options, register_document, write_synthetic
from starlette.testclient import TestClient

from preread.server import create_app
from preread.server.metrics import Metrics
from preread.server.ranges import parse_range
from preread.settings import Settings
from preread.store import Store
from preread.tts.fake import FakeProvider
from promtext import value

ORIGIN = "https://reader.example"


def chunk(doc: str, query: str) -> str:
    return f"/api/tts/chunk?documentId={doc}&{query}"


@pytest.mark.parametrize(
    "query",
    ["index=--1", "index=%C2%B2", "index=%D9%A1", "page=%C2%B2&blockIndex=0", "index=1-"],
)
def test_non_ascii_or_doubled_signs_in_integers_are_400(
    client: TestClient, store: Store, query: str
) -> None:
    doc = write_synthetic(store, [100, 100])
    response = client.get(chunk(doc.document_id, query))
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "bad_request"


def test_a_range_with_non_ascii_digits_is_ignored_not_a_500(
    client: TestClient, store: Store
) -> None:
    doc = write_synthetic(store, [100])
    assert parse_range("bytes=\xb2-", 100) is None  # "²": str.isdigit() says yes, int() no
    for header in (b"bytes=\xb2-", b"bytes=0-\xb2", b"bytes=-\xb9"):
        response = client.get(chunk(doc.document_id, "index=0"), headers={"Range": header})
        assert response.status_code == 200, header
        assert response.content == doc.files[0]


def test_a_416_is_not_cached_as_immutable(client: TestClient, store: Store) -> None:
    doc = write_synthetic(store, [100])
    response = client.get(chunk(doc.document_id, "index=0"), headers={"Range": "bytes=500-"})
    assert response.status_code == 416
    assert "immutable" not in response.headers.get("cache-control", "")


def test_head_of_a_missing_chunk_announces_no_length(client: TestClient, store: Store) -> None:
    doc = register_document(store)
    response = client.head(chunk(doc, "index=0"))
    assert response.status_code == 200 and response.headers["x-cache"] == "MISS"
    assert "content-length" not in response.headers  # not "0": the audio is not made yet


@pytest.fixture
def cors_client(settings: Settings) -> TestClient:
    cors = Settings(
        home=settings.home, voice=settings.voice, cors_origins=(ORIGIN,), api_token="tok"
    )
    return TestClient(create_app(cors, provider=FakeProvider(), options=quiet_options()))


def preflight(client: TestClient, path: str, origin: str = ORIGIN, **extra: str) -> httpx.Response:
    headers = {"Origin": origin, "Access-Control-Request-Method": "POST", **extra}
    return client.options(path, headers=headers)


def test_cors_preflight_allows_the_headers_sdks_send(cors_client: TestClient) -> None:
    # The OpenAI JS SDK in a browser sends x-stainless-* headers with every request.
    asked = "authorization,content-type,x-stainless-lang,x-stainless-retry-count,x-request-id"
    with cors_client as client:
        response = preflight(
            client, "/v1/audio/speech", **{"Access-Control-Request-Headers": asked}
        )
        assert response.status_code == 200, response.text
        allowed = response.headers["access-control-allow-headers"].lower()
        assert "x-stainless-lang" in allowed and "authorization" in allowed
        private = preflight(
            client, "/api/tts/chunk", **{"Access-Control-Request-Private-Network": "true"}
        )
        assert private.status_code == 200
        assert private.headers["access-control-allow-private-network"] == "true"


def test_a_refused_preflight_is_a_json_error(cors_client: TestClient) -> None:
    with cors_client as client:
        response = preflight(client, "/api/documents", origin="https://evil.example")
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "cors_refused" and "origin" in error["message"]
        assert "access-control-allow-origin" not in response.headers


def test_a_browser_can_read_retry_after(cors_client: TestClient, store: Store) -> None:
    doc = write_synthetic(store, [100])
    with cors_client as client:
        got = client.get(chunk(doc.document_id, "index=0"), headers={"Origin": ORIGIN})
        exposed = got.headers["access-control-expose-headers"].lower()
        for name in ("content-range", "etag", "x-cache", "x-request-id", "retry-after"):
            assert name in exposed


def test_speech_ignores_instructions_a_local_voice_cannot_follow(client: TestClient) -> None:
    # OpenReader sends instructions with its default model gpt-4o-mini-tts.
    body = {"model": "gpt-4o-mini-tts", "voice": "coral", "input": "Read this calmly."}
    first = client.post("/v1/audio/speech", json={**body, "instructions": "Speak calmly."})
    assert first.status_code == 200, first.text
    again = client.post("/v1/audio/speech", json=body)
    assert again.headers["x-cache"] == "HIT" and again.content == first.content


def test_job_page_errors_do_not_speak_of_cli_flags(client: TestClient, store: Store) -> None:
    doc = register_document(store)
    response = client.post("/api/tts/preprocess", json={"documentId": doc, "pages": "9"})
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert message.startswith("bad pages") and "--" not in message


_SAMPLE = re.compile(
    r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\[\\"n]|[^"\\\n])*",?)*\})?'
    r" (-?[0-9.]+(e[+-]?[0-9]+)?|[+-]Inf|NaN)$"
)


def test_metrics_are_valid_text_format_with_escaped_labels() -> None:
    metrics = Metrics()
    metrics.request('a "quoted"\nroute\\', "GET", 200, 10)
    text = metrics.render(store_bytes=5, jobs={"running": 1})
    assert 'route="a \\"quoted\\"\\nroute\\\\"' in text
    typed: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
        elif not line.startswith("# HELP "):
            assert _SAMPLE.match(line), line
            name = line.split("{")[0].split(" ")[0]
            assert name in typed or re.sub(r"_(bucket|sum|count)$", "", name) in typed, line


def test_event_source_reconnecting_after_the_end_is_told_to_stop(
    client: TestClient, store: Store
) -> None:
    doc = register_document(store)
    assert client.post("/api/tts/preprocess", json={"documentId": doc}).status_code == 202
    with client.stream("GET", f"/api/tts/preprocess/events?documentId={doc}") as response:
        lines = list(response.iter_lines())
    end = lines.index("event: end")
    assert lines[end + 1].startswith("id: ")  # an EventSource keeps it as its last event id
    last_id = lines[end + 1][4:]
    again = client.get(
        f"/api/tts/preprocess/events?documentId={doc}", headers={"Last-Event-ID": last_id}
    )
    assert again.status_code == 204  # EventSource's signal to stop reconnecting
    fresh = client.get(f"/api/tts/preprocess/events?documentId={doc}")
    assert fresh.status_code == 200 and "event: end" in fresh.text


def test_a_quiet_job_still_sends_events(
    settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy (Fly's, nginx) drops a stream that sends nothing for a minute or so.
    monkeypatch.setattr("preread.jobqueue.JobQueue.heartbeat", 0.05)
    monkeypatch.setattr("preread.server.preprocess_api.EVENT_MIN_INTERVAL", 0.0)
    doc = register_document(store, texts=["One slow sentence only."])
    app = create_app(settings, provider=FakeProvider(delay=1.0), options=quiet_options())
    with TestClient(app) as client:
        assert client.post("/api/tts/preprocess", json={"documentId": doc}).status_code == 202
        with client.stream("GET", f"/api/tts/preprocess/events?documentId={doc}") as response:
            lines = list(response.iter_lines())
    statuses = [line for line in lines if line == "event: status"]
    assert len(statuses) >= 5, lines  # heartbeats while the one sentence takes a second
    assert "event: end" in lines


def test_refused_requests_are_counted_under_their_route(cors_client: TestClient) -> None:
    with cors_client as client:
        assert client.post("/api/documents", content=b"%PDF-").status_code == 401
        metrics = client.get("/metrics").text
    assert value(metrics, "preread_requests_total", route="/api/documents", status="401") == 1


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/tts/preprocess", b"[" * 100_000),
        ("/v1/audio/speech", b'{"input": ' + b"[" * 100_000 + b"}"),
        ("/v1/audio/speech", b'{"input": "\\ud800 alone"}'),
        ("/api/tts/preprocess", b'{"documentId": "\\udfff"}'),
    ],
)
def test_deep_or_unencodable_json_is_400(client: TestClient, path: str, body: bytes) -> None:
    response = client.post(path, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "bad_request"


def test_a_block_outside_a_jobs_pages_is_still_generated_live(
    client: TestClient, store: Store
) -> None:
    """A job for some pages lists every registered block; the others stay known."""
    doc = register_document(store)  # page 1: blocks 0, 1; page 2: block 0
    started = client.post("/api/tts/preprocess", json={"documentId": doc, "pages": "1"})
    assert started.status_code == 202 and started.json()["total"] == 2
    with client.stream("GET", f"/api/tts/preprocess/events?documentId={doc}") as response:
        assert "event: end" in list(response.iter_lines())
    manifest = store.require_manifest(doc)
    assert [(c.page, c.block_index, c.status) for c in manifest.chunks] == [
        (1, 0, "done"),
        (1, 1, "done"),
        (2, 0, "pending"),
    ]
    status = client.get(f"/api/tts/preprocess/status?documentId={doc}").json()
    assert (status["state"], status["done"], status["total"]) == ("partial", 2, 3)
    again = client.post("/api/tts/preprocess", json={"documentId": doc, "pages": "1"})
    assert again.status_code == 200 and again.json()["state"] == "complete"
    outside = client.get(chunk(doc, "page=2&blockIndex=0"))
    assert outside.status_code == 200 and outside.headers["x-cache"] == "MISS"
    assert client.get(chunk(doc, "index=2")).headers["x-cache"] == "HIT"
    nowhere = client.get(chunk(doc, "page=2&blockIndex=5"))
    assert nowhere.status_code == 404
    assert "has no block at page 2 block 5" in nowhere.json()["error"]["message"]
