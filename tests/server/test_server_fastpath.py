"""The chunk fast path answers exactly as the full Starlette stack does, or declines."""

from __future__ import annotations

import json
import re
from typing import Any

import anyio
import pytest
from serverkit import quiet_options, write_synthetic
from starlette.testclient import TestClient

from preread.server import create_app
from preread.settings import Settings
from preread.store import Store
from preread.tts.fake import FakeProvider

# a parameter the handler ignores: the fast path declines it, the full stack answers
FULL = "&via=stack"


def _headers(response: Any) -> list[tuple[str, str]]:
    """The response's headers in order, without the per-request id."""
    return [(k, v) for k, v in response.headers.multi_items() if k != "x-request-id"]


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        ("index=0", {}),
        ("page=1&blockIndex=1", {}),
        ("index=2", {"Accept": "*/*", "X-Request-ID": "abc-1"}),
    ],
)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_fast_and_full_answers_are_the_same(
    settings: Settings, store: Store, query: str, headers: dict[str, str], method: str
) -> None:
    doc = write_synthetic(store, [150_000, 1000, 2000])
    app = create_app(settings, provider=FakeProvider(), options=quiet_options())
    base = f"/api/tts/chunk?documentId={doc.document_id}&{query}"
    with TestClient(app) as client:
        client.get(base)  # the manifest is cached: the next one can be fast
        fast = client.request(method, base, headers=headers)
        full = client.request(method, base + FULL, headers=headers)
    assert fast.status_code == full.status_code == 200
    assert _headers(fast) == _headers(full)
    assert fast.content == full.content
    index = {"index=0": 0, "page=1&blockIndex=1": 1, "index=2": 2}[query]
    assert fast.content == (b"" if method == "HEAD" else doc.files[index])
    assert fast.headers["content-length"] == str(len(doc.files[index]))
    for response in (fast, full):
        assert re.fullmatch(r"[A-Za-z0-9._-]{1,64}", response.headers["x-request-id"])
        if "X-Request-ID" in headers:
            assert response.headers["x-request-id"] == "abc-1"


def test_if_none_match_is_a_304_on_both_paths(settings: Settings, store: Store) -> None:
    doc = write_synthetic(store, [5000])
    app = create_app(settings, provider=FakeProvider(), options=quiet_options())
    base = f"/api/tts/chunk?documentId={doc.document_id}&index=0"
    with TestClient(app) as client:
        etag = client.get(base).headers["etag"]
        fast = client.get(base, headers={"If-None-Match": f'W/"x", {etag}'})
        full = client.get(base + FULL, headers={"If-None-Match": f'W/"x", {etag}'})
        other = client.get(base, headers={"If-None-Match": '"something-else"'})
    assert fast.status_code == full.status_code == 304
    assert _headers(fast) == _headers(full) and fast.content == full.content == b""
    assert other.status_code == 200 and other.content == doc.files[0]


def test_the_log_line_and_counters_are_the_same(
    settings: Settings, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = write_synthetic(store, [3000])
    app = create_app(settings, provider=FakeProvider(), options=quiet_options(access_log=True))
    base = f"/api/tts/chunk?documentId={doc.document_id}&index=0"
    with TestClient(app) as client:
        client.get(base)
        client.get(base, headers={"X-Request-ID": "fast-1"})
        client.get(base + FULL, headers={"X-Request-ID": "full-1"})
        metrics = client.get("/metrics").text
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert len(lines) == 4
    fast, full = (next(x for x in lines if x["requestId"] == rid) for rid in ("fast-1", "full-1"))
    for line in (fast, full):
        del line["ts"], line["durationMs"], line["requestId"]
    assert fast == full
    assert fast["route"] == "/api/tts/chunk" and fast["cache"] == "HIT"
    assert fast["bytes"] == 3000 and fast["path"] == "/api/tts/chunk"
    assert 'preread_requests_total{method="GET",route="/api/tts/chunk",status="200"} 3.0' in metrics
    assert 'preread_chunk_cache_total{result="hit"} 3.0' in metrics
    assert "preread_bytes_served_total 9000.0" in metrics


def _call(app: Any, query: str, headers: list[tuple[bytes, bytes]] | None = None) -> bool:
    """Whether the fast path answered (True) or declined having sent nothing (False)."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/api/tts/chunk",
        "root_path": "",
        "query_string": query.encode(),
        "headers": headers or [],
        "client": ("127.0.0.1", 1234),
    }
    answered = anyio.run(app.fast, scope, receive, send)
    assert bool(sent) == answered
    return bool(answered)


def test_what_the_fast_path_answers_and_what_it_leaves(settings: Settings, store: Store) -> None:
    doc = write_synthetic(store, [1000, 2000, 2_000_000])
    doc.manifest.chunks[1].status = "pending"
    store.write_manifest(doc.manifest)
    app = create_app(settings, provider=FakeProvider(), options=quiet_options())
    did = doc.document_id
    assert not _call(app, f"documentId={did}&index=0")  # manifest not loaded yet
    with TestClient(app) as client:
        client.get(f"/api/tts/chunk?documentId={did}&index=0")
    assert _call(app, f"documentId={did}&index=0")
    assert _call(app, f"index=0&documentId={did}")
    assert _call(app, f"documentId={did}&page=1&blockIndex=0")
    assert _call(app, f"documentId={did}&index=0", [(b"if-none-match", b'"x"')])
    declined = [
        f"documentId={did[:12]}&index=0",  # a prefix: resolved by the full path
        f"documentId={did.upper()}&index=0",
        f"documentId={did}&index=0&index=1",
        f"documentId={did}&index=00",
        f"documentId={did}&index=-1",
        f"documentId={did}&index=0&x=1",
        f"documentId={did}&index=1",  # not done
        f"documentId={did}&index=2",  # larger than whole_file_limit: streamed
        f"documentId={did}&index=9",  # no such chunk: the full path's 404
        f"documentId={did}&page=0&blockIndex=0",
        f"documentId={did}",
        "",
    ]
    for query in declined:
        assert not _call(app, query), query
    assert not _call(app, f"documentId={did}&index=0", [(b"range", b"bytes=0-1")])
    assert not _call(app, f"documentId={did}&index=0", [(b"if-range", b'"x"')])
    (store.chunks_dir(did) / doc.manifest.chunks[0].file_name).unlink()
    assert not _call(app, f"documentId={did}&index=0")  # the file went away


def test_with_cors_a_request_from_a_page_takes_the_full_path(
    settings: Settings, store: Store
) -> None:
    doc = write_synthetic(store, [1000])
    cors = Settings(home=settings.home, voice=settings.voice, cors_origins=("https://a.example",))
    app = create_app(cors, provider=FakeProvider(), options=quiet_options())
    base = f"/api/tts/chunk?documentId={doc.document_id}&index=0"
    with TestClient(app) as client:
        client.get(base)
        response = client.get(base, headers={"Origin": "https://a.example"})
    assert response.headers["access-control-allow-origin"] == "https://a.example"
    assert not _call(app, base.split("?")[1], [(b"origin", b"https://a.example")])
    assert _call(app, base.split("?")[1])
