"""Benchmark: ``preread cleanup`` on a store of 100,000 chunk files across 2,000 documents.

Builds the store in a temp dir the way preread lays it out (blobs + sidecars, chunk files
hard-linked to blobs, one manifest per document, access marks spread over 40 days; 10 %
of the chunks shared between documents), then times, on the same (warm) tree:

- baselines: ``du -sb`` and a bare ``os.walk`` + ``lstat`` over tts_cache_v1/ and blobs/;
- ``scan_store`` (the scan every cleanup and ``preread stats`` starts with);
- ``preread stats --json``, ``preread cleanup --dry-run`` and ``preread cleanup`` evicting
  half the store, each as a separate process (the whole command, interpreter start included);
- baseline for the eviction: ``rm -rf`` of the half that is left (same number and shape of
  files). Deleting files whose blocks are freed costs ~1 ms each on ext4 with online
  discard; the cleanup unlinks in a thread pool.

Goals: scan < 5 s, evict half < 10 s. Usage: ``python bench/bench_cleanup.py [--docs N]
[--chunks N]``. Figures are noisy on a shared 2-core machine.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from preread.lifecycle import record_use, scan_store
from preread.manifest import ChunkEntry, Manifest, chunk_file_name
from preread.store import Store

DAY = 86400.0


def build(store: Store, docs: int, chunks: int, chunk_bytes: int, shared_every: int) -> int:
    """The synthetic store; returns the number of chunk files."""
    base = time.time() - 50 * DAY
    files = 0
    pad = b"\xff\xfb" * (chunk_bytes // 2)
    for d in range(docs):
        document_id = hashlib.sha256(f"bench document {d}".encode()).hexdigest()
        at = base + d * (40 * DAY / docs)
        chunk_dir = store.chunks_dir(document_id)
        chunk_dir.mkdir(parents=True)
        entries = []
        for i in range(chunks):
            shared = i % shared_every == 0
            text = f"shared block {i}" if shared else f"doc {d} block {i}"
            key = hashlib.sha256(text.encode()).hexdigest()
            blob = store.blob_path(key, "mp3")
            if not blob.exists():
                blob.parent.mkdir(exist_ok=True, parents=True)
                data = key.encode() + pad
                blob.write_bytes(data[:chunk_bytes])
                sidecar = store.blob_path(key, "json")
                sidecar.write_text(json.dumps({"key": key, "format": "mp3", "duration": 9.5}))
                os.utime(blob, (at, at))
                os.utime(sidecar, (at, at))
            name = chunk_file_name(i, 1 + i // 4, i % 4, "mp3")
            os.link(blob, chunk_dir / name)
            files += 1
            entries.append(
                ChunkEntry(i, 1 + i // 4, i % 4, text, name, "done", 9.5, chunk_bytes, key)
            )
        manifest = Manifest(
            document_id, "doc.pdf", f"Bench {d}", chunks // 4, "fake", "tone", "a", 1.0, "mp3"
        )
        manifest.chunks = entries
        store.manifest_path(document_id).write_bytes(manifest.dumps())
        os.utime(store.manifest_path(document_id), (at, at))
        os.utime(chunk_dir, (at, at))
        os.utime(store.doc_dir(document_id), (at, at))
        record_use(store, document_id, now=at + DAY)
        # a generated document was written under its job and manifest locks: their
        # (empty) lock files exist
        store.job_lock(document_id).path.parent.mkdir(exist_ok=True)
        store.job_lock(document_id).path.touch()
        store.manifest_lock(document_id).path.touch()
    return files


def timed(argv: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return time.perf_counter() - started, out


def walk(home: Path) -> tuple[int, int]:
    seen: set[tuple[int, int]] = set()
    total = files = 0
    for top in ("tts_cache_v1", "blobs"):
        for root, _dirs, names in os.walk(home / top):
            for name in names:
                st = os.lstat(os.path.join(root, name))
                files += 1
                if (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    total += st.st_blocks * 512
    return total, files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--chunks", type=int, default=50)
    parser.add_argument("--chunk-bytes", type=int, default=2048)
    parser.add_argument("--shared-every", type=int, default=10)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="preread-bench-cleanup-"))
    home = tmp / "home"
    store = Store(home)
    preread = [sys.executable, "-c", "import sys; from preread.cli import main; sys.exit(main())"]
    try:
        started = time.perf_counter()
        chunk_files = build(store, args.docs, args.chunks, args.chunk_bytes, args.shared_every)
        built = time.perf_counter() - started
        print(f"store: {args.docs} documents, {chunk_files} chunk files, built in {built:.1f} s")
        subprocess.run(["du", "-sb", str(home)], capture_output=True, check=True)  # warm up

        t_du, out = timed(["du", "-sb", str(home / "tts_cache_v1"), str(home / "blobs")])
        started = time.perf_counter()
        walk_total, walk_files = walk(home)
        t_walk = time.perf_counter() - started
        started = time.perf_counter()
        scan = scan_store(store)
        t_scan = time.perf_counter() - started
        assert scan.total_bytes == walk_total, (scan.total_bytes, walk_total)
        del scan
        t_stats, _ = timed([*preread, "stats", "--home", str(home), "--json"])
        half = walk_total // 2
        cleanup = [*preread, "cleanup", "--home", str(home), "--max-size", str(half), "--json"]
        t_dry, dry_out = timed([*cleanup, "--dry-run"])
        t_evict, out = timed(cleanup)
        report = json.loads(out)
        after, files_after = walk(home)
        assert report["sizeAfter"] == after <= half, (report["sizeAfter"], after, half)
        assert json.loads(dry_out)["removed"] == report["removed"]
        # baseline for the eviction: rm -rf of the half that is left (the same shape)
        t_rm, _ = timed(["rm", "-rf", str(home / "tts_cache_v1"), str(home / "blobs")])

        print(f"files walked: {walk_files} ({walk_total / 1e6:.1f} MB on disk, each inode once)")
        print("")
        print(f"{'what':<46}{'seconds':>9}")
        print(f"{'baseline: du -sb (tts_cache_v1 + blobs)':<46}{t_du:>9.2f}")
        print(f"{'baseline: os.walk + lstat, inodes once':<46}{t_walk:>9.2f}")
        print(f"{'scan_store (library)':<46}{t_scan:>9.2f}   goal < 5")
        print(f"{'preread stats --json (whole process)':<46}{t_stats:>9.2f}")
        print(f"{'preread cleanup --dry-run (whole process)':<46}{t_dry:>9.2f}")
        print(f"{'preread cleanup, evict half (whole process)':<46}{t_evict:>9.2f}   goal < 10")
        print(f"{'baseline: rm -rf of the other half':<46}{t_rm:>9.2f}")
        print("")
        print(
            f"evicted {len(report['removed'])} documents and {report['blobsRemoved']} blobs, "
            f"freed {report['freedBytes'] / 1e6:.1f} MB; {files_after} files left; "
            f"scan/du = {t_scan / t_du:.1f}x, scan/os.walk = {t_scan / t_walk:.2f}x"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
