"""Benchmark: an M4B export as a job on a real ``preread serve`` — how soon the job is
answered, whether the server stays responsive while it runs, and its memory.

Run: .venv/bin/python bench/bench_export_jobs.py [--hours 0.1] [--gets 200]

examples/sample.pdf is pre-generated with the fake voice, then its manifest is replaced by
a book of HOURS laid out from those chunk files over and over (one chapter every 20
chunks), as bench_export.py does. Against one server process:

1. Baseline, same run: chunk GETs (``/api/tts/chunk``, sequential, one keep-alive
   connection) with the server idle: p50 and p99.
2. ``POST /api/exports`` (m4b): how long until the job id is answered, against the
   export's own length (what a download in one request kept the client waiting before
   its first byte).
3. The same chunk GETs while the export runs: p50 and p99 (the export is in a worker
   thread; the event loop should not notice it), and the status GET.
4. The server's RSS before the export and its peak (VmHWM) after; the same export asked
   again (kept: answered done at once).
Other processes share the 2 cores: run it under ``flock /work/bench.lock`` and say the
load average.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "sample.pdf"
sys.path.insert(0, str(ROOT / "tests"))

from bench_export import long_book as repeated_book  # noqa: E402

from liveserver import running_server  # noqa: E402


def long_book(home: Path, hours: float) -> tuple[str, float]:
    """The sample's manifest replaced by a HOURS-long book of its chunks; (id, seconds)."""
    store, doc, book = repeated_book(home, hours)
    store.write_manifest(book)
    return doc, sum(c.duration or 0 for c in book.chunks)


def status_kb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return float(line.split()[1]) / 1024
    return 0.0


def gets(client: httpx.Client, doc: str, count: int) -> list[float]:
    times = []
    for n in range(count):
        started = time.perf_counter()
        answer = client.get(f"/api/tts/chunk?documentId={doc}&index={n % 5}")
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, answer.text
    return times


def summary(times: list[float]) -> str:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered):6.2f} ms  p99 {p99:6.2f} ms  (n={len(ordered)})"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hours", type=float, default=0.1)
    parser.add_argument("--gets", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        subprocess.run(
            [sys.executable, "-m", "preread", "--home", str(home), "preprocess", str(SAMPLE),
             "--provider", "fake", "--quiet"],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        doc, seconds = long_book(home, args.hours)
        with (
            running_server(home, stdout=subprocess.DEVNULL) as (base, process),
            httpx.Client(base_url=base, timeout=30) as client,
        ):
            gets(client, doc, 20)  # warm up
            idle = gets(client, doc, args.gets)
            rss_before = status_kb(process.pid, "VmRSS")
            body = {"documentId": doc, "format": "m4b"}
            started = time.perf_counter()
            job = client.post("/api/exports", json=body)
            answered = (time.perf_counter() - started) * 1000
            assert job.status_code == 202, job.text
            url = f"/api/exports/{job.json()['jobId']}"
            busy = gets(client, doc, args.gets)
            status_times, state = [], {}
            while True:
                t = time.perf_counter()
                state = client.get(url).json()
                status_times.append((time.perf_counter() - t) * 1000)
                if state["state"] not in ("queued", "running"):
                    break
                time.sleep(0.1)
            took = time.perf_counter() - started
            assert state["state"] == "done", state
            peak = status_kb(process.pid, "VmHWM")
            t = time.perf_counter()
            again = client.post("/api/exports", json=body)
            kept = (time.perf_counter() - t) * 1000
            assert again.status_code == 200 and again.json()["state"] == "done"
    print(f"M4B export job of a {seconds / 3600:.2f} h book ({state['total']} chunks), one server:")
    print(f"  job answered (POST /api/exports)   {answered:8.1f} ms")
    print(f"  export done after                  {took:8.1f} s   ({seconds / took:.1f}x real time;"
          " a download in one request waited this long for its first byte)")  # fmt: skip
    print(f"  the same export again (kept)       {kept:8.1f} ms  (200, done)")
    print(f"  chunk GETs, server idle (baseline) {summary(idle)}")
    print(f"  chunk GETs during the export       {summary(busy)}")
    print(f"  status GETs during the export      {summary(status_times)}")
    print(f"  server RSS before {rss_before:.1f} MB, peak after the export {peak:.1f} MB"
          f" ({state['size'] / 1e6:.1f} MB file)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
