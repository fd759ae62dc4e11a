"""A library's exports: a document or a chapter as one file, kept in the store.

``Exporting`` is the part of ``preread.library.Library`` that the server's export jobs
call (``Library`` inherits it). ``export_order`` checks a request and says what it
needs; ``stored_export`` finds an identical export made before; ``make_export`` writes
one (``preread.export``) and keeps it.

An export is kept as a blob, ``blobs/{xx}/{key}.{format}``, where ``key`` is a content
key: the document, the chapter, the format, the voice the audio was made with and
every chunk used (index, sha256, who spoke it). The same request over the same audio
is the same key, so it is served at once; audio made again is a new key. Kept exports
are referenced by no document, so the cleanup evicts them by last use (the blob's
mtime, set again when one is served, at most once a minute) under
``PREREAD_MAX_BYTES``, as it does ``/v1/audio/speech`` clips. One is written in a
private temp folder (``exports/tmp-{pid}-…``), fsynced, then hard-linked into place
(never replacing a file): cancelled or failed, it leaves nothing; a crash leaves only
the temp folder, removed by the next ``clear_export_leftovers`` once its process is gone.

With a shared tier (a bucket), chunks made elsewhere (done in the manifest, absent from
this disk) do not make a request fail: the export brings them from the bucket first,
never synthesizing; only pages no instance has made are ``MissingAudio``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from preread.blobs import BlobStore
from preread.errors import BadInput, Conflict, NotFound
from preread.export import EXPORT_FORMATS, MEDIA_TYPES, ExportPlan, plan, write_export
from preread.fsutil import fsync_dir, pid_alive
from preread.manifest import ChunkEntry, Manifest
from preread.store import Store

if TYPE_CHECKING:
    from preread.shared import SharedTier
    from preread.voice import ResolvedVoice

__all__ = ["EXPORT_FORMATS", "ExportCancelled", "ExportOrder", "Exporting", "MissingAudio"]

EXPORT_LAYOUT = "export-1"  # part of every export's key: change it when the bytes change
USE_MARK_SECONDS = 60.0  # a kept export's use is marked (its mtime) at most once a minute
Progress = Callable[[int, int], None]  # (chunks done, bytes of chunks done)


class MissingAudio(Conflict):
    """Pages whose audio is not stored (an export is made from stored chunks only)."""

    def __init__(self, message: str, unit: str, pages: list[int]) -> None:
        super().__init__(message)
        self.unit, self.pages = unit, pages


class ExportCancelled(Exception):
    """Raised by an export's progress callback to stop it (nothing is kept)."""


@dataclass
class ExportOrder:
    """What one export request needs: its plan, its key, the file's name and type."""

    document_id: str
    fmt: str
    chapter: int | None
    plan: ExportPlan
    key: str
    file_name: str
    media_type: str
    total_bytes: int  # of the chunks read

    @property
    def chunks(self) -> int:
        return len(self.plan.entries)


def _made_somewhere(entry: ChunkEntry) -> bool:
    """Whether some instance made this chunk (its blob can be in the shared tier)."""
    return entry.status == "done" and bool(entry.sha256) and "/" not in entry.file_name


class Exporting:
    store: Store
    shared: SharedTier | None
    blobs: BlobStore

    if TYPE_CHECKING:  # provided by ``Library`` and ``Upkeep``

        def manifest(self, document_id: str) -> Manifest | None: ...

        def voice_of(self, manifest: Manifest) -> ResolvedVoice: ...

        def spoken_key(self, manifest: Manifest, entry: ChunkEntry) -> str: ...

        def note_written(self, nbytes: int) -> None: ...

    def export_order(self, document_id: str, fmt: str, chapter: int | None) -> ExportOrder:
        """Check an export request: BadInput (format), NotFound (no audio, no such chapter),
        ``MissingAudio`` (pages whose chunks are not stored)."""
        fmt = fmt.lower()
        if fmt not in EXPORT_FORMATS:
            raise BadInput(f"bad format {fmt[:10]!r}: use one of {', '.join(EXPORT_FORMATS)}")
        manifest = self.manifest(document_id)
        if manifest is None:
            raise NotFound(f"document {document_id[:12]} has no audio: pre-generate it first")
        count = len(manifest.chapters)
        if chapter is not None and not 1 <= chapter <= count:
            raise NotFound(f"no chapter {chapter}: this document has {count} (from its outline)")
        export = plan(manifest, self.store.chunks_dir(document_id), chapter)
        absent = export.missing()
        if self.shared is not None:  # made elsewhere: brought from the bucket by the job
            absent = [e for e in absent if not _made_somewhere(e)]
        missing = sorted({e.page for e in absent})
        if missing:
            raise MissingAudio(
                f"{len(missing)} {manifest.unit}(s) have no stored audio: pre-generate them",
                manifest.unit,
                missing,
            )
        voice = self.voice_of(manifest).key_material()
        material = [
            EXPORT_LAYOUT, document_id, chapter, fmt, voice, export.title,
            [m.title for m in export.chapters],
            [[e.index, e.sha256, e.bytes, e.spoken_by] for e in export.entries],
        ]  # fmt: skip
        key = hashlib.sha256(json.dumps(material).encode()).hexdigest()
        return ExportOrder(
            document_id, fmt, chapter, export, key, export.file_name(fmt, chapter),
            MEDIA_TYPES[fmt], sum(e.bytes or 0 for e in export.entries),
        )  # fmt: skip

    def export_path(self, key: str, fmt: str) -> Path:
        if fmt not in EXPORT_FORMATS:
            raise ValueError(f"bad export format {fmt[:10]!r}")
        return self.store.blob_path(key, fmt)

    def stored_export(self, key: str, fmt: str) -> Path | None:
        """The kept export, marked used now (LRU); None when there is none."""
        path = self.export_path(key, fmt)
        try:
            if time.time() - path.stat().st_mtime > USE_MARK_SECONDS:
                os.utime(path)
        except FileNotFoundError:
            return None
        return path

    def make_export(
        self,
        order: ExportOrder,
        on_progress: Progress | None = None,
        cancel: threading.Event | None = None,
    ) -> Path:
        """Write ``order``'s file and keep it (see the module docstring); the kept file.
        ``on_progress`` after each chunk; ``cancel`` set (or ``on_progress`` raising
        ``ExportCancelled``) stops it with nothing written."""
        done = [0, 0]

        def tick(entry: ChunkEntry) -> None:
            if cancel is not None and cancel.is_set():
                raise ExportCancelled(order.key)
            done[0] += 1
            done[1] += entry.bytes or 0
            if on_progress is not None:
                on_progress(done[0], done[1])

        self._bring_from_shared(order, cancel)
        final = self.export_path(order.key, order.fmt)
        self.store.exports_dir.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=f"tmp-{os.getpid()}-", dir=self.store.exports_dir))
        try:
            made = folder / f"export.{order.fmt}"
            write_export(order.plan, order.fmt, made, tick)
            if cancel is not None and cancel.is_set():
                raise ExportCancelled(order.key)
            final.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):  # the same bytes were kept meanwhile
                os.link(made, final)
                fsync_dir(final.parent)
                self.note_written(made.stat().st_size)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        os.utime(final)
        return final

    def _bring_from_shared(self, order: ExportOrder, cancel: threading.Event | None) -> None:
        """Chunks of ``order`` not on this disk, brought from the shared tier: only their
        blobs (each under the key of the voice that spoke it, a fallback's too), eight at
        a time, each linked as its chunk file when it holds the very audio the manifest
        records (the manifest is not read again, nor changed); ``MissingAudio`` for any
        the tier lacks."""
        wanted = order.plan.missing()
        if not wanted:
            return
        manifest = order.plan.manifest
        if self.shared is not None:
            keys = {entry.index: self.spoken_key(manifest, entry) for entry in wanted}
            shas = {keys[entry.index]: entry.sha256 for entry in wanted}
            self.shared.fetch_blobs(self.blobs, shas, manifest.format)
            for entry in wanted:
                if cancel is not None and cancel.is_set():
                    raise ExportCancelled(order.key)
                info = self.blobs.read(keys[entry.index], manifest.format)
                if info is not None and info.sha256 == entry.sha256:
                    self.blobs.link(info, order.plan.path(entry))
        pages = order.plan.missing_pages()
        unit = manifest.unit
        if pages:
            raise MissingAudio(
                f"{len(pages)} {unit}(s) have no audio on this disk or in the shared bucket:"
                " pre-generate them",
                unit,
                pages,
            )

    def clear_export_leftovers(self) -> int:
        """Remove temp folders of exports whose process is gone (killed mid-export); for
        a starting process (one restarted with the same pid counts as gone)."""
        removed = 0
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(self.store.exports_dir):
                parts = entry.name.split("-")
                if len(parts) < 3 or parts[0] != "tmp" or not parts[1].isdigit():
                    continue
                if int(parts[1]) != os.getpid() and pid_alive(int(parts[1])):
                    continue
                shutil.rmtree(entry.path, ignore_errors=True)
                removed += 1
        return removed
