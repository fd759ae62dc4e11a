"""Serving chunks from disk: headers, conditional requests, ranges, safety."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from serverkit import quiet_options, symlink, write_synthetic
from starlette.testclient import TestClient

from preread.server import create_app
from preread.settings import Settings
from preread.store import Store
from preread.tts.fake import FakeProvider


def url(
    doc: str, index: int | None = None, page: int | None = None, block: int | None = None
) -> str:
    if index is not None:
        return f"/api/tts/chunk?documentId={doc}&index={index}"
    return f"/api/tts/chunk?documentId={doc}&page={page}&blockIndex={block}"


def test_full_get_has_contract_headers(client: TestClient, store: Store) -> None:
    doc = write_synthetic(store, [150_000, 1000, 2000])
    response = client.get(url(doc.document_id, page=1, block=0))
    assert response.status_code == 200
    assert response.content == doc.files[0]
    sha = hashlib.sha256(doc.files[0]).hexdigest()
    assert response.headers["etag"] == f'"{sha}"'
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["content-type"] == "audio/mpeg"
    assert response.headers["x-cache"] == "HIT"
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-length"] == "150000"
    by_index = client.get(url(doc.document_id, index=2))
    assert by_index.content == doc.files[2]
    prefix = client.get(url(doc.document_id[:10], page=2, block=0))
    assert prefix.content == doc.files[2]


def test_head_sends_headers_only(client: TestClient, store: Store) -> None:
    doc = write_synthetic(store, [5000])
    response = client.head(url(doc.document_id, index=0))
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == "5000"
    assert response.headers["x-cache"] == "HIT"


def test_if_none_match_gives_304(client: TestClient, store: Store) -> None:
    doc = write_synthetic(store, [3000])
    etag = client.get(url(doc.document_id, index=0)).headers["etag"]
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        response = client.get(url(doc.document_id, index=0), headers={"If-None-Match": header})
        assert response.status_code == 304, header
        assert response.content == b""
        assert response.headers["etag"] == etag
    miss = client.get(url(doc.document_id, index=0), headers={"If-None-Match": '"nope"'})
    assert miss.status_code == 200


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes=0-99", 0, 99), ("bytes=-100", 9900, 9999), ("bytes=9990-", 9990, 9999),
     ("bytes=500-99999", 500, 9999), ("bytes=0-0", 0, 0), ("bytes=0-9999", 0, 9999)],
)  # fmt: skip
def test_single_range(client: TestClient, store: Store, header: str, start: int, end: int) -> None:
    doc = write_synthetic(store, [10_000])
    response = client.get(url(doc.document_id, index=0), headers={"Range": header})
    assert response.status_code == 206
    assert response.content == doc.files[0][start : end + 1]
    assert response.headers["content-range"] == f"bytes {start}-{end}/10000"
    assert response.headers["content-length"] == str(end - start + 1)


def parse_multipart(body: bytes, content_type: str) -> list[tuple[str, bytes]]:
    boundary = re.search(r"boundary=(\S+)", content_type)
    assert boundary is not None
    parts = []
    for raw in body.split(b"--" + boundary.group(1).encode())[1:-1]:
        head, _, data = raw.partition(b"\r\n\r\n")
        content_range = re.search(rb"Content-Range: (bytes \S+)", head)
        assert content_range is not None
        parts.append((content_range.group(1).decode(), data.removesuffix(b"\r\n")))
    return parts


def test_multi_range_is_multipart(client: TestClient, store: Store) -> None:
    doc = write_synthetic(store, [10_000])
    response = client.get(
        url(doc.document_id, index=0), headers={"Range": "bytes=0-9, 100-199, -5"}
    )
    assert response.status_code == 206
    assert response.headers["content-type"].startswith("multipart/byteranges; boundary=")
    assert int(response.headers["content-length"]) == len(response.content)
    data = doc.files[0]
    assert parse_multipart(response.content, response.headers["content-type"]) == [
        ("bytes 0-9/10000", data[0:10]),
        ("bytes 100-199/10000", data[100:200]),
        ("bytes 9995-9999/10000", data[9995:]),
    ]


def test_overlapping_ranges_merge(client: TestClient, store: Store) -> None:
    doc = write_synthetic(store, [1000])
    response = client.get(url(doc.document_id, index=0), headers={"Range": "bytes=0-50,20-99"})
    assert response.status_code == 206
    assert response.headers["content-range"] == "bytes 0-99/1000"


def test_unsatisfiable_range_is_416(client: TestClient, store: Store) -> None:
    doc = write_synthetic(store, [1000])
    for header in ("bytes=1000-", "bytes=5000-6000", "bytes=-0"):
        response = client.get(url(doc.document_id, index=0), headers={"Range": header})
        assert response.status_code == 416, header
        assert response.headers["content-range"] == "bytes */1000"
        assert response.json()["error"]["code"] == "range_not_satisfiable"


def test_malformed_range_and_stale_if_range_send_everything(
    client: TestClient, store: Store
) -> None:
    doc = write_synthetic(store, [1000])
    for header in (
        "bytes=abc",
        "items=0-5",
        "bytes=5-1",
        "bytes=",
        "bytes=" + ",".join(["1-2"] * 40),
    ):
        response = client.get(url(doc.document_id, index=0), headers={"Range": header})
        assert response.status_code == 200, header
        assert response.content == doc.files[0]
    stale = client.get(
        url(doc.document_id, index=0), headers={"Range": "bytes=0-9", "If-Range": '"old"'}
    )
    assert stale.status_code == 200
    etag = stale.headers["etag"]
    fresh = client.get(
        url(doc.document_id, index=0), headers={"Range": "bytes=0-9", "If-Range": etag}
    )
    assert fresh.status_code == 206


def test_large_files_stream_in_pieces(settings: Settings, store: Store) -> None:
    doc = write_synthetic(store, [300_000])
    options = quiet_options(whole_file_limit=64 * 1024, stream_piece=16 * 1024)
    with TestClient(create_app(settings, provider=FakeProvider(), options=options)) as client:
        full = client.get(url(doc.document_id, index=0))
        assert full.content == doc.files[0]
        ranged = client.get(
            url(doc.document_id, index=0), headers={"Range": "bytes=1000-200000,250000-"}
        )
        parts = parse_multipart(ranged.content, ranged.headers["content-type"])
        assert [p[1] for p in parts] == [doc.files[0][1000:200001], doc.files[0][250000:]]


def test_bad_parameters_are_400_before_any_path(client: TestClient, store: Store) -> None:
    doc = write_synthetic(store, [100])
    bad = [
        "/api/tts/chunk?documentId=../../etc/passwd&index=0",
        "/api/tts/chunk?documentId=abc&index=0",
        f"/api/tts/chunk?documentId={doc.document_id}/..&index=0",
        f"/api/tts/chunk?documentId={doc.document_id}&index=-1",
        f"/api/tts/chunk?documentId={doc.document_id}&index=99999999999999",
        f"/api/tts/chunk?documentId={doc.document_id}&index=1e3",
        f"/api/tts/chunk?documentId={doc.document_id}&page=0&blockIndex=0",
        f"/api/tts/chunk?documentId={doc.document_id}&page=1",
        "/api/tts/chunk?index=0",
    ]
    for path in bad:
        response = client.get(path)
        assert response.status_code == 400, path
        assert set(response.json()["error"]) == {"code", "message"}


def test_unknown_document_or_block_is_404(client: TestClient, store: Store) -> None:
    doc = write_synthetic(store, [100])
    assert client.get(url("f" * 64, index=0)).status_code == 404
    assert client.get(url("0123abcd", index=0)).status_code == 404
    response = client.get(url(doc.document_id, page=9, block=0))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_symlink_in_a_chunk_folder_is_not_followed(
    client: TestClient, store: Store, tmp_path: Path
) -> None:
    doc = write_synthetic(store, [100, 100])
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"top secret" * 10)
    chunk = store.chunks_dir(doc.document_id) / doc.manifest.chunks[0].file_name
    symlink(secret, chunk)
    response = client.get(url(doc.document_id, index=0))
    assert b"top secret" not in response.content
    assert response.headers.get("x-cache") != "HIT"


def test_a_rewritten_manifest_is_seen_at_once(client: TestClient, store: Store) -> None:
    doc = write_synthetic(store, [100, 200])
    first = client.get(url(doc.document_id, index=1))
    assert first.headers["x-cache"] == "HIT"
    path = store.chunks_dir(doc.document_id) / doc.manifest.chunks[1].file_name
    path.write_bytes(b"x" * 300)

    def change(manifest: object) -> None:
        entry = manifest.chunks[1]  # type: ignore[attr-defined]
        entry.bytes, entry.sha256 = 300, hashlib.sha256(b"x" * 300).hexdigest()

    store.update_manifest(doc.document_id, change)
    second = client.get(url(doc.document_id, index=1))
    assert second.content == b"x" * 300
    assert second.headers["etag"] != first.headers["etag"]


def test_a_manifest_file_name_cannot_leave_the_chunk_folder(
    client: TestClient, store: Store, tmp_path: Path
) -> None:
    doc = write_synthetic(store, [100])
    outside = store.doc_dir(doc.document_id) / "outside.bin"
    outside.write_bytes(b"outside" * 20)

    def change(manifest: object) -> None:
        entry = manifest.chunks[0]  # type: ignore[attr-defined]
        entry.file_name, entry.bytes = "../outside.bin", 140

    store.update_manifest(doc.document_id, change)
    response = client.get(url(doc.document_id, index=0))
    assert response.status_code == 404
    assert b"outside" not in response.content
