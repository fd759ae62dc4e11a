"""Jobs on a real queue: ``preread serve`` instances and ``preread worker`` processes
sharing a real PostgreSQL (Debian's, ``initdb`` in a temporary folder) and, across
machines, moto's S3 server. The fake provider sleeps per sentence so jobs last."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import httpx
import psycopg
import pytest
from pgkit import PASSWORD, PgServer
from queuekit import (
    book,
    every_chunk_valid,
    post_document,
    running_worker,
    status,
)
from s3kit import running_s3

from liveserver import running_server, stop, wait
from openai_server import SpeechServer
from preread.cli import main

pytestmark = pytest.mark.slow

FAST = ("--heartbeat", "0.5", "--stalled-after", "2")  # a killed worker is found in ~2 s
SHORT = {"PREREAD_FAKE_SECONDS": "0.1"}  # the fake voice's sentences: short, little CPU


def _events_end(base: str, doc: str) -> dict[str, object]:
    """The ``end`` event of the job's event stream (read until the stream closes)."""
    url = f"{base}/api/tts/preprocess/events?documentId={doc}"
    event = None
    with httpx.stream("GET", url, timeout=60) as stream:
        for line in stream.iter_lines():
            if line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: ") and event == "end":
                data: dict[str, object] = json.loads(line[len("data: ") :])
                return data
    raise AssertionError("the event stream closed without an end event")


def test_a_job_posted_to_a_is_run_by_the_workers_and_served_by_b(
    tmp_path: Path, queue_url: str
) -> None:
    with running_s3() as s3:
        env = {**s3.env(), "PREREAD_QUEUE_URL": queue_url, "PREREAD_FAKE_DELAY": "0.02", **SHORT}
        with (
            running_worker(tmp_path / "w1", *FAST, **env),  # starting while the servers do
            running_worker(tmp_path / "w2", *FAST, **env),
            running_server(tmp_path / "a", **env) as (a, _),
            running_server(tmp_path / "b", **env) as (b, _),
        ):
            doc = post_document(a, book(13, "shared"))
            started = httpx.post(f"{a}/api/tts/preprocess", json={"documentId": doc})
            assert started.status_code == 202 and started.json()["state"] == "queued"
            # B follows the job from the queue's shared state: status, then its events
            wait("B to see the job", lambda: status(b, doc).get("jobId") == started.json()["jobId"])
            end = _events_end(b, doc)
            assert end["state"] == "complete" and end["done"] == end["total"] == 13
            chunks = every_chunk_valid(b, doc)  # B synthesized nothing: every chunk a HIT
            assert len(chunks) == 13
            assert status(a, doc)["state"] == "complete"
        logs = (tmp_path / "w1.log").read_text() + (tmp_path / "w2.log").read_text()
        assert logs.count("complete: 13 generated") == 1  # one worker ran it, once


def test_a_worker_killed_mid_job_loses_no_chunk_and_its_job_runs_again(
    tmp_path: Path, queue_url: str
) -> None:
    """Two workers of one machine (one disk): the first is SIGKILLed mid-job; the second
    finds it dead by its heartbeat, runs the job again and redoes no finished chunk."""
    home = tmp_path / "home"
    env = {"PREREAD_QUEUE_URL": queue_url, "PREREAD_FAKE_DELAY": "0.1", **SHORT}
    with running_server(home, **env) as (a, _):
        doc = post_document(a, book(20, "killed"))
        with running_worker(home, *FAST, log=tmp_path / "w1.log", **env) as first:
            assert httpx.post(f"{a}/api/tts/preprocess", json={"documentId": doc}).is_success
            done = wait("a few chunks", lambda: (d := status(a, doc).get("done", 0)) >= 4 and d)
            # the second starts now (it cannot take a job its document's lock holds)
            with running_worker(home, *FAST, log=tmp_path / "w2.log", **env):
                os.kill(first.pid, signal.SIGKILL)
                first.wait(10)
                assert status(a, doc)["state"] == "running"  # as the dead worker left it
                wait("the job", lambda: status(a, doc)["state"] == "complete", timeout=60)
        every_chunk_valid(a, doc)
    second = (tmp_path / "w2.log").read_text()
    assert "its worker stopped; job queued again" in second
    skipped = int(second.split(" already done")[0].rsplit(", ", 1)[1])
    assert skipped >= done  # every chunk the killed worker finished was kept


@pytest.mark.timeout(300)  # three processes and moto on a loaded machine
def test_a_worker_killed_on_one_disk_is_resumed_on_another_through_the_bucket(
    tmp_path: Path, queue_url: str
) -> None:
    """Two workers with their own local disks and one bucket: the first is SIGKILLed
    mid-job; the second, on the other disk, runs the job again and synthesizes exactly
    the chunks the bucket did not have (the engine, a local OpenAI-protocol server,
    counts every synthesis): the first worker's shared chunks come through the bucket."""
    with running_s3() as s3, SpeechServer() as speech:
        speech.delay = 0.2  # a synthesis a chunk
        env = {
            **s3.env(),
            "PREREAD_QUEUE_URL": queue_url,
            "PREREAD_PROVIDER": "openai",
            "OPENAI_BASE_URL": speech.base_url,
            "OPENAI_API_KEY": "sk-test",
        }

        def blobs() -> set[str]:
            """The blobs whole in the bucket: audio and sidecar (put in that order)."""
            keys = {k for k in s3.object_keys() if "/blobs/" in k}
            return {k for k in keys if k.endswith(".mp3") and k[: -len(".mp3")] + ".json" in keys}

        with running_server(tmp_path / "a", **env) as (a, _):
            doc = post_document(a, book(16, "two disks"))
            with running_worker(tmp_path / "w1", *FAST, **env) as first:
                assert httpx.post(f"{a}/api/tts/preprocess", json={"documentId": doc}).is_success
                wait("chunks in the bucket", lambda: len(blobs()) >= 3)
                with running_worker(tmp_path / "w2", *FAST, **env):  # idle: the job is held
                    os.kill(first.pid, signal.SIGKILL)
                    first.wait(10)
                    shared = blobs()  # what the bucket has of the killed worker's work
                    by_first = [r.body["input"] for r in speech.requests]
                    assert 3 <= len(shared) < 16 and len(by_first) >= len(shared)
                    wait("the job", lambda: status(a, doc)["state"] == "complete", timeout=90)
            by_second = [r.body["input"] for r in speech.requests][len(by_first) :]
            assert len(by_second) == 16 - len(shared)  # none of the bucket's chunks again
            assert len(set(by_first) | set(by_second)) == 16  # every chunk made
            assert blobs() >= shared and len(blobs()) == 16
            every_chunk_valid(a, doc)  # A, a third disk, serves them all from the bucket
        second = (tmp_path / "w2.log").read_text()
        assert "its worker stopped; job queued again" in second
        assert f"{16 - len(shared)} generated, {len(shared)} reused" in second


def test_cancel_reaches_the_running_worker(tmp_path: Path, queue_url: str) -> None:
    home = tmp_path / "home"
    env = {"PREREAD_QUEUE_URL": queue_url, "PREREAD_FAKE_DELAY": "0.1", **SHORT}
    with (
        running_worker(home, *FAST, log=tmp_path / "w.log", **env),
        running_server(home, **env) as (a, _),
    ):
        doc = post_document(a, book(30, "cancel"))
        assert httpx.post(f"{a}/api/tts/preprocess", json={"documentId": doc}).is_success
        wait("the job to run", lambda: status(a, doc).get("done", 0) >= 2)
        cancelled = httpx.post(f"{a}/api/tts/preprocess/cancel?documentId={doc}", timeout=40)
        assert cancelled.status_code == 200
        assert cancelled.json()["state"] == "cancelled"  # answered once the worker stopped
        done = status(a, doc)["done"]
        assert done < 30
        wait("the worker to say so", lambda: "cancelled" in (tmp_path / "w.log").read_text())
        # a new job for the document starts again from the chunks done
        again = httpx.post(f"{a}/api/tts/preprocess", json={"documentId": doc})
        assert again.status_code == 202
        wait("the job", lambda: status(a, doc)["state"] == "complete", timeout=60)
    assert f"{done} already done" in (tmp_path / "w.log").read_text()


def test_one_document_never_runs_in_two_workers_at_once(
    tmp_path: Path, pg: PgServer, queue_url: str
) -> None:
    """A second job of the same document (as a race between instances could defer) waits
    for the document's lock: never two ``doing`` at once; two documents run side by side."""
    env = {"PREREAD_QUEUE_URL": queue_url, "PREREAD_FAKE_DELAY": "0.05", **SHORT}
    home = tmp_path / "home"
    with (
        running_worker(home, *FAST, log=tmp_path / "w1.log", **env),
        running_worker(home, *FAST, log=tmp_path / "w2.log", **env),
        running_server(home, **env) as (a, _),
        psycopg.connect(queue_url, autocommit=True) as db,
    ):
        docs = [post_document(a, book(10, f"lock{n}")) for n in range(2)]
        for doc in docs:
            assert httpx.post(f"{a}/api/tts/preprocess", json={"documentId": doc}).is_success
        db.execute(  # a duplicate of the first document's job, straight into the queue
            "SELECT procrastinate_defer_jobs_v1(ARRAY[ROW('preread', 'preread.preprocess', 0,"
            " %s, NULL, %s::jsonb, NULL)::procrastinate_job_to_defer_v1])",
            (docs[0], json.dumps({"document_id": docs[0]})),
        )
        most: dict[str, int] = {}
        both_running = False

        def sample() -> bool:
            nonlocal both_running
            rows = db.execute(
                "SELECT lock, count(*) FROM procrastinate_jobs WHERE status = 'doing' GROUP BY lock"
            ).fetchall()
            for lock, count in rows:
                most[lock] = max(most.get(lock, 0), count)
            both_running = both_running or len(rows) == 2
            return all(status(a, doc)["state"] == "complete" for doc in docs) and not rows

        wait("both jobs", sample, timeout=60, every=0.05)
        assert max(most.values()) == 1  # one worker per document at a time
        assert both_running  # the two documents did run side by side
        left = db.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
        )
        assert left.fetchone() == (0,)
    logs = (tmp_path / "w1.log").read_text() + (tmp_path / "w2.log").read_text()
    assert logs.count("generated") == 2  # the duplicate found the job done: no third run


def test_postgres_stopped_chunks_still_served_job_routes_503(
    tmp_path: Path, pg: PgServer, queue_url: str
) -> None:
    home = tmp_path / "home"
    env = {"PREREAD_QUEUE_URL": queue_url, **SHORT}
    queue = lambda: httpx.get(f"{a}/healthz").json()["jobQueue"]["state"]  # noqa: E731
    try:
        with (
            running_worker(home, *FAST, log=tmp_path / "w.log", **env),
            running_server(home, **env) as (a, server),
        ):
            doc = post_document(a, book(4, "down"))
            assert httpx.post(f"{a}/api/tts/preprocess", json={"documentId": doc}).is_success
            wait("the job", lambda: status(a, doc)["state"] == "complete")
            pg.stop()
            every_chunk_valid(a, doc)
            wait("A to notice", lambda: queue() == "unreachable")
            answers = [
                httpx.post(f"{a}/api/tts/preprocess", json={"documentId": doc}, timeout=20),
                httpx.get(f"{a}/api/tts/preprocess/status?documentId={doc}"),
                httpx.get(f"{a}/api/tts/preprocess/events?documentId={doc}"),
                httpx.post(f"{a}/api/tts/preprocess/cancel?documentId={doc}"),
                httpx.delete(f"{a}/api/tts/preprocess?documentId={doc}"),
            ]
            for got in answers:
                assert got.status_code == 503
                message = got.json()["error"]["message"]
                assert "job queue" in message and "unreachable" in message
                assert PASSWORD not in got.text
            assert httpx.get(f"{a}/healthz").json()["status"] == "ok"
            every_chunk_valid(a, doc)  # still served, from disk
            pg.start()
            wait("the queue to be back", lambda: queue() == "ok", timeout=30)
            assert status(a, doc)["state"] == "complete"
            _, err = stop(server)
        said = err.decode()
        assert "unreachable" in said and PASSWORD not in said
        assert PASSWORD not in (tmp_path / "w.log").read_text()
    finally:
        if pg.process is None or pg.process.poll() is not None:
            pg.start()  # for the session's other tests


def test_queue_init_and_worker_commands(
    tmp_path: Path,
    queue_url: str,
    pg: PgServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def preread(*args: str, url: str | None = None) -> tuple[int, str, str]:
        if url is None:
            monkeypatch.delenv("PREREAD_QUEUE_URL", raising=False)
        else:
            monkeypatch.setenv("PREREAD_QUEUE_URL", url)
        code = main(["--home", str(tmp_path), *args])
        out, err = capsys.readouterr()
        assert PASSWORD not in out + err and "secretpw" not in out + err
        return code, out, err

    assert preread("queue", "init", url=queue_url)[1].endswith(": created\n")
    code, out, _ = preread("queue", "init", url=queue_url)
    assert code == 0 and out.endswith(": already there\n")
    code, _, err = preread("worker")
    assert code == 2 and "PREREAD_QUEUE_URL" in err
    code, _, err = preread("queue", "init", url="mysql://u:secretpw@h/db")
    assert code == 2 and "bad PREREAD_QUEUE_URL" in err
    down = f"postgresql://u:{PASSWORD}@127.0.0.1:{pg.port + 1}/db"  # nothing listens there
    for command in (("worker",), ("queue", "init")):
        code, _, err = preread(*command, url=down)
        assert code == 1
        assert err.splitlines()[-1].startswith("preread: error: cannot reach the job queue")
