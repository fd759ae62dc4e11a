"""Synthetic stores for the cleanup tests: real files laid out like preread writes them
(blobs + sidecars, chunk files hard-linked to blobs, manifests), no synthesis.

Every file time is set explicitly (``at``), so tests drive the clock through ``now``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from preread.manifest import ChunkEntry, Manifest, chunk_file_name
from preread.store import Store

T0 = 1_760_000_000.0  # a fixed point in the past: every file time is T0 + something
PAGE = 4096  # chunk sizes are multiples of the block size, so sizes are easy to predict


def doc_id(n: int | str) -> str:
    return hashlib.sha256(f"document {n}".encode()).hexdigest()


def content(n: int | str, pages: int = 2) -> bytes:
    """Chunk audio: ``pages`` * 4096 bytes, different for each ``n``."""
    seed = hashlib.sha256(f"audio {n}".encode()).digest()
    return (seed * (pages * PAGE // len(seed) + 1))[: pages * PAGE]


def blob_key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _set_time(path: Path, at: float) -> None:
    os.utime(path, (at, at), follow_symlinks=False)


class SynthStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    def write_blob(self, data: bytes, *, at: float, fmt: str = "mp3") -> Path:
        key = blob_key(data)
        path = self.store.blob_path(key, fmt)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            sidecar = self.store.blob_path(key, "json")
            sidecar.write_text(json.dumps({"key": key, "format": fmt, "bytes": len(data)}))
            _set_time(path, at)
            _set_time(sidecar, at)
        return path

    def add_document(
        self,
        document_id: str,
        chunks: list[bytes],
        *,
        at: float,
        title: str = "",
        fmt: str = "mp3",
    ) -> Manifest:
        """A complete document written at ``at`` (its manifest mtime: its creation)."""
        entries = []
        chunk_dir = self.store.chunks_dir(document_id)
        chunk_dir.mkdir(parents=True, exist_ok=True)
        for index, data in enumerate(chunks):
            name = chunk_file_name(index, 1 + index // 3, index % 3, fmt)
            blob = self.write_blob(data, at=at, fmt=fmt)
            target = chunk_dir / name
            if target.exists():
                target.unlink()
            os.link(blob, target)
            entries.append(
                ChunkEntry(
                    index=index,
                    page=1 + index // 3,
                    block_index=index % 3,
                    text=f"block {index}",
                    file_name=name,
                    status="done",
                    duration=1.0,
                    bytes=len(data),
                    sha256=hashlib.sha256(data).hexdigest(),
                )
            )
        manifest = Manifest(
            document_id=document_id,
            source_name="doc.pdf",
            title=title or f"Document {document_id[:6]}",
            pages=1 + len(chunks) // 3,
            tts_provider="fake",
            tts_model="tone",
            voice="a",
            native_speed=1.0,
            format=fmt,
            created_at=int(at),
            updated_at=int(at),
            chunks=entries,
        )
        self.store.write_manifest(manifest)
        _set_time(self.store.manifest_path(document_id), at)
        _set_time(chunk_dir, at)
        _set_time(self.store.doc_dir(document_id), at)
        return manifest


def disk_usage(home: Path) -> int:
    """Reference size: every file under tts_cache_v1/ and blobs/, each inode once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for top in ("tts_cache_v1", "blobs"):
        for root, _dirs, files in os.walk(home / top):
            for name in files:
                st = os.lstat(os.path.join(root, name))
                if (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    total += st.st_blocks * 512
    return total


def consistency_problems(store: Store) -> list[str]:
    """Documents that a reader would see broken: chunks without a manifest, a manifest
    whose done chunks are gone, a sidecar whose audio is gone."""
    problems: list[str] = []
    for document_id in sorted(store.cached_ids()):
        manifest = store.read_manifest(document_id)
        chunk_dir = store.chunks_dir(document_id)
        present = set(os.listdir(chunk_dir)) if chunk_dir.is_dir() else set()
        if manifest is None:
            problems.append(f"{document_id[:8]}: folder without a manifest")
            continue
        for chunk in manifest.chunks:
            if chunk.status == "done" and chunk.file_name not in present:
                problems.append(f"{document_id[:8]}: {chunk.file_name} missing")
        listed = {c.file_name for c in manifest.chunks}
        for name in present - listed:
            problems.append(f"{document_id[:8]}: {name} not in the manifest")
    if store.blobs_dir.is_dir():
        for _root, _dirs, files in os.walk(store.blobs_dir):
            stems = {f.split(".")[0] for f in files if not f.endswith(".json")}
            for name in files:
                if name.endswith(".json") and name.split(".")[0] not in stems:
                    problems.append(f"sidecar {name} without its audio")
    return problems
