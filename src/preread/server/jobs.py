"""Background preprocess jobs in the server process, resumed after a restart.

``JobManager.submit(spec)`` queues a job; ``workers`` asyncio tasks each run one
document at a time through ``Library.pregenerate`` (the CLI's pipeline) in a
thread. A job's request is saved as ``jobs/{documentId}.json`` under the store
home until the job ends, so a server stopped or killed mid-job picks it up again
when it starts (``resume``). Progress is kept in memory for
the status and event routes; the rest of the status comes from the disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import anyio

from preread.errors import Conflict, NotFound, PrereadError
from preread.fsutil import atomic_write
from preread.ids import is_full_id
from preread.library import Library
from preread.settings import VoiceSettings

ACTIVE = ("queued", "running")
HEARTBEAT = 15.0  # watch() yields an unchanged job again after this long (keeps SSE alive)


@dataclass(frozen=True)
class JobSpec:
    document_id: str
    voice: VoiceSettings
    pages: str | None = None
    force: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "documentId": self.document_id,
            "voice": asdict(self.voice),
            "pages": self.pages,
            "force": self.force,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobSpec:
        return cls(
            str(data["documentId"]),
            VoiceSettings(**data["voice"]),
            data.get("pages"),
            bool(data.get("force", False)),
        )


@dataclass
class Job:
    spec: JobSpec
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    state: str = "queued"
    progress: dict[str, Any] | None = None
    error: str | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    version: int = 0

    @property
    def active(self) -> bool:
        return self.state in ACTIVE


class JobManager:
    def __init__(
        self,
        library: Library,
        *,
        workers: int = 1,
        on_progress: Callable[[str], None] | None = None,
    ) -> None:
        self.library = library
        self.workers = max(1, workers)
        self.on_progress = on_progress
        self.jobs_dir = library.home / "jobs"
        self._jobs: dict[str, Job] = {}  # latest job per document
        self._queue: asyncio.Queue[Job] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._changed: asyncio.Event | None = None  # set and replaced on every change
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        self._changed = asyncio.Event()
        self._tasks = [asyncio.create_task(self._worker()) for _ in range(self.workers)]
        for spec in self._saved_specs():
            self._enqueue(Job(spec))

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
    def job(self, document_id: str) -> Job | None:
        return self._jobs.get(document_id)

    def submit(self, spec: JobSpec) -> Job:
        """Queue a job; the running one if it has the same request; Conflict otherwise."""
        current = self._jobs.get(spec.document_id)
        if current is not None and current.active:
            if current.spec == spec:
                return current
            raise Conflict(
                f"document {spec.document_id[:12]} has a job {current.state} with other"
                " settings; cancel it first (DELETE /api/tts/preprocess)"
            )
        atomic_write(self._spec_path(spec.document_id), json.dumps(spec.to_json()).encode())
        job = Job(spec)
        self._enqueue(job)
        return job

    def _enqueue(self, job: Job) -> None:
        assert self._queue is not None, "JobManager.start() was not called"
        self._jobs[job.spec.document_id] = job
        self._queue.put_nowait(job)
        self._touch(job)

    async def cancel(self, document_id: str, timeout: float = 30.0) -> bool:
        """Cancel the document's job and wait for it to stop; False when there was none."""
        job = self._jobs.get(document_id)
        with contextlib.suppress(FileNotFoundError):
            self._spec_path(document_id).unlink()
        if job is None or not job.active:
            return False
        job.cancel.set()
        if job.state == "queued":
            job.state = "cancelled"
            self._touch(job)
            return True
        with anyio.move_on_after(timeout):
            async for _ in self.watch(document_id):
                pass
        return True

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(("queued", "running", "complete", "partial", "failed", "cancelled"), 0)
        for job in self._jobs.values():
            out[job.state] = out.get(job.state, 0) + 1
        return out

    # -- progress ---------------------------------------------------------------------------
    def _touch(self, job: Job) -> None:
        job.version += 1
        if self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event()
        if self.on_progress is not None:
            self.on_progress(job.spec.document_id)

    async def watch(self, document_id: str) -> AsyncIterator[Job | None]:
        """Yield the document's job each time it changes, until it is no longer active.

        An active job that does not change for ``HEARTBEAT`` seconds is yielded again,
        so an event stream sends something before a proxy drops it as idle.
        """
        assert self._changed is not None
        seen = -1
        while True:
            changed = self._changed  # any change from here on sets this event
            job = self._jobs.get(document_id)
            if job is None or job.version != seen:
                seen = job.version if job is not None else -1
                yield job
            if job is None or not job.active:
                return
            if job.version != seen or self._changed is not changed:
                continue
            try:
                await asyncio.wait_for(changed.wait(), HEARTBEAT)
            except TimeoutError:
                seen = -2  # nothing changed for a while: yield it again

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

        def progress(p: Any) -> None:
            job.progress = p.to_json()
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._touch, job)

        summary = self.library.pregenerate(
            document,
            spec.voice,
            pages=spec.pages,
            force=spec.force,
            on_progress=progress,
            cancel=job.cancel,
            list_all=True,  # every registered block stays known (live fallback)
        )
        job.progress = summary.progress.to_json()
        if summary.failures:
            job.error = summary.failures[0][1]
        return str(summary.state)
