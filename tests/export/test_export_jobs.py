"""Export jobs over HTTP against a real ``preread serve`` (fake voice): start → job id at
once → progress by polling and Server-Sent Events → download (Content-Length, Range, a
name) whose bytes decode to the chapters and length of the audio; the same export asked
again is served from the store; a cancelled one leaves no file; errors are one line."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mutagen.mp4 import MP4
from starlette.testclient import TestClient
from test_m4b import TITLES, ffmpeg_view

from liveserver import running_server, wait
from preread.cli import main
from preread.errors import Busy
from preread.ids import document_id_of_bytes
from preread.library import Library
from preread.manifest import Manifest
from preread.server import create_app
from preread.server.export_jobs import ExportJobs
from preread.settings import Settings, VoiceSettings
from preread.store import Store

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample.pdf"
DOC = document_id_of_bytes(SAMPLE.read_bytes())
PARAGRAPH = (
    "The keeper walked along the cliffs and watched the grey sea roll towards the rocks"
    " below. Gulls circled over the tower while the light turned slowly."
)
BIG = "\n".join(f"# Part {n}\n\n" + f"{PARAGRAPH}\n\n" * 20 for n in (1, 2)).encode()
BIG_DOC = document_id_of_bytes(BIG)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """sample.pdf (5 chunks, 2 chapters) and a 14-chunk book (one paragraph said again
    and again: synthesized once), pre-generated; ``serve --workers 2`` on their store,
    so each request may reach either process (the job's state file at work)."""
    home = tmp_path_factory.mktemp("exports") / "home"
    book = home.parent / "book.md"
    book.write_bytes(BIG)
    for source in (book, SAMPLE):
        args = ["--home", str(home), "preprocess", str(source), "--provider", "fake", "-q"]
        assert main(args) == 0
    with running_server(home, stdout=subprocess.DEVNULL, args=["--workers", "2"]) as (base, _):
        yield base, home


def events(base: str, job_id: str) -> Iterator[tuple[str, dict[str, Any]]]:
    with httpx.stream("GET", f"{base}/api/exports/{job_id}/events", timeout=60) as stream:
        assert stream.status_code == 200
        name = ""
        for line in stream.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                yield name, json.loads(line[6:])


def leftovers(home: Path) -> list[str]:
    """Files of exports that are not kept whole: temp folders and temp files."""
    found = [p.name for p in (home / "exports").glob("tmp-*")]
    return found + [p.name for p in home.rglob("*.tmp")]


def test_an_m4b_export_runs_as_a_job_and_downloads_with_its_chapters(
    served: tuple[str, Path],
) -> None:
    base, home = served
    started = httpx.post(f"{base}/api/exports", json={"documentId": DOC[:10], "format": "m4b"})
    assert started.status_code == 202, started.text
    job = started.json()
    assert job["state"] in ("queued", "running") and job["total"] == 5
    assert started.headers["location"] == f"/api/exports/{job['jobId']}"
    seen = list(events(base, job["jobId"]))
    assert seen[-1][0] == "end" and seen[-1][1]["state"] == "done"
    assert all(name == "status" for name, _ in seen[:-1])
    fractions = [body["fraction"] for _, body in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    status = httpx.get(f"{base}/api/exports/{job['jobId']}").json()
    assert status["state"] == "done" and status["done"] == status["total"] == 5
    assert status["bytes"] == status["totalBytes"] > 0 and status["eta"] is None

    got = httpx.get(base + status["downloadUrl"])
    assert got.status_code == 200 and got.headers["content-type"] == "audio/mp4"
    assert int(got.headers["content-length"]) == len(got.content) == status["size"]
    disposition = "attachment; filename=\"sample.m4b\"; filename*=UTF-8''sample.m4b"
    assert got.headers["content-disposition"] == disposition
    part = httpx.get(base + status["downloadUrl"], headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == got.content[100:200]
    manifest = Store(home).read_manifest(DOC)
    assert isinstance(manifest, Manifest)
    spoken = sum(c.duration or 0.0 for c in manifest.chunks)
    page_one = sum(c.duration or 0.0 for c in manifest.chunks if c.page == 1)
    chapters, decoded = ffmpeg_view(got.content)
    assert [t for t, _ in chapters] == TITLES
    assert chapters[1][1] == pytest.approx(page_one, abs=0.1)
    assert decoded == pytest.approx(spoken, abs=0.1)
    saved = home.parent / "got.m4b"
    saved.write_bytes(got.content)
    assert [c.title for c in MP4(str(saved)).chapters] == TITLES

    # kept in the store as a blob: the same export again is done at once, the same file
    kept = home / "blobs" / job["jobId"][:2] / f"{job['jobId']}.m4b"
    assert kept.read_bytes() == got.content
    again = httpx.post(f"{base}/api/exports", json={"documentId": DOC, "format": "m4b"})
    assert again.status_code == 200 and again.json()["jobId"] == job["jobId"]
    assert again.json()["state"] == "done" and os.stat(kept).st_nlink == 1
    assert leftovers(home) == []


def test_a_chapter_as_subtitles_polled_until_done(served: tuple[str, Path]) -> None:
    base, home = served
    body = {"documentId": DOC, "format": "vtt", "chapter": 2}
    job = httpx.post(f"{base}/api/exports", json=body).json()
    url = f"{base}/api/exports/{job['jobId']}"
    done = wait("the export", lambda: (s := httpx.get(url).json())["state"] == "done" and s)
    got = httpx.get(base + done["downloadUrl"])
    assert got.headers["content-type"].startswith("text/vtt")
    assert "filename*=UTF-8''sample%20-%20chapter%202.vtt" in got.headers["content-disposition"]
    manifest = Store(home).read_manifest(DOC)
    assert manifest is not None
    sentences = [s.text for c in manifest.chunks if c.page >= 2 for s in c.sentences]
    assert got.text.startswith("WEBVTT\n\n00:00:00.000 --> ")
    assert got.text.count(" --> ") == len(sentences)
    mp3 = httpx.post(f"{base}/api/exports", json={"documentId": DOC, "format": "mp3"}).json()
    assert mp3["jobId"] != job["jobId"]  # another format, another export


def test_a_cancelled_export_leaves_no_file(served: tuple[str, Path]) -> None:
    base, home = served
    job = httpx.post(f"{base}/api/exports", json={"documentId": BIG_DOC, "format": "m4b"}).json()
    assert job["total"] >= 10
    for name, body in events(base, job["jobId"]):
        assert name == "status", body
        if body["done"] >= 1:  # running, with progress and an ETA
            assert body["state"] == "running" and 0 < body["fraction"] < 1
            assert body["eta"] is not None and body["eta"] > 0
            break
    stopped = httpx.post(f"{base}/api/exports/{job['jobId']}/cancel", timeout=30)
    assert stopped.status_code == 200 and stopped.json()["state"] == "cancelled"
    assert httpx.get(f"{base}/api/exports/{job['jobId']}/file").status_code == 404
    assert not list(home.glob(f"blobs/*/{job['jobId']}.*"))
    assert leftovers(home) == []


def test_a_server_killed_mid_export_leaves_no_file_and_the_next_start_clears_its_temp(
    served: tuple[str, Path],
) -> None:
    """Another server on the store, SIGKILLed mid-export: no file under the export's
    name, its temp folder only, which a starting server removes (``ExportJobs.start``
    calls ``clear_export_leftovers``); the others say the job failed."""
    served_base, home = served
    with running_server(home, stdout=subprocess.DEVNULL) as (base, process):
        body = {"documentId": BIG_DOC, "format": "m4b", "chapter": 1}
        job = httpx.post(f"{base}/api/exports", json=body).json()
        url = f"{base}/api/exports/{job['jobId']}"
        wait("progress", lambda: httpx.get(url).json()["done"] >= 1, every=0.02)
        process.kill()
        process.wait(10)
    temp = list((home / "exports").glob(f"tmp-{process.pid}-*"))
    assert len(temp) == 1 and list(temp[0].iterdir())  # what it was writing
    assert not list(home.glob(f"blobs/*/{job['jobId']}.*"))
    status = httpx.get(f"{served_base}/api/exports/{job['jobId']}").json()
    assert status["state"] == "failed" and "stopped" in status["error"]
    library = Library(Settings(home=home, voice=VoiceSettings(provider="fake")))
    assert library.clear_export_leftovers() == 1 and not temp[0].exists()
    library.close()


def test_exports_run_a_bounded_number_at_once_and_refuse_past_the_queue(
    served: tuple[str, Path],
) -> None:
    """The server's export jobs with one worker and room for two: the second waits while
    the first runs (and is cancelled at once), the third is refused (``Busy``: 503 over
    HTTP); real exports."""
    _, home = served
    library = Library(Settings(home=home, voice=VoiceSettings(provider="fake")))

    async def scenario() -> list[str]:
        jobs = ExportJobs(library, workers=1, queue_limit=2)
        await jobs.start()
        try:
            first = await jobs.submit(library.export_order(BIG_DOC, "m4b", None))
            second = await jobs.submit(library.export_order(DOC, "srt", 1))
            with pytest.raises(Busy) as refused:
                await jobs.submit(library.export_order(DOC, "srt", 2))
            assert refused.value.status_code == 503 and refused.value.retry_after
            while first.state == "queued":
                await anyio.sleep(0.01)
            states = [first.state, second.state]
            with anyio.fail_after(1):  # a waiting export stops without waiting for a slot
                assert (await jobs.cancel(second.id)).state == "cancelled"
            assert first.state == "running"
            await jobs.cancel(first.id)
            return [*states, first.state]
        finally:
            await jobs.stop()

    try:
        assert anyio.run(scenario) == ["running", "queued", "cancelled"]
    finally:
        library.close()
    assert leftovers(home) == []


def test_errors_are_one_line_with_their_status(served: tuple[str, Path]) -> None:
    base, home = served
    post = f"{base}/api/exports"
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"documentId": "ab" * 32}, 404, "has no audio"),
        ({"documentId": DOC, "format": "wav"}, 400, "bad format 'wav'"),
        ({"documentId": DOC, "chapter": 9}, 404, "no chapter 9"),
        ({"documentId": DOC, "chapter": 0}, 400, "chapter"),
    ]
    for body, status, words in cases:
        answer = httpx.post(post, json=body)
        assert answer.status_code == status, (body, answer.text)
        message = answer.json()["error"]["message"]
        assert words in message.lower() and "\n" not in message, message
    assert httpx.get(f"{base}/api/exports/{'cd' * 32}").status_code == 404
    assert httpx.get(f"{base}/api/exports/nope/file").status_code == 404
    sorted(Store(home).chunks_dir(BIG_DOC).iterdir())[-1].unlink()  # a page without audio
    gap = httpx.post(post, json={"documentId": BIG_DOC, "format": "mp3"})
    assert gap.status_code == 409 and gap.json()["error"]["missingPages"]


def test_starting_or_cancelling_needs_the_token(home: Path) -> None:
    settings = Settings(home=home, voice=VoiceSettings(provider="fake"), api_token="s3cret")
    with TestClient(create_app(settings)) as client:
        assert client.post("/api/exports", json={"documentId": DOC}).status_code == 401
        assert client.post(f"/api/exports/{'ab' * 32}/cancel").status_code == 401
        assert client.get(f"/api/exports/{'ab' * 32}").status_code == 404


def test_kept_exports_are_evicted_by_last_use_under_the_size_limit(
    served: tuple[str, Path],
) -> None:
    base, home = served
    job = httpx.post(f"{base}/api/exports", json={"documentId": DOC, "format": "m4b"}).json()
    assert job["state"] == "done"  # kept by the first test
    kept = home / "blobs" / job["jobId"][:2] / f"{job['jobId']}.m4b"
    day_ago = time.time() - 86_400
    os.utime(kept, (day_ago, day_ago))  # unused for a day: the first to go
    assert main(["--home", str(home), "cleanup", "--max-size", "1"]) == 0
    assert not kept.exists()
    assert httpx.get(f"{base}/api/exports/{job['jobId']}/file").status_code == 404
    again = httpx.post(f"{base}/api/exports", json={"documentId": DOC, "format": "m4b"})
    assert again.status_code == 202 and again.json()["jobId"] == job["jobId"]  # made again
