"""Benchmark: serving a chunk from the shared tier (S3) against serving it from the disk.

Starts moto's S3 server on 127.0.0.1 (the test suite's S3 stand-in; a real bucket adds
its network round trips), pre-generates a synthetic document of N blocks with the fake
voice on library A, then:

- baseline: a local hit on A (the chunk file read whole, as the server's HIT path does);
- a tier-2 hit on library B, which never saw the document: ``restore_chunk`` (the
  bucket's sidecar and blob fetched, checked, written, linked) and then the same read;
- the first tier-2 hit of the document on B, which also adopts its registration and
  manifest.

Usage: ``python bench/bench_shared_tier.py [--blocks N]``. Figures are noisy on a shared
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
    tier = S3Tier(
        "bench", "p", endpoint=endpoint, access_key_id="k", secret_access_key="s"
    )
    return Library(Settings(home=home, voice=VoiceSettings(provider="fake")), shared=tier)


def ms(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
    return f"median {1000 * statistics.median(values):7.2f} ms  p95 {1000 * p95:7.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--blocks", type=int, default=40)
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
    finally:
        server.stop()


if __name__ == "__main__":
    main()
