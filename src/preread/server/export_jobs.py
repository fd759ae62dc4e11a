"""Export jobs: a document or a chapter written as one file in the background.

``ExportJobs.submit(order)`` answers at once with a job whose id is the export's content
key (``preread.exporting``): asking for the same export again, while it runs or once it
is kept, is the same job. At most ``workers`` exports run at once, each in a worker
thread (never on the event loop); up to ``queue_limit`` wait or run, past that a new one
is refused (``Busy``: 503 with Retry-After). A job reports chunks and bytes done, the
fraction and an ETA; cancelling it stops it after the chunk being read, with nothing
kept.

Several server processes on one store (``serve --workers N``): the process running a
job writes its state to ``exports/{id}.json`` (replaced whole, a few times a second at
most), so the others answer its status, events and download; a cancel they receive is
left as ``exports/{id}.cancel``, which the runner looks for after each chunk. Exports
stay local to the store's processes even with ``PREREAD_QUEUE_URL``: they only read
chunks already stored (nothing to synthesize), and the file is kept in this store.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from preread.errors import Busy, NotFound, PrereadError
from preread.fsutil import atomic_write, pid_alive
from preread.ids import is_full_id
from preread.library import ExportCancelled, ExportOrder, Library

EXPORT_WORKERS = 2  # exports running at once (each reads every chunk once, encodes one core)
EXPORT_QUEUE = 16  # exports waiting or running; past this, 503
STATE_INTERVAL = 0.5  # seconds between two writes of a running job's state file
KEEP_ENDED = 64  # ended jobs remembered in memory (their files stay in the store)
ACTIVE = ("queued", "running")


@dataclass
class ExportJob:
    id: str
    document_id: str
    fmt: str
    chapter: int | None
    file_name: str
    media_type: str
    total: int
    total_bytes: int
    order: ExportOrder | None = None  # dropped when the job ends
    state: str = "queued"
    done: int = 0
    bytes_done: int = 0
    started: float | None = None  # time.time()
    ended: float | None = None
    error: str | None = None
    size: int | None = None
    pid: int = field(default_factory=os.getpid)
    cancel: threading.Event = field(default_factory=threading.Event)
    written: float = 0.0

    @classmethod
    def of(cls, order: ExportOrder) -> ExportJob:
        return cls(
            order.key, order.document_id, order.fmt, order.chapter, order.file_name,
            order.media_type, order.chunks, order.total_bytes, order,
        )  # fmt: skip

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    def to_json(self, *, saved: bool = False) -> dict[str, Any]:
        """The job as the API shows it; ``saved``: with what the state file needs too."""
        if self.state == "done":
            fraction = 1.0
        elif self.total_bytes:
            fraction = self.bytes_done / self.total_bytes
        else:
            fraction = self.done / self.total if self.total else 0.0
        elapsed = (self.ended or time.time()) - self.started if self.started else 0.0
        eta = None
        if self.state == "running" and fraction > 0:
            eta = round(elapsed * (1 - fraction) / fraction, 1)
        body: dict[str, Any] = {
            "jobId": self.id, "documentId": self.document_id, "format": self.fmt,
            "chapter": self.chapter, "state": self.state, "done": self.done,
            "total": self.total, "bytes": self.bytes_done, "totalBytes": self.total_bytes,
            "fraction": round(min(1.0, fraction), 4), "elapsed": round(elapsed, 2), "eta": eta,
            "fileName": self.file_name, "mediaType": self.media_type, "size": self.size,
        }  # fmt: skip
        if saved:
            body.update(started=self.started, ended=self.ended, pid=self.pid)
        if self.state == "done":
            body["downloadUrl"] = f"/api/exports/{self.id}/file"
        if self.error:
            body["error"] = self.error
        return body

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExportJob:
        chapter = data.get("chapter")
        return cls(
            str(data["jobId"]), str(data["documentId"]), str(data["format"]),
            int(chapter) if chapter is not None else None, str(data["fileName"]),
            str(data["mediaType"]), int(data["total"]), int(data["totalBytes"]),
            state=str(data["state"]), done=int(data["done"]), bytes_done=int(data["bytes"]),
            started=data.get("started"), ended=data.get("ended"), error=data.get("error"),
            size=data.get("size"), pid=int(data["pid"]),
        )  # fmt: skip


class ExportJobs:
    def __init__(
        self, library: Library, *, workers: int = EXPORT_WORKERS, queue_limit: int = EXPORT_QUEUE
    ) -> None:
        self.library = library
        self.workers = max(1, workers)
        self.queue_limit = max(1, queue_limit)
        self.folder = library.store.exports_dir
        self._jobs: dict[str, ExportJob] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._limiter: anyio.CapacityLimiter | None = None

    async def start(self) -> None:
        self._limiter = anyio.CapacityLimiter(self.workers)
        await anyio.to_thread.run_sync(self.library.clear_export_leftovers)

    async def stop(self, timeout: float = 10.0) -> None:
        """Cancel what runs or waits (nothing is kept of them) and wait for the threads."""
        for job in self._jobs.values():
            job.cancel.set()
        if self._tasks:
            with anyio.move_on_after(timeout):
                await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- asking ---------------------------------------------------------------------------
    async def submit(self, order: ExportOrder) -> ExportJob:
        """The job making ``order``'s file: a running or kept one when there is one."""
        job = self._jobs.get(order.key)
        if job is not None and job.active:
            return job
        kept = await anyio.to_thread.run_sync(self.library.stored_export, order.key, order.fmt)
        if kept is not None:
            job = ExportJob.of(order)
            job.order, job.state, job.size = None, "done", kept.stat().st_size
            job.done, job.bytes_done = job.total, job.total_bytes
            self._remember(job)
            await anyio.to_thread.run_sync(self._write_state, job)
            return job
        other = await anyio.to_thread.run_sync(self._read_state, order.key)
        if other is not None and other.active and other.pid != os.getpid():
            return other  # another server process on this store makes it
        if sum(j.active for j in self._jobs.values()) >= self.queue_limit:
            raise Busy(
                f"{self.queue_limit} exports are waiting or running: try again shortly",
                retry_after=10.0,
            )
        job = ExportJob.of(order)
        self._remember(job)
        await anyio.to_thread.run_sync(self._write_state, job)  # the others see it at once
        task = asyncio.create_task(self._run(job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    async def job(self, job_id: str) -> ExportJob:
        """The job (this process's, else the state another one wrote); NotFound."""
        if not is_full_id(job_id):
            raise NotFound(f"no export job {job_id[:80]!r}")
        job = self._jobs.get(job_id)
        if job is None:
            job = await anyio.to_thread.run_sync(self._read_state, job_id)
        if job is None:
            raise NotFound(f"no export job {job_id}: start the export again")
        return job

    async def finished(self, job_id: str) -> ExportJob:
        """The job once it is no longer queued or running (done, failed, cancelled)."""
        job = await self.job(job_id)
        while job.active:
            await asyncio.sleep(0.05 if job_id in self._jobs else 0.25)
            job = await self.job(job_id)
        return job

    async def cancel(self, job_id: str, timeout: float = 30.0) -> ExportJob:
        job = await self.job(job_id)
        if not job.active:
            return job
        if job_id not in self._jobs:  # another process runs it: it looks for this file
            await anyio.to_thread.run_sync(self._mark_cancel, job_id)
        job.cancel.set()
        if job.state == "queued" and self._jobs.get(job_id) is job:  # no slot needed to stop
            job.state, job.ended, job.order = "cancelled", time.time(), None
            await anyio.to_thread.run_sync(self._write_state, job)
        with anyio.move_on_after(timeout):
            while job.active:
                await asyncio.sleep(0.05)
                if job_id not in self._jobs:
                    job = await self.job(job_id)
        return job

    async def file(self, job_id: str) -> tuple[ExportJob, Path]:
        """A done job and its kept file (marked used); NotFound when it is not kept."""
        job = await self.job(job_id)
        if job.state != "done":
            raise NotFound(f"export {job_id[:12]} is {job.state}, not done: no file yet")
        path = await anyio.to_thread.run_sync(self.library.stored_export, job.id, job.fmt)
        if path is None:
            raise NotFound(f"export {job_id[:12]} is no longer kept: start it again")
        return job, path

    # -- the work -------------------------------------------------------------------------
    async def _run(self, job: ExportJob) -> None:
        assert self._limiter is not None, "ExportJobs.start() was not called"
        try:
            async with self._limiter:
                if job.cancel.is_set():
                    return  # cancelled while it waited: said so then
                job.state, job.started = "running", time.time()
                await anyio.to_thread.run_sync(self._make, job)
            job.state = "done"
        except ExportCancelled:
            job.state = "cancelled"
        except PrereadError as exc:
            job.state, job.error = "failed", exc.message
        except Exception as exc:
            print(f"preread: export {job.id[:12]} failed: {exc!r}", file=sys.stderr)
            job.state, job.error = "failed", f"internal error: {type(exc).__name__}"
        finally:
            if job.state in ACTIVE:  # the task itself was cancelled (server stopping)
                job.state = "cancelled"
            job.ended, job.order = job.ended or time.time(), None
            with contextlib.suppress(OSError):
                (self.folder / f"{job.id}.cancel").unlink()
            if self._jobs.get(job.id) is job:  # (not a job asked again since)
                await anyio.to_thread.run_sync(self._write_state, job)

    def _make(self, job: ExportJob) -> None:
        """In a worker thread: write the file, reporting progress."""
        assert job.order is not None
        self._write_state(job)
        marker = self.folder / f"{job.id}.cancel"
        looked = time.monotonic()

        def progress(done: int, nbytes: int) -> None:
            nonlocal looked
            job.done, job.bytes_done = done, nbytes
            if marker.exists():  # cancelled through another server process
                job.cancel.set()
            now = time.monotonic()
            if now - looked >= STATE_INTERVAL:
                looked = now
                self._write_state(job)

        path = self.library.make_export(job.order, progress, job.cancel)
        job.size = path.stat().st_size

    def _remember(self, job: ExportJob) -> None:
        self._jobs.pop(job.id, None)
        self._jobs[job.id] = job
        ended = [k for k, j in self._jobs.items() if not j.active]
        for key in ended[: max(0, len(ended) - KEEP_ENDED)]:
            del self._jobs[key]

    # -- the state other server processes read -----------------------------------------------
    def _write_state(self, job: ExportJob) -> None:
        """Replaced whole (no fsync: a status, not data)."""
        job.written = time.monotonic()
        data = json.dumps(job.to_json(saved=True)).encode()
        try:
            atomic_write(self.folder / f"{job.id}.json", data, durable=False)
        except OSError as exc:  # a full disk must not fail the export: others show less
            print(f"preread: cannot write the export's state: {exc}", file=sys.stderr)

    def _read_state(self, job_id: str) -> ExportJob | None:
        path = self.folder / f"{job_id}.json"
        try:
            job = ExportJob.from_json(json.loads(path.read_bytes()))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if job.active and job.pid != os.getpid() and not pid_alive(job.pid):
            job.state, job.error = "failed", "the server process making it stopped"
        if job.state == "done" and not self.library.export_path(job.id, job.fmt).exists():
            with contextlib.suppress(OSError):
                path.unlink()  # evicted from the store: asking again makes it again
            return None
        return job

    def _mark_cancel(self, job_id: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / f"{job_id}.cancel").touch()
