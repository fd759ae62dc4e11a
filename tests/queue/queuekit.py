"""Helpers of the queue tests: ``preread worker`` processes, documents, waiting."""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from liveserver import LAUNCH, stop


def book(chunks: int, tag: str = "") -> bytes:
    """A Markdown document of ``chunks`` blocks (one chunk each) of two sentences each."""
    lines = [f"# A test book {tag}", ""]
    for n in range(chunks):
        said = " ".join(f"word{n}x{w}" for w in range(25))
        lines += [f"Paragraph {n} of book {tag} says {said}. Then it says another.", ""]
    return "\n".join(lines).encode()


@contextlib.contextmanager
def running_worker(
    home: Path, *args: str, log: Path | None = None, **env: str
) -> Iterator[subprocess.Popen[bytes]]:
    """A ``preread worker`` process (fake provider unless ``env`` says); its stderr goes to
    ``log`` (default: ``home``.log). Stopped with SIGTERM after, or already killed."""
    log = log or home.with_suffix(".log")
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, "--home", str(home), "worker", *args],
            env={**os.environ, "PREREAD_PROVIDER": "fake", **env},
            stdout=out,
            stderr=out,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            stop(process)


def status(base: str, doc: str) -> dict[str, Any]:
    got = httpx.get(f"{base}/api/tts/preprocess/status?documentId={doc}", timeout=20)
    assert got.status_code == 200, got.text
    body: dict[str, Any] = got.json()
    return body


def post_document(base: str, data: bytes, name: str = "book.md") -> str:
    created = httpx.post(f"{base}/api/documents?name={name}", content=data, timeout=60)
    assert created.status_code in (200, 201), created.text
    doc: str = created.json()["documentId"]
    return doc


def every_chunk_valid(base: str, doc: str) -> list[dict[str, Any]]:
    """Every chunk of the manifest served whole, its SHA-256 the manifest's, from disk."""
    chunks: list[dict[str, Any]] = httpx.get(f"{base}/api/documents/{doc}", timeout=20).json()[
        "chunks"
    ]
    assert chunks and all(c["status"] == "done" for c in chunks)
    for chunk in chunks:
        got = httpx.get(f"{base}/api/tts/chunk?documentId={doc}&index={chunk['index']}", timeout=20)
        assert got.status_code == 200
        assert got.headers["x-cache"] == "HIT"  # stored, not synthesized now
        assert hashlib.sha256(got.content).hexdigest() == chunk["sha256"]
    return chunks
