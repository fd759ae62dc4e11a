"""Two ``preread serve`` processes, separate disks, one bucket (moto's S3 server)."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from s3kit import S3Server, export_mp3, pregenerate, shared_tier, upload_sample

from liveserver import running_server, wait

pytestmark = pytest.mark.slow


def test_b_serves_what_a_pregenerated_without_synthesis(tmp_path: Path, s3: S3Server) -> None:
    env = s3.env()
    with (
        running_server(tmp_path / "a", **env) as (a, _),
        running_server(tmp_path / "b", **env) as (b, _),
    ):
        doc = upload_sample(a)
        pregenerate(a, doc)
        manifest = httpx.get(f"{a}/api/documents/{doc}").json()
        assert any(k.endswith(f"{doc}/tts.meta.json") for k in s3.object_keys())
        for chunk in manifest["chunks"]:
            url = f"{b}/api/tts/chunk?documentId={doc}&index={chunk['index']}"
            got = httpx.get(url)
            assert got.status_code == 200
            assert got.headers["x-cache"] == "HIT"  # from B's disk, fetched, not synthesized
            assert hashlib.sha256(got.content).hexdigest() == chunk["sha256"]
        tier = shared_tier(b)
        assert tier["state"] == "ok" and tier["fetched"] >= len(manifest["chunks"])
        # B's manifest is A's: B never saw the document, yet knows it
        assert httpx.get(f"{b}/api/documents/{doc}").json()["chunks"] == manifest["chunks"]


def test_a_stopped_bucket_never_stops_serving_from_disk(tmp_path: Path, s3: S3Server) -> None:
    env = s3.env()
    with (
        running_server(tmp_path / "a", **env) as (a, _),
        running_server(tmp_path / "b", **env) as (b, _),
    ):
        doc = upload_sample(a)
        pregenerate(a, doc)
        s3.stop()
        for index in range(3):
            got = httpx.get(f"{a}/api/tts/chunk?documentId={doc}&index={index}", timeout=10)
            assert got.status_code == 200 and got.headers["x-cache"] == "HIT"
        speech = {"model": "tts-1", "voice": "alloy", "input": "Written while the bucket is down."}
        made = httpx.post(f"{a}/v1/audio/speech", json=speech, timeout=20)
        assert made.status_code == 200 and made.headers["x-cache"] == "MISS"
        tier = wait(
            "A to notice", lambda: (t := shared_tier(a))["state"] == "unreachable" and t, timeout=30
        )
        assert tier["pendingWrites"] > 0 and tier["lastError"]
        assert httpx.get(f"{a}/healthz").json()["status"] == "ok"
        # B never saw the document and cannot reach the bucket: a clean 404, no hang
        got = httpx.get(f"{b}/api/tts/chunk?documentId={doc}&index=0", timeout=20)
        assert got.status_code == 404
        # B's own speech is synthesized (reads fall back) and queued for the bucket
        own = {**speech, "input": "B speaks while the bucket is down."}
        assert httpx.post(f"{b}/v1/audio/speech", json=own, timeout=20).status_code == 200
        s3.restart()
        wait("writes to catch up", lambda: shared_tier(a)["pendingWrites"] == 0, timeout=60)
        wait("B's writes too", lambda: shared_tier(b)["pendingWrites"] == 0, timeout=60)
        wait("B to ask the bucket again", lambda: shared_tier(b)["state"] == "ok", timeout=30)
        again = httpx.post(f"{b}/v1/audio/speech", json=speech, timeout=20)
        assert again.status_code == 200 and again.headers["x-cache"] == "HIT"
        assert again.content == made.content


def test_one_missing_chunk_asked_of_both_instances_is_synthesized_once(
    tmp_path: Path, s3: S3Server
) -> None:
    env = {**s3.env(), "PREREAD_FAKE_DELAY": "0.4"}  # both ask while it is being made
    with (
        running_server(tmp_path / "a", **env) as (a, _),
        running_server(tmp_path / "b", **env) as (b, _),
    ):
        doc = upload_sample(a)
        wait("the registration", lambda: shared_tier(a)["pendingWrites"] == 0, timeout=30)
        assert httpx.get(f"{b}/api/documents/{doc}").status_code == 200  # b adopts it
        before = {base: shared_tier(base)["fetched"] for base in (a, b)}
        url = "/api/tts/chunk?documentId=" + doc + "&index=0"
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(lambda base: httpx.get(base + url, timeout=60), (a, b)))
        assert [r.status_code for r in answers] == [200, 200]
        fetched = sum(shared_tier(base)["fetched"] - before[base] for base in (a, b))
        assert fetched == 1  # the other instance waited for the blob: one synthesis
        stored = [httpx.get(base + url).content for base in (a, b)]
        assert stored[0] == stored[1]


def test_b_exports_what_a_pregenerated_from_the_bucket(tmp_path: Path, s3: S3Server) -> None:
    """B's disk has none of the chunks: the export brings them from the bucket (no
    synthesis, no 409) and is byte for byte A's export of the same audio."""
    env = s3.env()
    with (
        running_server(tmp_path / "a", **env) as (a, _),
        running_server(tmp_path / "b", **env) as (b, _),
    ):
        doc = upload_sample(a)
        pregenerate(a, doc)
        chunks = httpx.get(f"{a}/api/documents/{doc}").json()["chunks"]
        from_b = export_mp3(b, doc)
        assert from_b == export_mp3(a, doc)
        assert shared_tier(b)["fetched"] >= len(chunks)
        for chunk in chunks:  # now on B's disk: served as stored chunks
            got = httpx.get(f"{b}/api/tts/chunk?documentId={doc}&index={chunk['index']}")
            assert got.headers["x-cache"] == "HIT"
            assert hashlib.sha256(got.content).hexdigest() == chunk["sha256"]
