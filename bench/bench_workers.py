"""Benchmark: pre-generation throughput with 1, 2 and 4 ``preread worker`` processes.

Starts Debian's PostgreSQL on 127.0.0.1 (``initdb`` in a temporary folder, as the
tests do), registers a set of documents and queues one job per document; N worker
processes (one machine: they share the store's disk) run them. Measured: from the
first job queued to the last one complete. Baseline, same run, same documents: the
server's in-process queue (``InProcessQueue``, one job at a time, as ``preread
serve`` runs jobs without ``PREREAD_QUEUE_URL``).

With the fake voice, each sentence sleeps ``--delay`` seconds (a stand-in for a
remote engine's latency: this machine has 2 cores, so CPU-bound work cannot scale
past 2) and is ``--seconds`` of a tone made once (``PREREAD_FAKE_SECONDS``: a fixed
synthesis delay at almost no CPU, so the figure is the queue's); with ``--piper``,
the real Piper voice at 1 and 2 workers, against the in-process queue (Piper's
default threads everywhere: one per core). One document
never runs in two workers, so scaling needs at least as many documents as workers.

The database's load is measured too: transactions a second (``pg_stat_database``)
while N workers run, and while one idle ``preread serve`` instance polls it.

Each store's voice level (``voices/*.loudness.json``, measured once per voice and
store) is measured before the clock starts, as a running deployment has it.

Usage: ``python bench/bench_workers.py [--docs 8] [--chunks 6] [--delay 0.2] [--seconds 0.2]
[--piper]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "queue")]

from pgkit import PASSWORD, USER, PgServer, running_postgres  # noqa: E402
from queuekit import book  # noqa: E402

from liveserver import free_port  # noqa: E402
from preread.jobqueue import JobSpec  # noqa: E402
from preread.library import Library  # noqa: E402
from preread.pgqueue import PostgresQueue  # noqa: E402
from preread.server.jobs import InProcessQueue  # noqa: E402
from preread.settings import Settings, VoiceSettings  # noqa: E402
from preread.tts.loudness import Levels  # noqa: E402

LAUNCH = "import sys; from preread.cli import main; sys.exit(main())"


def register(
    home: Path, voice: VoiceSettings, docs: int, chunks: int, seconds: float | None = None
) -> list[str]:
    """Register the documents; measure the voice's level (once per store, not timed)."""
    library = Library(Settings(home=home, voice=voice, fake_seconds=seconds))
    ids = []
    for n in range(docs):
        document, _ = library.add(book(chunks, f"bench{n}"), f"book{n}.md")
        assert len(document.blocks) == chunks, len(document.blocks)
        ids.append(document.document_id)
    Levels(home).gain(library.provider(), library.resolve_voice(voice))
    library.close()
    return ids


async def in_process(
    home: Path, voice: VoiceSettings, ids: list[str], delay: float, seconds: float | None
) -> float:
    library = Library(Settings(home=home, voice=voice, fake_delay=delay, fake_seconds=seconds))
    queue = InProcessQueue(library, workers=1)
    await queue.start()
    started = time.perf_counter()
    for doc in ids:
        await queue.submit(JobSpec(doc, voice))
    while not all((job := queue.job(doc)) is not None and job.state == "complete" for doc in ids):
        await asyncio.sleep(0.05)
    took = time.perf_counter() - started
    await queue.stop()
    library.close()
    return took


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux's ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def workers(n: int, home: Path, env: dict[str, str], log: Path) -> Iterator[list[float]]:
    """N workers started and listening; yields a list that holds, once the block ends,
    the CPU seconds they spent in it (all of them together)."""
    procs = []
    with open(log, "ab") as out:
        for _ in range(n):
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", LAUNCH, "--home", str(home), "worker"],
                    env={**os.environ, **env},
                    stdout=out,
                    stderr=out,
                )
            )
    try:
        deadline = time.monotonic() + 120
        while log.read_text().count("taking jobs") < n:  # every worker listening
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise SystemExit(f"workers did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        before = sum(cpu_seconds(p.pid) for p in procs)
        spent: list[float] = []
        yield spent
        spent.append(sum(cpu_seconds(p.pid) for p in procs) - before)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)


def commits(conn: psycopg.Connection[Any]) -> int:
    """Transactions committed in this database so far (the statistics lag ≤ 0.5 s)."""
    conn.execute("SELECT pg_stat_clear_snapshot()")
    row = conn.execute(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
    ).fetchone()
    return int(row[0]) if row else 0


def connections(conn: psycopg.Connection[Any]) -> int:
    """Connections to this database now, but this script's own."""
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid()"
    ).fetchone()
    return int(row[0]) if row else 0


async def queued(url: str, ids: list[str], voice: VoiceSettings) -> tuple[float, float, int]:
    """(seconds from the first job queued to the last complete, the workers' database
    transactions a second meanwhile: this script's own polls are not counted, the most
    connections the workers held at once)."""
    queue = PostgresQueue(url, poll=3600.0)  # no poller: this script reads the table itself
    with psycopg.connect(url, autocommit=True) as conn:
        theirs = connections(conn)  # the workers', idle (listening)
        await queue.start()
        await asyncio.sleep(0.5)
        mine_open = connections(conn) - theirs  # this script's queue's pool
        before = commits(conn)
        started = time.perf_counter()
        mine = 1
        for doc in ids:
            await queue.submit(JobSpec(doc, voice))
        mine += 2 * len(ids)  # each submit: one row written, one job deferred
        held = theirs
        while True:
            states = [r[0] for r in conn.execute("SELECT state FROM preread_jobs").fetchall()]
            held = max(held, connections(conn) - mine_open)
            mine += 2
            if len(states) == len(ids) and all(s == "complete" for s in states):
                break
            if any(s in ("failed", "partial", "cancelled") for s in states):
                raise SystemExit(f"a job ended {states}")
            await asyncio.sleep(0.1)
        took = time.perf_counter() - started
        rate = (commits(conn) - before - mine) / took
    await queue.stop()
    return took, rate, held


def run_workers(
    pg: PgServer,
    tmp: Path,
    n: int,
    voice: VoiceSettings,
    env: dict[str, str],
    args: argparse.Namespace,
    tag: str,
) -> tuple[float, float, float, int]:
    """(seconds, database transactions a second, the workers' CPU seconds, the most
    database connections they held at once)."""
    url = pg.create_database(f"bench_{tag}_{n}")
    home = tmp / f"{tag}-{n}"
    if tag.startswith("piper"):
        ids = register(home, voice, args.piper_docs, args.piper_chunks)
    else:
        ids = register(home, voice, args.docs, args.chunks, args.seconds)
    subprocess.run(
        [sys.executable, "-c", LAUNCH, "queue", "init"],
        env={**os.environ, "PREREAD_QUEUE_URL": url}, check=True, capture_output=True,
    )  # fmt: skip
    with workers(n, home, {**env, "PREREAD_QUEUE_URL": url}, tmp / f"{tag}-{n}.log") as cpu:
        took, rate, held = asyncio.run(queued(url, ids, voice))
    return took, rate, cpu[0], held


def idle_server_rate(pg: PgServer, tmp: Path, seconds: float = 10.0) -> tuple[float, int]:
    """Transactions a second of one ``preread serve`` with no job (its poller), and the
    connections it holds."""
    url = pg.create_database("bench_idle")
    home = tmp / "idle"
    proc = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, "--home", str(home), "serve", "--port", str(free_port())],
        env={**os.environ, "PREREAD_QUEUE_URL": url, "PREREAD_PROVIDER": "fake"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(8)  # started and polling
        with psycopg.connect(url, autocommit=True) as conn:
            before, started = commits(conn), time.perf_counter()
            time.sleep(seconds)
            rate = (commits(conn) - before - 1) / (time.perf_counter() - started)
            return rate, connections(conn)
    finally:
        proc.terminate()
        proc.wait(30)


def pgbench_rate(pg: PgServer, script: str, seconds: int = 8) -> float:
    """What this PostgreSQL does on this machine: pgbench's ``script`` (``select-only``,
    ``simple-update``), 4 clients, transactions a second."""
    import re

    name = f"pgbench_{script.replace('-', '_')}"
    pg.create_database(name)
    conn = ["-h", "127.0.0.1", "-p", str(pg.port), "-U", USER, name]
    env = {**os.environ, "PGPASSWORD": PASSWORD}
    tool = str(pg.bin / "pgbench")
    subprocess.run([tool, "-i", "-q", "-s", "1", *conn], env=env, check=True, capture_output=True)
    out = subprocess.run(
        [tool, "-b", script, "-c", "4", "-j", "2", "-T", str(seconds), *conn],
        env=env, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    found = re.search(r"tps = ([0-9.]+)", out)
    return float(found.group(1)) if found else float("nan")


def report(
    name: str, baseline: float, runs: dict[int, tuple[float, float, float, int]], work: int
) -> None:
    print(f"\n{name}: {work} chunks")
    print(
        f"  in-process queue (baseline, one job at a time): {baseline:6.2f} s,"
        f" {work / baseline:5.1f} chunks/s"
    )
    one = runs[min(runs)][0]
    for n, (took, rate, cpu, held) in sorted(runs.items()):
        speedup = one / took
        print(
            f"  {n} worker(s): {took:6.2f} s, {work / took:5.1f} chunks/s, x{baseline / took:4.2f}"
            f" the baseline, scaling efficiency {speedup / n * min(runs):4.2f};"
            f" database {rate:5.1f} tx/s ({rate / n:4.1f} a worker), {held} connections;"
            f" workers' CPU {cpu * 1000 / work:5.1f} ms a chunk"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=8)
    parser.add_argument("--chunks", type=int, default=6, help="chunks per document")
    parser.add_argument("--delay", type=float, default=0.2, help="fake voice: seconds a sentence")
    parser.add_argument(
        "--seconds", type=float, default=0.2, help="fake voice: seconds of audio a sentence"
    )
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument(
        "--piper", action="store_true", help="also the real Piper voice, 1 and 2 workers"
    )
    parser.add_argument("--piper-docs", type=int, default=2)
    parser.add_argument("--skip-fake", action="store_true", help="only the Piper figures")
    parser.add_argument("--piper-chunks", type=int, default=3)
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    with running_postgres() as pg, tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        print(
            f"PostgreSQL {pg.bin.parent.name} on 127.0.0.1:{pg.port}; {os.cpu_count()} CPUs;"
            f" load {os.getloadavg()[0]:.1f}"
        )
        fake = VoiceSettings(provider="fake")
        if not args.skip_fake:
            env = {
                "PREREAD_PROVIDER": "fake",
                "PREREAD_FAKE_DELAY": str(args.delay),
                "PREREAD_FAKE_SECONDS": str(args.seconds),
            }
            base_home = tmp / "inproc"
            ids = register(base_home, fake, args.docs, args.chunks, args.seconds)
            baseline = asyncio.run(in_process(base_home, fake, ids, args.delay, args.seconds))
            runs = {n: run_workers(pg, tmp, n, fake, env, args, "fake") for n in counts}
            report(
                f"fake voice, {args.delay:g} s a sentence ({args.seconds:g} s of audio),"
                f" {args.docs} documents x {args.chunks} chunks",
                baseline, runs, args.docs * args.chunks,
            )  # fmt: skip
            rate, held = idle_server_rate(pg, tmp)
            idle = f"{rate:.1f} tx/s, {held} connections"
            print(f"  one idle preread serve polling the queue: {idle}")
            print(
                "  this PostgreSQL on this machine (pgbench, 4 clients):"
                f" {pgbench_rate(pg, 'select-only'):,.0f} tx/s select-only,"
                f" {pgbench_rate(pg, 'simple-update'):,.0f} tx/s simple-update"
            )
        if args.piper:
            piper = VoiceSettings(provider="piper")
            base_home = tmp / "inproc-piper"
            ids = register(base_home, piper, args.piper_docs, args.piper_chunks)
            baseline = asyncio.run(in_process(base_home, piper, ids, 0.0, None))
            env = {"PREREAD_PROVIDER": "piper"}
            runs = {n: run_workers(pg, tmp, n, piper, env, args, "piper") for n in (1, 2)}
            report(
                f"Piper, {args.piper_docs} documents x {args.piper_chunks} chunks"
                " (each worker: one synthesis per core at once)",
                baseline, runs, args.piper_docs * args.piper_chunks,
            )  # fmt: skip
            cores = os.cpu_count() or 1
            split = {  # the cores shared out: PREREAD_SYNTH_WORKERS = cores / workers
                n: run_workers(
                    pg, tmp, n, piper,
                    {**env, "PREREAD_SYNTH_WORKERS": str(max(1, cores // n))}, args, f"piper_s{n}",
                )
                for n in (1, 2)
            }  # fmt: skip
            report(
                f"Piper, same documents, PREREAD_SYNTH_WORKERS = {cores} cores / workers",
                baseline, split, args.piper_docs * args.piper_chunks,
            )  # fmt: skip


if __name__ == "__main__":
    main()
