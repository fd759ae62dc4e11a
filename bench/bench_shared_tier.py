"""Benchmark: serving a chunk from the shared tier (S3) against serving it from the disk.

Starts moto's S3 server on 127.0.0.1 (the test suite's S3 stand-in; a real bucket adds
its network round trips), pre-generates a synthetic document of N blocks with the fake
voice on library A, then:

- baseline: a local hit on A (the chunk file read whole, as the server's HIT path does);
- a tier-2 hit on library B, which never saw the document: ``restore_chunk`` (the
  bucket's sidecar and blob fetched, checked, written, linked) and then the same read;
- the first tier-2 hit of the document on B, which also adopts its registration and
  manifest;
- with ``--landing``: a real ``preread worker`` process (its own disk, Debian's
  PostgreSQL as the queue, the fake voice at a fixed 0.2 s a sentence) pre-generates a
  document while this script watches three things every 20 ms: each chunk file on the
  worker's disk (done), its blob and sidecar in the bucket (landed), and library C, a
  third disk, restoring it from the bucket as a chunk GET does (served). Printed: done
  to landed (the worker shares its finished chunks every 2 s) and landed to served.

Usage: ``python bench/bench_shared_tier.py [--blocks N] [--landing]``. Figures are noisy on a shared
2-core machine; moto is a Python server, so the tier-2 figures are upper bounds for it.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import statistics
import sys
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import boto3
from moto.server import ThreadedMotoServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from liveserver import free_port
from preread.library import Library
from preread.model import Block, DocumentText
from preread.s3tier import S3Tier
from preread.settings import Settings, VoiceSettings

logging.getLogger("werkzeug").setLevel(logging.WARNING)
TEXT = (
    "The lighthouse stands at the end of a narrow path, where the cliffs fall away to "
    "the sea. Every evening the keeper climbs the stairs to light the lamp. Block {n}."
)


def document(blocks: int) -> DocumentText:
    items = []
    for n in range(blocks):
        text = TEXT.format(n=n)
        sentences = tuple(s.strip() + "." for s in text.split(".") if s.strip())
        items.append(Block(n, n // 4 + 1, n % 4, text, sentences))
    doc_id = hashlib.sha256(f"bench shared tier {blocks}".encode()).hexdigest()
    return DocumentText(doc_id, "bench.pdf", "Bench", blocks // 4 + 1, blocks=tuple(items))


def library(home: Path, endpoint: str) -> Library:
    home.mkdir()
    tier = S3Tier("bench", "p", endpoint=endpoint, access_key_id="k", secret_access_key="s")
    return Library(Settings(home=home, voice=VoiceSettings(provider="fake")), shared=tier)


def ms(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
    return f"median {1000 * statistics.median(values):7.2f} ms  p95 {1000 * p95:7.2f} ms"


def landing(endpoint: str, tmp: Path, chunks: int) -> None:
    """Done on the worker's disk → landed in the bucket → served by another library."""
    import asyncio
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    sys.path[:0] = [str(root / "tests"), str(root / "tests" / "queue")]
    from pgkit import running_postgres
    from queuekit import book

    from preread.blobs import blob_key
    from preread.jobqueue import JobSpec
    from preread.pgqueue import PostgresQueue
    from preread.store import Store

    voice = VoiceSettings(provider="fake")
    launch = "import sys; from preread.cli import main; sys.exit(main())"
    env = {
        **os.environ, "PREREAD_S3_URL": "s3://bench/p", "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_DEFAULT_REGION": "us-east-1",
        "PREREAD_PROVIDER": "fake", "PREREAD_FAKE_DELAY": "0.2", "PREREAD_FAKE_SECONDS": "0.2",
    }  # fmt: skip
    with running_postgres() as pg:
        url = pg.create_database("landing")
        env["PREREAD_QUEUE_URL"] = url
        subprocess.run([sys.executable, "-c", launch, "queue", "init"], env=env, check=True)
        registrar = library(tmp / "r", endpoint)  # registers the document (and shares it)
        doc, _ = registrar.add(book(chunks, "landing"), "landing.md")
        assert registrar.shared is not None and registrar.shared.flush(60)
        reader = library(tmp / "c", endpoint)  # the other instance: never saw the document
        log = open(tmp / "worker.log", "ab")  # noqa: SIM115 (the child writes it)
        worker = subprocess.Popen(
            [sys.executable, "-c", launch, "--home", str(tmp / "w"), "worker"],
            env=env, stdout=log, stderr=log,
        )  # fmt: skip
        log.close()
        try:
            while "taking jobs" not in (tmp / "worker.log").read_text():
                assert worker.poll() is None, (tmp / "worker.log").read_text()
                time.sleep(0.1)
            queue = PostgresQueue(url, poll=3600.0)

            async def submit() -> None:
                await queue.start()
                await queue.submit(JobSpec(doc.document_id, voice))
                await queue.stop()

            asyncio.run(submit())
            client = boto3.client(
                "s3", endpoint_url=endpoint, region_name="us-east-1",
                aws_access_key_id="k", aws_secret_access_key="s",
            )  # fmt: skip
            store = Store(tmp / "w")
            keys: dict[str, int] = {}  # blob key -> chunk index (from the worker's manifest)
            files: dict[int, str] = {}
            done: dict[int, float] = {}
            landed: dict[int, float] = {}
            served: dict[int, float] = {}
            asked: dict[int, Future[float]] = {}

            def serve(index: int) -> float:
                """When the reader served the chunk from the bucket (0: not there yet)."""
                if not reader.restore_chunk(doc.document_id, index=index, page=None, block=None):
                    return 0.0
                manifest = reader.manifest(doc.document_id)
                entry = manifest.chunk(index) if manifest is not None else None
                assert entry is not None
                reader.chunk_path(doc.document_id, entry).read_bytes()
                return time.perf_counter()

            pool = ThreadPoolExecutor(8)
            deadline = time.monotonic() + 300
            while len(served) < chunks and time.monotonic() < deadline:
                now = time.perf_counter()
                if not keys and (manifest := store.read_manifest(doc.document_id)) is not None:
                    made = registrar.voice_of(manifest)
                    keys = {blob_key(e.text, made): e.index for e in manifest.chunks}
                    files = {e.index: e.file_name for e in manifest.chunks}
                folder = store.chunks_dir(doc.document_id)
                for index, name in files.items():
                    if index not in done and (folder / name).is_file():
                        done[index] = now
                listed = client.list_objects_v2(Bucket="bench", Prefix="p/blobs/")
                names = {o["Key"] for o in listed.get("Contents", [])}
                for name in names:
                    key = name.rsplit("/", 1)[1].split(".")[0]
                    whole = name.endswith(".mp3") and name[:-4] + ".json" in names
                    if whole and key in keys and keys[key] not in landed:
                        landed[keys[key]] = now
                for index in sorted(set(landed) - set(served) - set(asked)):
                    asked[index] = pool.submit(serve, index)  # as concurrent GETs would
                for index, future in list(asked.items()):
                    if future.done():
                        del asked[index]
                        if future.result():
                            served[index] = future.result()
                time.sleep(max(0.0, 0.02 - (time.perf_counter() - now)))
            pool.shutdown()
        finally:
            worker.terminate()
            worker.wait(30)
            registrar.close()
            reader.close()
    both = sorted(set(done) & set(landed) & set(served))
    print(f"\n--landing: {chunks} chunks made by a preread worker, {len(both)} seen on all three")
    spans = {
        "done on the worker's disk -> landed in the bucket ": (done, landed),
        "landed in the bucket -> served by another library": (landed, served),
        "done -> served                                    ": (done, served),
    }
    for label, (since, until) in spans.items():
        print(f"{label} {ms([until[i] - since[i] for i in both])}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--blocks", type=int, default=40)
    parser.add_argument("--landing", action="store_true", help="also done → landed → served")
    parser.add_argument("--landing-chunks", type=int, default=24)
    args = parser.parse_args()
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-east-1",
            aws_access_key_id="k", aws_secret_access_key="s",
        ).create_bucket(Bucket="bench")  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            doc = document(args.blocks)
            a = library(Path(tmp) / "a", endpoint)
            started = time.perf_counter()
            a.pregenerate(doc)
            assert a.shared is not None and a.shared.flush(120)
            made = time.perf_counter() - started
            manifest = a.manifest(doc.document_id)
            assert manifest is not None
            local = []
            for entry in manifest.chunks:
                t0 = time.perf_counter()
                a.chunk_path(doc.document_id, entry).read_bytes()
                local.append(time.perf_counter() - t0)
            b = library(Path(tmp) / "b", endpoint)
            shared, first = [], 0.0
            for entry in manifest.chunks:
                t0 = time.perf_counter()
                assert b.restore_chunk(doc.document_id, index=entry.index, page=None, block=None)
                b.chunk_path(doc.document_id, entry).read_bytes()
                took = time.perf_counter() - t0
                if entry.index == 0:
                    first = took
                else:
                    shared.append(took)
            size = sum(c.bytes or 0 for c in manifest.chunks) / len(manifest.chunks)
            print(f"{args.blocks} chunks, {size / 1024:.0f} KiB each; pre-generated and put "
                  f"to the bucket in {made:.1f} s")  # fmt: skip
            print(f"local hit (baseline)   {ms(local)}")
            print(f"tier-2 hit             {ms(shared)}")
            print(f"first tier-2 hit       {1000 * first:7.2f} ms (adopts registration, manifest)")
            extra = statistics.median(shared) - statistics.median(local)
            print(f"extra latency of a tier-2 hit over a local hit: {1000 * extra:.2f} ms (median)")
            a.close()
            b.close()
            if args.landing:
                landing(endpoint, Path(tmp), args.landing_chunks)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
