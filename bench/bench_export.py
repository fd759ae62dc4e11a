"""Benchmark: exporting a long book as M4B and MP3 — peak memory and speed.

Run: .venv/bin/python bench/bench_export.py [--hours 2] [--baseline-hours 0.5]

examples/sample.pdf is pre-generated with the fake voice (5 chunks, 35 s of MP3), then a
book of HOURS is laid out from those chunk files over and over (one chapter every 20
chunks, as a long book's outline would have), and exported by ``preread.export`` in a
fresh process each time (peak RSS by ``wait4``):

1. ``m4b`` at HOURS and at BASELINE-HOURS: the goal is a peak that does not grow with
   the book (AAC frames and their sizes go to scratch files, the MP4 tables are streamed).
2. Baseline, same run: FFmpeg's own MP4 muxer (PyAV) given the same AAC packets, read
   back from both files without decoding: what writing the boxes here avoids (its
   sample index grows with every frame). Its process imports less (no numpy), so
   compare the growth, not the peaks.
3. ``mp3`` at HOURS (frames copied, no re-encoding) for comparison, and the time of each
   (the M4B's real-time factor is the AAC encoder's).
Other processes share the 2 cores: times are noisy, peaks are not.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from preread.manifest import Manifest
    from preread.store import Store

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "sample.pdf"


def long_book(home: Path, hours: float) -> tuple[Store, str, Manifest]:
    """The sample's stored manifest repeated into a HOURS-long book of its chunks (a
    chapter every 20 chunks): (store, document id, the book's manifest, not written)."""
    from preread.ids import document_id_of_bytes
    from preread.model import Chapter
    from preread.store import Store

    store = Store(home)
    doc = document_id_of_bytes(SAMPLE.read_bytes())
    manifest = store.read_manifest(doc)
    assert manifest is not None
    unit = sum(c.duration or 0 for c in manifest.chunks)
    rounds = max(1, round(hours * 3600 / unit))
    chunks, chapters = [], []
    for r in range(rounds):
        for c in manifest.chunks:
            index = len(chunks)
            if index % 20 == 0:
                chapters.append(Chapter(f"Chapter {len(chapters) + 1}", r * 3 + c.page))
            chunks.append(dataclasses.replace(c, index=index, page=r * 3 + c.page))
    book = dataclasses.replace(manifest, chunks=chunks, chapters=chapters, pages=rounds * 3)
    return store, doc, book


def child(fmt: str, hours: float, home: Path, out: Path) -> None:
    """In a fresh process: the export of a HOURS-long book (or the muxer baseline)."""
    if fmt == "remux":
        remux(out, out.with_suffix(".remux.mp4"))
        return
    from preread.export import plan, write_export

    store, doc, book = long_book(home, hours)
    export = plan(book, store.chunks_dir(doc))
    started = time.perf_counter()
    write_export(export, fmt, out)
    print(json.dumps({
        "seconds": time.perf_counter() - started, "audio": export.chapters[-1].end,
        "bytes": out.stat().st_size, "chapters": len(export.chapters),
    }))  # fmt: skip


def remux(source: Path, target: Path) -> None:
    """FFmpeg's MP4 muxer, given the AAC packets of ``source`` as they are."""
    import av

    started = time.perf_counter()
    with av.open(str(source)) as given, av.open(str(target), "w", format="ipod") as out:
        audio = given.streams.audio[0]
        stream = out.add_stream_from_template(audio)
        for packet in given.demux(audio):
            if packet.dts is None:
                continue
            packet.stream = stream
            out.mux(packet)
    size = target.stat().st_size
    target.unlink()
    print(json.dumps({"seconds": time.perf_counter() - started, "audio": 0, "bytes": size}))


def run(fmt: str, hours: float, home: Path, out: Path) -> tuple[dict[str, float], float]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--child", fmt, str(hours), str(home), str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    result, err = process.stdout.read(), process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{fmt} export failed: {err.decode(errors='replace')[-2000:]}")
    return json.loads(result), usage.ru_maxrss / 1024


def main() -> int:
    if len(sys.argv) == 6 and sys.argv[1] == "--child":
        child(sys.argv[2], float(sys.argv[3]), Path(sys.argv[4]), Path(sys.argv[5]))
        return 0
    parser = argparse.ArgumentParser()
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--baseline-hours", type=float, default=0.5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home, out = Path(tmp) / "home", Path(tmp) / "out"
        out.mkdir()
        subprocess.run(
            [sys.executable, "-m", "preread", "--home", str(home), "preprocess", str(SAMPLE),
             "--provider", "fake", "--quiet"],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        small, small_rss = run("m4b", args.baseline_hours, home, out / "small.m4b")
        big, big_rss = run("m4b", args.hours, home, out / "big.m4b")
        _, remux_small_rss = run("remux", 0, home, out / "small.m4b")
        _, remux_rss = run("remux", 0, home, out / "big.m4b")
        mp3, mp3_rss = run("mp3", args.hours, home, out / "big.mp3")

    def line(name: str, result: dict[str, float], rss: float) -> str:
        audio = result["audio"]
        speed = f", {audio / result['seconds']:5.1f}x real time" if audio else ""
        return (f"  {name:34s} peak RSS {rss:6.1f} MB  {result['seconds']:6.1f} s{speed},"
                f" {result['bytes'] / 1e6:6.1f} MB")  # fmt: skip

    print(f"export of a book made of the sample's chunks, {big['chapters']} chapters at"
          f" {args.hours} h:")  # fmt: skip
    print(line(f"m4b, {args.baseline_hours} h", small, small_rss))
    print(line(f"m4b, {args.hours} h", big, big_rss))
    print(f"  m4b peak grows {big_rss - small_rss:+.1f} MB from {args.baseline_hours} h to"
          f" {args.hours} h   goal: flat")  # fmt: skip
    for hours, rss, size in ((args.baseline_hours, remux_small_rss, small["bytes"]),
                             (args.hours, remux_rss, big["bytes"])):  # fmt: skip
        print(line(f"baseline: FFmpeg's muxer, {hours} h", {"seconds": 0, "audio": 0,
                   "bytes": size}, rss))  # fmt: skip
    print(f"  FFmpeg's muxer grows {remux_rss - remux_small_rss:+.1f} MB over the same span")
    print(line(f"mp3, {args.hours} h (frames copied)", mp3, mp3_rss))
    return 0


if __name__ == "__main__":
    sys.exit(main())
