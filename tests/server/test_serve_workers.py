"""``preread serve --workers N`` and single flight between processes sharing a store.

Real processes only: ``preread serve`` started as a command, the OpenAI-protocol test
server (``tests/openai_server.py``) as the engine, so every synthesis is one request
it records.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from serverkit import TEXTS, register_document

from liveserver import running_server
from openai_server import SpeechServer
from preread.flights import Flights
from preread.store import Store
from promtext import value

pytestmark = pytest.mark.slow

KEY = "ab" * 32  # a content key (64 hex)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by its parent) is gone too
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):  # (gone while being read: ESRCH)
        return False


def _get_many(url: str, count: int) -> list[httpx.Response]:
    """``count`` GETs, 8 at a time, each on a new connection (so either worker may take it)."""
    with (
        httpx.Client(limits=httpx.Limits(max_keepalive_connections=0), timeout=60) as client,
        ThreadPoolExecutor(8) as pool,
    ):
        return list(pool.map(lambda _: client.get(url), range(count)))


def _pids(base: str, workers: int = 2) -> tuple[set[int], int]:
    """The server processes answering ``/healthz`` once ``workers`` of them did (the last
    may still be starting when the first answers), and how many requests that took."""
    seen: set[int] = set()
    asked = 0
    deadline = time.monotonic() + 60
    while len(seen) < workers and time.monotonic() < deadline:
        seen |= {int(r.json()["pid"]) for r in _get_many(f"{base}/healthz", 8)}
        asked += 8
    return seen, asked


def _engine_env(speech: SpeechServer) -> dict[str, str]:
    return {
        "PREREAD_PROVIDER": "openai",
        "OPENAI_BASE_URL": speech.base_url,
        "OPENAI_API_KEY": "sk-test",
    }


def test_flights_sharing_a_lock_dir_lead_one_at_a_time(tmp_path: Path) -> None:
    """Two registries on one store (as two processes): the second leads only once the
    first landed; a cancelled wait gives up; no lock file stays behind."""
    first, second = Flights[str](tmp_path), Flights[str](tmp_path)
    first.lead(KEY, "a")
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(InterruptedError):
        second.lead(KEY, "b", cancel=cancel)
    assert KEY not in second  # the failed wait left no flight behind
    order: list[str] = []

    def wait_then_lead() -> None:
        with second.hold(KEY, "b"):
            order.append("second leads")

    waiter = threading.Thread(target=wait_then_lead)
    waiter.start()
    time.sleep(0.3)
    order.append("first lands")
    first.land(KEY)
    waiter.join(5)
    assert order == ["first lands", "second leads"]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.timeout(300)  # two servers starting on a loaded machine
def test_workers_share_a_port_and_a_store_count_once_and_stop_cleanly(tmp_path: Path) -> None:
    """``serve --workers 2`` next to a plain ``serve`` on the same store: a missing chunk
    asked of both servers at once, and another asked 8 times of the workers, are each
    synthesized once; ``/metrics`` counts every request once; SIGTERM stops it all."""
    home = tmp_path / "store"
    doc = register_document(Store(home))
    with SpeechServer() as speech:
        speech.delay = 0.5  # every request arrives while the first synthesis runs
        env = _engine_env(speech)
        workers = ["--workers", "2"]
        with (
            running_server(home, **env) as (single, _),
            running_server(home, stdout=subprocess.DEVNULL, args=workers, startup=90, **env) as (
                base,
                process,
            ),
        ):
            pids, asked = _pids(base)
            assert len(pids) == 2 and process.pid not in pids  # two workers, one port
            # chunk 0 asked of the two servers (two processes, one store) at once
            url = f"/api/tts/chunk?documentId={doc}&index=0"
            with ThreadPoolExecutor(2) as pool:
                answers = list(pool.map(lambda at: httpx.get(at + url, timeout=60), (single, base)))
            assert [r.status_code for r in answers] == [200, 200]
            # one streamed what it synthesized, the other (it waited) sent the stored file
            stored = httpx.get(base + url)
            assert stored.headers["x-cache"] == "HIT"
            assert stored.content in [r.content for r in answers]
            assert [r.body["input"] for r in speech.requests] == [TEXTS[0]]
            # chunk 1 asked 8 times at once, of whichever workers
            answers = _get_many(f"{base}/api/tts/chunk?documentId={doc}&index=1", 8)
            assert {r.status_code for r in answers} == {200}
            assert [r.body["input"] for r in speech.requests] == [TEXTS[0], TEXTS[1]]
            # /metrics counts each request once, whichever worker answered it or is scraped
            for _ in range(3):
                metrics = httpx.get(f"{base}/metrics").text
                healthz = value(metrics, "preread_requests_total", route="/healthz")
                assert healthz == asked + 1  # and the one that told running_server it was up
                chunks = value(metrics, "preread_requests_total", route="/api/tts/chunk")
                assert chunks == 1 + 1 + 8
            process.send_signal(signal.SIGTERM)
            process.wait(30)
            assert process.returncode == 0
            deadline = time.monotonic() + 10
            while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not any(_alive(pid) for pid in pids)  # no orphans


def _job_everywhere(base: str, doc: str) -> None:
    """A job's status and event stream agree whichever worker answers (16 requests on
    new connections: both workers answer some)."""
    started = httpx.post(f"{base}/api/tts/preprocess", json={"documentId": doc}, timeout=30)
    assert started.status_code == 202
    job = started.json()["jobId"]
    answers = _get_many(f"{base}/api/tts/preprocess/status?documentId={doc}", 16)
    states = {(r.json().get("jobId"), r.json()["state"]) for r in answers}
    assert states <= {(job, "queued"), (job, "running")}, states

    def end() -> dict[str, object]:
        url = f"{base}/api/tts/preprocess/events?documentId={doc}"
        with (
            httpx.Client(limits=httpx.Limits(max_keepalive_connections=0)) as client,
            client.stream("GET", url, timeout=60) as stream,
        ):
            lines = list(stream.iter_lines())
        data: dict[str, object] = json.loads(lines[lines.index("event: end") + 2][6:])
        return data

    with ThreadPoolExecutor(4) as pool:
        ends = list(pool.map(lambda _: end(), range(4)))
    assert all(e["state"] == "complete" and e["jobId"] == job for e in ends), ends
    assert all(e["done"] == e["total"] == len(TEXTS) for e in ends)


@pytest.mark.timeout(300)  # two servers starting on a loaded machine
def test_workers_agree_on_a_job_and_stop_when_their_supervisor_is_killed(
    tmp_path: Path,
) -> None:
    """A job's status and events agree whichever worker answers; no orphans; the
    metrics folder the killed command left is removed by the next command."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    live = temp / f"preread-metrics-{os.getpid()}-live"  # a running command's: kept
    live.mkdir()
    doc = register_document(Store(tmp_path / "store"))
    with running_server(
        tmp_path / "store",
        args=["--workers", "2"],
        startup=90,
        TMPDIR=str(temp),
        PREREAD_FAKE_DELAY="0.5",  # the job lasts a few seconds
    ) as (base, process):
        pids, _ = _pids(base)
        assert len(pids) == 2
        _job_everywhere(base, doc)
        left = temp / f"preread-metrics-{process.pid}-"
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        deadline = time.monotonic() + 15
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(pid) for pid in pids)
        stale = [p for p in temp.iterdir() if p.name.startswith(left.name)]
        assert len(stale) == 1 and stale[0].is_dir()  # SIGKILL: no cleanup ran
        # the next command on the machine removes it (here one whose port is taken)
        launch = "import sys; from preread.cli import main; sys.exit(main())"
        port = base.rsplit(":", 1)[1]
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", int(port)))
            taken.listen()
            done = subprocess.run(
                [sys.executable, "-c", launch, "--home", str(tmp_path / "store"), "serve",
                 "--port", port, "--workers", "2"],
                env={**os.environ, "TMPDIR": str(temp), "PREREAD_PROVIDER": "fake"},
                capture_output=True, timeout=120,
            )  # fmt: skip
        assert done.returncode != 0
        assert not stale[0].exists()
        assert live.is_dir()
        assert [p.name for p in temp.iterdir() if p.name.startswith("preread-")] == [live.name]


def test_bad_worker_count_is_one_clear_line(tmp_path: Path) -> None:
    launch = "import sys; from preread.cli import main; sys.exit(main())"
    done = subprocess.run(
        [sys.executable, "-c", launch, "--home", str(tmp_path), "serve", "--port", "1"],
        env={**os.environ, "PREREAD_SERVE_WORKERS": "zero"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "PREREAD_SERVE_WORKERS" in done.stderr and len(done.stderr.strip().splitlines()) == 1
