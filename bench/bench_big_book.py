"""Benchmark: a whole book (1,000 pages, > 4,000 blocks) pre-generated with the fake voice.

Run: .venv/bin/python bench/bench_big_book.py [--pages 1000] [--baseline-pages 250]
     [--duration 10] [--connections 64]

1. Writes two PDFs with reportlab (about 5 blocks a page): the book and a quarter of it.
2. Peak RSS of ``preread preprocess`` (a fresh process, the fake provider at speed 4 so
   encoding stays cheap) for both: the goal is ≤ 300 MB and flat in the book's length.
3. Chunk GETs at 64 connections on 127.0.0.1 (``wrk`` when installed, else a bounded
   asyncio HTTP/1.1 load loop) on chunks already done, while ``preprocess`` of the book
   runs against the same store as ``preread serve``, then idle: goal p99 ≤ 2× idle.
4. Time per progress write on the book's manifest: one journal append (what a run now
   does per chunk) against the old whole-manifest rewrite (read, parse, ``indent=1``
   dump, atomic write), measured in the same run; and the one fold at the end.
Other processes share the 2 cores: figures are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from liveserver import free_port
from preread.fsutil import atomic_write
from preread.journal import ProgressJournal
from preread.manifest import Manifest, apply_entry
from preread.store import Store

PREREAD = str(Path(sys.executable).parent / "preread")
PROSE = (
    "keeper walked along narrow path toward old tower where lamp burned every night while "
    "ships passed slowly through dark water and gulls cried above grey cliffs visitors often "
    "stopped at small museum to read logbooks written by careful hands storm came from west"
)
WORDS = PROSE.split(" ")
SPEED = "4"  # the fake voice's tone is 4x shorter: the bench measures preread, not lame


def make_pdf(path: Path, pages: int, paragraphs: int = 8) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate

    rng = random.Random(pages)
    style = getSampleStyleSheet()["BodyText"]
    story: list[Any] = []
    for _ in range(pages):
        for _ in range(paragraphs):
            words = [rng.choice(WORDS) for _ in range(rng.randint(30, 40))]
            story.append(Paragraph(" ".join(words).capitalize() + ".", style))
        story.append(PageBreak())
    SimpleDocTemplate(str(path), pagesize=A4, invariant=1).build(story)


def start_preprocess(home: Path, pdf: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PREREAD_PROVIDER": "fake"}
    command = [PREREAD, "--home", str(home), "preprocess", str(pdf), "--speed", SPEED, "--json"]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def blocks_rss(pdf: Path) -> float:
    """Peak RSS (MB) of ``preread blocks --json``: reading the PDF alone, no audio."""
    process = subprocess.Popen(
        [PREREAD, "blocks", str(pdf), "--json"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert process.stderr is not None
    err = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"blocks failed: {err.decode(errors='replace')[-2000:]}")
    return usage.ru_maxrss / 1024


def finish(process: subprocess.Popen[bytes]) -> tuple[dict[str, Any], float]:
    """The run's JSON summary and its peak RSS in MB (``wait4``: this child only)."""
    assert process.stdout is not None and process.stderr is not None
    out = process.stdout.read()
    err = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"preprocess failed: {err.decode(errors='replace')[-2000:]}")
    return json.loads(out), usage.ru_maxrss / 1024


def start_server(home: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PREREAD_PROVIDER": "fake", "PREREAD_SPEED": SPEED}
    process = subprocess.Popen(
        [PREREAD, "--home", str(home), "serve", "--port", str(port)],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"preread serve did not start: {log.read_text()[-2000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# -- load ---------------------------------------------------------------------------------
async def _load(port: int, paths: list[str], connections: int, duration: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + duration

    async def worker(number: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = number
        try:
            while time.perf_counter() < deadline:
                path = paths[i % len(paths)]
                i += connections
                started = time.perf_counter()
                writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
                if length is None:
                    raise RuntimeError(f"no Content-Length: {head[:200]!r}")
                await reader.readexactly(int(length.group(1)))
                latencies.append(time.perf_counter() - started)
                if head[9:12] != b"200":
                    errors += 1
        finally:
            writer.close()

    await asyncio.gather(*(worker(n) for n in range(connections)))
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": len(latencies) / duration,
        "p50": 1000 * latencies[len(latencies) // 2],
        "p99": 1000 * latencies[int(len(latencies) * 0.99)],
        "errors": errors,
        "client": "asyncio",
    }


def run_wrk(port: int, paths: list[str], connections: int, duration: float) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write("local paths = {" + ",".join(f'"{p}"' for p in paths) + "}\n")
        script.write("local i = 0\nrequest = function()\n  i = i + 1\n")
        script.write('  return wrk.format("GET", paths[(i % #paths) + 1])\nend\n')
    try:
        text = subprocess.run(
            ["wrk", "-t2", f"-c{connections}", f"-d{duration:g}s", "--latency", "-s",
             script.name, f"http://127.0.0.1:{port}"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    finally:
        os.unlink(script.name)

    def latency(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)", text, re.M)
        if not match:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    requests = re.search(r"(\d+) requests in", text)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    count = int(requests.group(1)) if requests else 0
    return {
        "requests": count,
        "rps": count / duration,
        "p50": latency("50"),
        "p99": latency("99"),
        "errors": int(errors.group(1)) if errors else 0,
        "client": "wrk",
    }


def load(port: int, paths: list[str], connections: int, duration: float) -> dict[str, Any]:
    if shutil.which("wrk"):
        return run_wrk(port, paths, connections, duration)
    return asyncio.run(_load(port, paths, connections, duration))


# -- progress writes ----------------------------------------------------------------------
def progress_writes(source: Store, document_id: str, scratch: Path) -> dict[str, Any]:
    """Old whole rewrite vs one journal append, on a copy of the book's manifest."""
    store = Store(scratch)
    store.doc_dir(document_id).mkdir(parents=True)
    shutil.copyfile(source.manifest_path(document_id), store.manifest_path(document_id))
    manifest = store.require_manifest(document_id)
    done = [c for c in manifest.chunks if c.status == "done"]
    old_times = []
    for entry in done[:5]:  # what record_entries did once a second
        started = time.perf_counter()
        old = Manifest.loads(store.manifest_path(document_id).read_bytes())
        apply_entry(old, entry)
        raw = json.dumps(old.to_json(), ensure_ascii=False, indent=1).encode("utf-8")
        atomic_write(store.manifest_path(document_id), raw)
        old_times.append(time.perf_counter() - started)
    old_size = store.manifest_path(document_id).stat().st_size
    store.write_manifest(manifest)  # the compact form a run starts from
    new_size = store.manifest_path(document_id).stat().st_size
    journal = ProgressJournal(
        store.manifest_path(document_id), lambda: store.manifest_lock(document_id), lambda m: True
    )
    journal.append(done[:1])  # the first append reads the manifest once (per run)
    new_times = []
    for entry in done[1:401]:
        started = time.perf_counter()
        assert journal.append([entry])
        new_times.append(time.perf_counter() - started)
    floor = []  # the disk's own cost: one line written and fsynced, nothing else
    with open(scratch / "floor.jsonl", "ab") as handle:
        for entry in done[1:401]:
            started = time.perf_counter()
            handle.write(json.dumps(entry.to_json()).encode() + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
            floor.append(time.perf_counter() - started)
    floor.sort()
    journal.append(done[401:])  # the rest of the run, untimed: the fold folds them all
    started = time.perf_counter()
    folded = store.fold_journal(document_id)
    fold = time.perf_counter() - started
    new_times.sort()
    return {
        "chunks": len(manifest.chunks),
        "old_ms": 1000 * statistics.median(old_times),
        "old_size": old_size,
        "new_size": new_size,
        "appends": len(new_times),
        "new_p50": 1000 * new_times[len(new_times) // 2],
        "new_p99": 1000 * new_times[int(len(new_times) * 0.99)],
        "new_max": 1000 * new_times[-1],
        "fold_ms": 1000 * fold,
        "floor_p50": 1000 * floor[len(floor) // 2],
        "floor_p99": 1000 * floor[int(len(floor) * 0.99)],
        "folded": folded,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--baseline-pages", type=int, default=250)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--done-first", type=int, default=400, help="chunks done before load")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="preread-bigbook-"))
    server = None
    try:
        book, small = tmp / "book.pdf", tmp / "small.pdf"
        started = time.perf_counter()
        make_pdf(book, args.pages)
        make_pdf(small, args.baseline_pages)
        print(f"PDFs written in {time.perf_counter() - started:.1f} s", file=sys.stderr)

        reading = {pdf: blocks_rss(pdf) for pdf in (small, book)}
        started = time.perf_counter()
        small_summary, small_rss = finish(start_preprocess(tmp / "small-home", small))
        small_wall = time.perf_counter() - started
        print(f"{args.baseline_pages} pages done in {small_wall:.0f} s", file=sys.stderr)

        home = tmp / "home"
        port = free_port()
        server = start_server(home, port, tmp / "serve.log")
        document_id = hashlib.sha256(book.read_bytes()).hexdigest()
        started = time.perf_counter()
        run = start_preprocess(home, book)
        status_url = f"http://127.0.0.1:{port}/api/tts/preprocess/status"
        while True:
            status = httpx.get(status_url, params={"documentId": document_id}, timeout=30)
            done = status.json().get("done", 0) if status.status_code == 200 else 0
            if done >= args.done_first or run.poll() is not None:
                break
            time.sleep(0.5)
        paths = [
            f"/api/tts/chunk?documentId={document_id}&index={i}" for i in range(args.done_first)
        ]
        random.Random(1).shuffle(paths)
        print(f"load during the run ({done} chunks done)...", file=sys.stderr)
        during = [load(port, paths, args.connections, args.duration) for _ in range(2)]
        still_running = run.poll() is None
        book_summary, book_rss = finish(run)
        book_wall = time.perf_counter() - started
        print(f"{args.pages} pages done in {book_wall:.0f} s; idle load...", file=sys.stderr)
        idle = [load(port, paths, args.connections, args.duration) for _ in range(2)]
        writes = progress_writes(Store(home), document_id, tmp / "scratch")
    finally:
        if server is not None:
            stop(server)
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    print("peak RSS of `preread preprocess` (fake voice, a fresh process)")
    print(f"{'book':<12}{'blocks':>8}{'wall s':>9}{'peak RSS MB':>13}{'`blocks` alone MB':>19}")
    for pages, pdf, summary, wall, rss in (
        (args.baseline_pages, small, small_summary, small_wall, small_rss),
        (args.pages, book, book_summary, book_wall, book_rss),
    ):
        print(f"{f'{pages} pages':<12}{summary['total']:>8}{wall:>9.0f}{rss:>13.1f}"
              f"{reading[pdf]:>19.1f}")  # fmt: skip
    print(f"growth {book_rss - small_rss:+.1f} MB for {args.pages / args.baseline_pages:.0f}x "
          f"the pages, of which reading the PDF (`preread blocks`, same books) "
          f"{reading[book] - reading[small]:+.1f} MB (goal: <= 300 MB, flat)")  # fmt: skip
    print(f"the book has {book_summary['total']} blocks (goal >= 4,000)")
    print()
    print(f"progress write, {writes['chunks']}-chunk manifest")
    print(f"old whole rewrite (read, parse, indent=1 dump, atomic write of "
          f"{writes['old_size'] / 1e6:.1f} MB): {writes['old_ms']:.0f} ms median of 5")  # fmt: skip
    print(f"journal append (one fsynced line): p50 {writes['new_p50']:.2f} ms, "
          f"p99 {writes['new_p99']:.2f} ms, max {writes['new_max']:.2f} ms over "
          f"{writes['appends']} (goal <= 20 ms)")  # fmt: skip
    print(f"the disk's floor (append + fsync of the same lines, no lock/check): "
          f"p50 {writes['floor_p50']:.2f} ms, p99 {writes['floor_p99']:.2f} ms")  # fmt: skip
    print(f"fold at the end of a run ({writes['folded']} lines into a "
          f"{writes['new_size'] / 1e6:.1f} MB compact manifest): {writes['fold_ms']:.0f} ms once")
    print()
    note = "" if still_running else " (the run ended during the load: rerun with more pages)"
    print(f"chunk GETs, {args.connections} connections, {args.duration:g} s each, "
          f"{during[0]['client']} client{note}")  # fmt: skip
    print(f"{'':<26}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'non-200':>9}")
    rows = [(f"while preprocess runs ({n + 1})", r) for n, r in enumerate(during)]
    rows += [(f"idle ({n + 1})", r) for n, r in enumerate(idle)]
    for name, r in rows:
        print(f"{name:<26}{r['rps']:>9.0f}{r['p50']:>9.2f}{r['p99']:>9.2f}{r['errors']:>9}")
    worst = max(r["p99"] for r in during)
    best = min(r["p99"] for r in idle)
    print(f"p99 during / idle: {worst / best:.2f}x, worst during over best idle (goal <= 2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
