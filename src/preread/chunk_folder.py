"""A document's chunk folder on disk: which blocks it lists, for which settings, how far.

``prepare_manifest`` creates or refreshes the manifest (every selected block, from
the start), ``chunk_is_valid`` checks a written chunk (size + SHA-256),
``remove_stale_temps`` clears what a killed writer left, ``document_status`` is the
contract's status object. Used by the preprocess runner and the server.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Collection
from dataclasses import replace
from pathlib import Path
from typing import Any

from preread.errors import BadRange, Conflict
from preread.fsutil import atomic_link, is_temp_name, pid_alive, sha256_file
from preread.manifest import ChunkEntry, Manifest, manifest_matches
from preread.model import Block, DocumentText
from preread.settings import VoiceSettings
from preread.store import Store
from preread.voice import ResolvedVoice

STALE_TEMP_SECONDS = 60.0


# -- pure helpers -------------------------------------------------------------------------
def select_blocks(
    document: DocumentText, pages: str | Collection[int] | None = None
) -> list[Block]:
    """The blocks of the selected pages (all when ``pages`` is None), indexed from 0."""
    if pages is None:
        return list(document.blocks)
    if isinstance(pages, str):
        from preread.pages import parse_pages

        wanted = set(parse_pages(pages, document.pages))
    else:
        wanted = set(pages)
    chosen = [b for b in document.blocks if b.page in wanted]
    if not chosen:
        raise BadRange(f"no text on the selected pages ({pages})")
    return [replace(b, index=i) for i, b in enumerate(chosen)]


def find_block(
    blocks: Collection[Block], *, index: int | None, page: int | None, block: int | None
) -> Block | None:
    """The block at ``index``, else at (``page``, ``block``)."""
    for candidate in blocks:
        if index is not None:
            if candidate.index == index:
                return candidate
        elif candidate.page == page and candidate.block_index == block:
            return candidate
    return None


def find_entry(
    manifest: Manifest, *, index: int | None, page: int | None, block: int | None
) -> ChunkEntry | None:
    if index is not None:
        return manifest.chunk(index)
    if page is None or block is None:
        return None
    return manifest.chunk_at(page, block)


def no_block(document_id: str, index: int | None, page: int | None, block: int | None) -> str:
    where = f"index {index}" if index is not None else f"page {page} block {block}"
    return f"document {document_id[:12]} has no block at {where}"


def not_listed(
    document_id: str,
    document: DocumentText | None,
    index: int | None,
    page: int | None,
    block: int | None,
) -> str:
    """Why a block a manifest lacks is not found: not in the document, or not selected."""
    if document is not None and find_block(document.blocks, index=None, page=page, block=block):
        return (
            f"page {page} block {block} of {document_id[:12]} is outside the pages its"
            " audio was made for: POST /api/tts/preprocess with those pages"
        )
    return no_block(document_id, index, page, block)


def pages_done(
    manifest: Manifest, document: DocumentText, voice: ResolvedVoice, pages: Collection[int]
) -> bool:
    """Whether a server job (listing every block) would find ``pages`` all done."""
    return (
        manifest_matches(manifest, voice)
        and same_blocks(manifest, list(document.blocks), voice.format)
        and state_of(manifest, pages) == "complete"
    )


def same_blocks(manifest: Manifest, blocks: list[Block], fmt: str) -> bool:
    fresh = [ChunkEntry.for_block(b, fmt) for b in blocks]
    return [(c.index, c.file_name, c.text) for c in manifest.chunks] == [
        (c.index, c.file_name, c.text) for c in fresh
    ]


def state_of(manifest: Manifest | None, pages: Collection[int] | None = None) -> str:
    """none, complete, failed or partial: of the whole manifest, or of its ``pages``."""
    if manifest is None:
        return "none"
    entries = [c for c in manifest.chunks if pages is None or c.page in pages]
    total = len(entries)
    done = sum(1 for c in entries if c.status == "done")
    failed = sum(1 for c in entries if c.status == "failed")
    if done == total:
        return "complete"
    if failed and done + failed == total:
        return "failed"
    return "partial"


# -- the manifest -------------------------------------------------------------------------
def prepare_manifest(
    store: Store,
    document: DocumentText,
    voice: ResolvedVoice,
    *,
    force: bool = False,
    blocks: list[Block] | None = None,
) -> Manifest:
    """Create or refresh the manifest so it lists ``blocks`` for ``voice``.

    Same settings and blocks: kept (titles refreshed). Otherwise (other settings,
    other pages, ``force``) a new manifest with every block pending; chunk files
    of the old one are unlinked (their audio stays in blobs/ for reuse), except
    done chunks a same-settings rebuild can keep.
    """
    blocks = list(document.blocks) if blocks is None else blocks
    document_id = document.document_id
    chunks_dir = store.chunks_dir(document_id)
    with store.manifest_lock(document_id):
        old = store.read_manifest(document_id)
        same_settings = old is not None and not force and manifest_matches(old, voice)
        if old is not None and same_settings and same_blocks(old, blocks, voice.format):
            old.title, old.source_name = document.title, document.source_name
            old.pages, old.chapters = document.pages, list(document.chapters)
            store.write_manifest(old)
            return old
        manifest = Manifest.new(document, blocks, voice)
        keep: set[str] = set()
        if old is not None and same_settings:
            # a done block keeps its audio wherever it moved (a page selection's manifest
            # becoming the whole document's renumbers the blocks: its file is linked anew)
            previous = {
                (c.page, c.block_index, c.text): c for c in old.chunks if c.status == "done"
            }
            for entry in manifest.chunks:
                done = previous.get((entry.page, entry.block_index, entry.text))
                if done is None:
                    continue
                if done.file_name != entry.file_name:
                    try:
                        atomic_link(chunks_dir / done.file_name, chunks_dir / entry.file_name)
                    except FileNotFoundError:
                        continue
                manifest.chunks[entry.index] = replace(
                    done, index=entry.index, file_name=entry.file_name
                )
                keep.add(entry.file_name)
            manifest.created_at = old.created_at
        store.write_manifest(manifest)
        if chunks_dir.is_dir():
            for path in chunks_dir.iterdir():
                if path.name not in keep and not is_temp_name(path.name):
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
        chunks_dir.mkdir(parents=True, exist_ok=True)
        return manifest


def list_every_block(
    store: Store, document: DocumentText, voice: ResolvedVoice, page: int | None, block: int | None
) -> ChunkEntry | None:
    """A manifest listing only some pages (an older ``preprocess --pages``) made to list
    every registered block, its done audio kept, when the block asked for is one of
    them and no job holds the document; the block's entry, else None."""
    if find_block(document.blocks, index=None, page=page, block=block) is None:
        return None
    assert page is not None and block is not None
    current = store.read_manifest(document.document_id)
    if current is None or not manifest_matches(current, voice):
        return None
    lock = store.job_lock(document.document_id)
    try:
        lock.acquire(blocking=False)
    except Conflict:
        return None
    try:
        return prepare_manifest(store, document, voice).chunk_at(page, block)
    finally:
        lock.release()


def chunk_is_valid(store: Store, document_id: str, entry: ChunkEntry) -> bool:
    path = store.chunks_dir(document_id) / entry.file_name
    try:
        if path.stat().st_size != entry.bytes:
            return False
    except FileNotFoundError:
        return False
    return sha256_file(path) == entry.sha256


_LINK_TEMP = re.compile(r"^\..+\.(\d+)\.\d+\.tmp$")  # fsutil.atomic_link: .NAME.PID.NS.tmp


def _writer_is_gone(name: str) -> bool:
    match = _LINK_TEMP.match(name)
    if match is None:
        return False
    pid = int(match.group(1))
    return pid != os.getpid() and not pid_alive(pid)


def remove_stale_temps(directory: Path) -> None:
    """Temp files a killed writer left behind: its process is gone, or a minute old."""
    if not directory.is_dir():
        return
    now = time.time()
    for path in directory.iterdir():
        if is_temp_name(path.name):
            with contextlib.suppress(FileNotFoundError):
                if _writer_is_gone(path.name) or now - path.stat().st_mtime > STALE_TEMP_SECONDS:
                    path.unlink()


def document_row(
    document_id: str, manifest: Manifest | None, registration: DocumentText | None
) -> dict[str, Any]:
    """One row of ``preread list``: title, state, chunks, size, voice."""
    named = manifest or registration
    done = [c for c in manifest.chunks if c.status == "done"] if manifest else []
    return {
        "documentId": document_id,
        "title": named.title if named else "",
        "sourceName": named.source_name if named else "",
        "state": state_of(manifest),
        "total": len(manifest.chunks) if manifest else 0,
        "done": len(done),
        "bytes": sum(c.bytes or 0 for c in done),
        "duration": round(sum(c.duration or 0.0 for c in done), 3),
        "fallback": fallback_count(done),
        "provider": manifest.tts_provider if manifest else None,
        "voice": manifest.voice if manifest else None,
        "format": manifest.format if manifest else None,
        "updatedAt": manifest.updated_at if manifest else None,
    }


# -- status ---------------------------------------------------------------------------------
def fallback_count(entries: Collection[ChunkEntry]) -> int:
    """Done chunks an engine chain's fallback spoke (``preprocess --upgrade`` redoes them)."""
    return sum(1 for c in entries if c.status == "done" and c.by_fallback)


def document_status(
    store: Store, document_id: str, voice: VoiceSettings | None = None
) -> dict[str, Any]:
    """The contract's status object, from disk (the server adds queued/running/cancelled).

    ``settingsMatch`` compares the fields ``voice`` pins (model/voice None = any).
    """
    return status_of(document_id, store.read_manifest(document_id), voice)


def status_of(
    document_id: str, manifest: Manifest | None, voice: VoiceSettings | None = None
) -> dict[str, Any]:
    """``document_status`` of a manifest already read (manifest + journal)."""
    if manifest is None:
        return {
            "documentId": document_id,
            "exists": False,
            "settingsMatch": False,
            "state": "none",
            "total": 0,
            "done": 0,
            "failed": 0,
            "bytes": 0,
            "duration": 0.0,
            "fallback": 0,
            "eta": None,
        }
    match = True
    if voice is not None:
        match = (
            voice.provider == manifest.tts_provider
            and (voice.model is None or voice.model == manifest.tts_model)
            and (voice.voice is None or voice.voice == manifest.voice)
            and abs(voice.speed - manifest.native_speed) < 1e-9
            and voice.format == manifest.format
        )
    done = [c for c in manifest.chunks if c.status == "done"]
    return {
        "documentId": document_id,
        "exists": True,
        "settingsMatch": match,
        "state": state_of(manifest),
        "total": len(manifest.chunks),
        "done": len(done),
        "failed": manifest.count("failed"),
        "bytes": sum(c.bytes or 0 for c in done),
        "duration": round(sum(c.duration or 0.0 for c in done), 3),
        "fallback": fallback_count(done),
        "eta": None,
    }
