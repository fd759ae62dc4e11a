"""Background preprocess jobs in the server process, resumed after a restart.

``InProcessQueue`` is the ``preread.jobqueue.JobQueue`` a server uses by default:
``submit(spec)`` queues a job; ``workers`` asyncio tasks each run one
document at a time through ``Library.pregenerate`` (the CLI's pipeline) in a
thread. A job's request is saved as ``jobs/{documentId}.json`` under the store
home until the job ends, so a server stopped or killed mid-job picks it up again
when it starts (``resume``). Progress is kept in memory for
the status and event routes; the rest of the status comes from the disk.

Several server processes on one store (``preread serve --workers N``): the saved
requests are resumed by one of them (the one holding ``locks/serve-resume.lock``;
a replacement takes over when it dies), a document's job waits while another
process runs one (its job lock) and then takes that run's outcome (or takes over
when that process died), and a running job whose saved request disappears
(``DELETE``/cancel answered by another process) stops as cancelled. Every process
shows the same job: the process running it writes its state and progress to
``jobs/{documentId}.state.json`` at each change (replaced whole: a reader sees the old
state or the new one), and the others answer status from that file and follow it for
SSE (``watch``: read again every ``REMOTE_POLL_SECONDS``); an active job whose runner
is gone (its job lock free, its request no longer saved) is not believed, nor an ended
one once the document's audio changed since (its manifest or journal newer).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio

from preread.errors import Conflict, NotFound, PrereadError
from preread.fsutil import FileLock, atomic_write
from preread.ids import is_full_id
from preread.jobqueue import ACTIVE, HEARTBEAT, Job, JobQueue, JobSpec
from preread.library import Library

__all__ = ["ACTIVE", "HEARTBEAT", "InProcessQueue", "Job", "JobManager", "JobSpec"]

RESUME_LOCK = "serve-resume.lock"  # held by the one server process that resumes saved jobs
BUSY_POLL_SECONDS = 0.5  # a job waiting for another process's run of its document
REMOTE_POLL_SECONDS = 0.25  # SSE following a job another server process runs


class InProcessQueue(JobQueue):
    def __init__(
        self,
        library: Library,
        *,
        workers: int = 1,
        on_progress: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__()
        self.library = library
        self.workers = max(1, workers)
        self.on_progress = on_progress
        self.jobs_dir = library.jobs_dir
        self._queue: asyncio.Queue[Job] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._resumer = FileLock(library.store.locks_dir / RESUME_LOCK, what="resuming jobs")
        self._owned: set[str] = set()  # ids of the jobs whose state file this process writes

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        await super().start()
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        self._tasks = [asyncio.create_task(self._worker()) for _ in range(self.workers)]
        try:  # one server process per store resumes saved jobs (``--workers N``)
            await anyio.to_thread.run_sync(lambda: self._resumer.acquire(blocking=False))
        except Conflict:
            return
        for spec in self._saved_specs():
            if not self.library.store.job_lock(spec.document_id).is_locked_elsewhere():
                self._enqueue(Job(spec))  # (one running in another process goes on there)

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop running jobs after their current sentence; saved requests stay for resume."""
        self._stopping = True
        for job in self._jobs.values():
            if job.active:
                job.cancel.set()
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.gather(*self._tasks, return_exceptions=True), timeout)
        self._resumer.release()

    def _saved_specs(self) -> list[JobSpec]:
        specs = []
        if self.jobs_dir.is_dir():
            for path in sorted(self.jobs_dir.glob("*.json"), key=lambda p: p.stat().st_mtime):
                if not is_full_id(path.stem):
                    continue
                try:
                    specs.append(JobSpec.from_json(json.loads(path.read_bytes())))
                except (ValueError, KeyError, TypeError) as exc:
                    print(
                        f"preread: ignoring unreadable job file {path.name}: {exc}", file=sys.stderr
                    )
        return specs

    def _spec_path(self, document_id: str) -> Path:
        if not is_full_id(document_id):
            raise ValueError("unchecked document id")
        return self.jobs_dir / f"{document_id}.json"

    # -- requests ---------------------------------------------------------------------------
    async def _accept(self, job: Job) -> None:
        spec = job.spec
        path = self._spec_path(spec.document_id)
        data = json.dumps(spec.to_json()).encode()
        await anyio.to_thread.run_sync(atomic_write, path, data)  # its fsync off the loop
        if job.cancel.is_set():  # cancelled while its request was being saved
            with contextlib.suppress(FileNotFoundError):
                await anyio.to_thread.run_sync(path.unlink)
            return
        self._enqueue(job)

    def _enqueue(self, job: Job) -> None:
        assert self._queue is not None, "InProcessQueue.start() was not called"
        if not self.library.store.job_lock(job.spec.document_id).is_locked_elsewhere():
            self._owned.add(job.id)  # else it joins another process's run: that one writes
        self._jobs[job.spec.document_id] = job
        self._queue.put_nowait(job)
        self._touch(job)

    async def cancel(self, document_id: str, timeout: float = 30.0) -> bool:
        """Cancel the document's job and wait for it to stop; False when there was none."""
        job = self._jobs.get(document_id)
        saved = True
        try:  # another server process running this job stops when it sees this
            self._spec_path(document_id).unlink()
        except FileNotFoundError:
            saved = False
        if job is None or not job.active:
            return saved and job is None
        job.cancel.set()
        if job.state == "queued":
            job.state = "cancelled"
            self._touch(job)
            return True
        with anyio.move_on_after(timeout):
            async for _ in self.watch(document_id):
                pass
        return True

    def _touch(self, job: Job) -> None:
        super()._touch(job)
        if job.id in self._owned and not (self._stopping and job.state == "cancelled"):
            self._write_state(job)  # (stopped with the server: it stays saved, resumed)
            if not job.active:
                self._owned.discard(job.id)
        if self.on_progress is not None:
            self.on_progress(job.spec.document_id)

    # -- the state every server process shows -------------------------------------------
    def _state_path(self, document_id: str) -> Path:
        if not is_full_id(document_id):
            raise ValueError("unchecked document id")
        return self.jobs_dir / f"{document_id}.state.json"

    def _write_state(self, job: Job) -> None:
        """The job as this process knows it, for the others: replaced whole (no fsync: a
        status, not data; a crash leaves the old one, which ``job`` does not believe)."""
        data = json.dumps(
            {
                "jobId": job.id,
                "state": job.state,
                "progress": job.progress,
                "error": job.error,
                "spec": job.spec.to_json(),
            }
        ).encode()
        try:
            atomic_write(self._state_path(job.spec.document_id), data, durable=False)
        except OSError as exc:  # a full disk must not fail the job: others show less
            print(f"preread: cannot write the job's state: {exc}", file=sys.stderr)

    def _read_state(self, document_id: str) -> Job | None:
        """The job another process wrote for the document, if its runner is still there."""
        path = self._state_path(document_id)
        try:
            data = json.loads(path.read_bytes())
            written = path.stat().st_mtime_ns
            job = Job(
                JobSpec.from_json(data["spec"]),
                id=str(data["jobId"]),
                state=str(data["state"]),
                progress=data.get("progress"),
                error=data.get("error"),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not job.active:  # believed until the document's audio changes (a CLI run)
            store = self.library.store
            for changed in (store.manifest_path(document_id), store.journal_path(document_id)):
                with contextlib.suppress(OSError):
                    if changed.stat().st_mtime_ns > written:
                        return None
            return job
        running = self.library.store.job_lock(document_id).is_locked_elsewhere()
        if not running and not self._spec_path(document_id).exists():
            return None  # its process died and nobody will resume it: disk says
        if not running:
            job.state = "queued"  # saved: a server process resumes it
        return job

    def job(self, document_id: str) -> Job | None:
        """The document's latest job, whichever server process on this store runs it."""
        local = self._jobs.get(document_id)
        if local is not None and local.active and local.id in self._owned:
            return local
        remote = self._read_state(document_id)
        if remote is None or (local is not None and local.id == remote.id):
            return local
        return remote

    async def watch(self, document_id: str) -> AsyncIterator[Job | None]:
        """Each change of the job, as ``JobQueue.watch``; a job another process runs is
        read again every ``REMOTE_POLL_SECONDS`` (its file) until it is no longer active."""
        local = self._jobs.get(document_id)
        if local is not None and local.active and local.id in self._owned:
            async for job in super().watch(document_id):
                yield job
            return
        seen: Any = ()
        shown = time.monotonic()
        while True:
            job = await anyio.to_thread.run_sync(self.job, document_id)
            now = (job.id, job.state, job.progress, job.error) if job is not None else None
            if now != seen or time.monotonic() - shown >= self.heartbeat:
                seen, shown = now, time.monotonic()
                yield job
            if job is None or not job.active:
                return
            await asyncio.sleep(REMOTE_POLL_SECONDS)

    # -- the work ---------------------------------------------------------------------------
    async def _worker(self) -> None:
        assert self._queue is not None
        while True:
            job = await self._queue.get()
            if job.state != "queued" or self._jobs.get(job.spec.document_id) is not job:
                continue
            job.state = "running"
            self._touch(job)
            try:
                job.state = await anyio.to_thread.run_sync(self._run, job, abandon_on_cancel=True)
            except PrereadError as exc:
                job.state, job.error = "failed", exc.message
            except Exception as exc:
                print(f"preread: job for {job.spec.document_id} crashed: {exc!r}", file=sys.stderr)
                job.state, job.error = "failed", f"internal error: {type(exc).__name__}"
            if not self._stopping or job.state != "cancelled":
                with contextlib.suppress(FileNotFoundError):
                    self._spec_path(job.spec.document_id).unlink()
            self._touch(job)

    def _run(self, job: Job) -> str:
        spec = job.spec
        document = self.library.registration(spec.document_id)
        if document is None:
            raise NotFound(f"document {spec.document_id} is not registered")
        loop = self._loop
        assert loop is not None
        saved = self._spec_path(spec.document_id)
        busy = self.library.store.job_lock(spec.document_id)
        waited = False
        while busy.is_locked_elsewhere():  # another process runs it: this one joins it
            waited = True
            if job.cancel.wait(BUSY_POLL_SECONDS):
                return "cancelled"
        if waited and not saved.exists():  # that run ended (done or cancelled): its outcome
            state = str(self.library.status(spec.document_id)["state"])
            return state if state in ("complete", "partial", "failed") else "cancelled"
        if job.id not in self._owned:  # runs it here after all: its state is this one's
            self._owned.add(job.id)
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._touch, job)

        def progress(p: Any) -> None:
            job.progress = p.to_json()
            if not saved.exists() and not self._stopping:
                job.cancel.set()  # cancelled through another server process
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._touch, job)

        summary = self.library.pregenerate(
            document,
            spec.voice,
            pages=spec.pages,
            force=spec.force,
            upgrade=spec.upgrade,
            on_progress=progress,
            cancel=job.cancel,
            list_all=True,  # every registered block stays known (live fallback)
        )
        job.progress = summary.progress.to_json()
        if summary.failures:
            job.error = summary.failures[0][1]
        return str(summary.state)


JobManager = InProcessQueue  # the name it had before the queue interface
