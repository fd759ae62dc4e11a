"""Pre-generation jobs behind one interface, so where they run can change.

``JobQueue`` is what the server's routes use: ``submit(spec)``, ``job(id)``,
``cancel(id)``, ``watch(id)`` (each change, for status and SSE), ``counts()``.
One job per document at a time: a second request with the same spec joins the
running job, one with other settings is a ``Conflict``. Implementations:

- ``preread.server.jobs.InProcessQueue``: asyncio workers in the server process run
  ``Library.pregenerate`` in threads; requests are saved under the store so a
  restarted server resumes them (the single-machine default);
- ``ManualQueue`` (here): the fake. It runs nothing; a test moves its jobs along
  with ``advance``, so routes are tested against the interface, not against
  threads and timing.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from typing import Any

from preread.errors import Conflict
from preread.settings import VoiceSettings

ACTIVE = ("queued", "running")
STATES = ("queued", "running", "complete", "partial", "failed", "cancelled")
HEARTBEAT = 15.0  # watch() yields an unchanged job again after this long (keeps SSE alive)


@dataclass(frozen=True)
class JobSpec:
    document_id: str
    voice: VoiceSettings
    pages: str | None = None
    force: bool = False
    upgrade: bool = False  # make again what a fallback voice spoke

    def to_json(self) -> dict[str, Any]:
        return {
            "documentId": self.document_id,
            "voice": asdict(self.voice),
            "pages": self.pages,
            "force": self.force,
            "upgrade": self.upgrade,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobSpec:
        return cls(
            str(data["documentId"]),
            VoiceSettings(**data["voice"]),
            data.get("pages"),
            bool(data.get("force", False)),
            bool(data.get("upgrade", False)),
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


class JobQueue(ABC):
    """The latest job of each document, and a change signal for watchers."""

    heartbeat: float = HEARTBEAT

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._changed: asyncio.Event | None = None  # set and replaced on every change

    @abstractmethod
    async def start(self) -> None:
        """Begin taking jobs (called on the server's event loop)."""
        self._changed = asyncio.Event()

    @abstractmethod
    async def stop(self, timeout: float = 10.0) -> None:
        """Stop taking jobs; running ones stop after their current sentence."""

    @abstractmethod
    async def _accept(self, job: Job) -> None:
        """Take a new job (already checked against the document's current one and
        listed in ``_jobs``); blocking disk work happens off the event loop."""

    @abstractmethod
    async def cancel(self, document_id: str, timeout: float = 30.0) -> bool:
        """Cancel the document's job and wait for it to stop; False when none was active."""

    def job(self, document_id: str) -> Job | None:
        return self._jobs.get(document_id)

    def check(self) -> None:
        """Raise ``Busy`` (503) when jobs cannot be reached now (a queue's database is down)."""
        return None

    def health(self) -> dict[str, Any] | None:
        """What ``/healthz`` says of the queue (None: nothing beyond this process)."""
        return None

    async def submit(self, spec: JobSpec) -> Job:
        """Queue a job; the active one if it has the same request; Conflict otherwise."""
        current = self._jobs.get(spec.document_id)
        if current is not None and current.active:
            if current.spec == spec:
                return current
            raise Conflict(
                f"document {spec.document_id[:12]} has a job {current.state} with other"
                " settings; cancel it first (DELETE /api/tts/preprocess)"
            )
        job = Job(spec)
        self._jobs[spec.document_id] = job  # listed at once: a second request sees it
        await self._accept(job)
        return job

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATES, 0)
        for job in self._jobs.values():
            out[job.state] = out.get(job.state, 0) + 1
        return out

    def _touch(self, job: Job) -> None:
        job.version += 1
        if self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event()

    async def watch(self, document_id: str) -> AsyncIterator[Job | None]:
        """Yield the document's job each time it changes, until it is no longer active.

        An active job that does not change for ``heartbeat`` seconds is yielded again,
        so an event stream sends something before a proxy drops it as idle.
        """
        assert self._changed is not None, "start() was not called"
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
                await asyncio.wait_for(changed.wait(), self.heartbeat)
            except TimeoutError:
                seen = -2  # nothing changed for a while: yield it again


class ManualQueue(JobQueue):
    """The fake queue: jobs wait until a test calls ``advance``; ``submitted`` lists
    every spec accepted, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.submitted: list[JobSpec] = []
        self.started = self.stopped = False
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        await super().start()
        self._loop = asyncio.get_running_loop()
        self.started = True

    async def stop(self, timeout: float = 10.0) -> None:
        self.stopped = True

    async def _accept(self, job: Job) -> None:
        self.submitted.append(job.spec)
        self._jobs[job.spec.document_id] = job
        self._touch(job)

    def advance(
        self,
        document_id: str,
        state: str,
        progress: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> Job:
        """Move the document's job to ``state`` (as a worker would), waking watchers;
        from any thread (the change is applied on the queue's event loop)."""
        if state not in STATES:
            raise ValueError(f"unknown job state {state!r}")
        job = self._jobs[document_id]

        done = threading.Event()

        def apply() -> None:
            job.state = state
            job.progress = progress if progress is not None else job.progress
            job.error = error
            self._touch(job)
            done.set()

        try:
            on_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            on_loop = False
        if on_loop or self._loop is None:
            apply()
        else:
            self._loop.call_soon_threadsafe(apply)
            done.wait(5.0)
        return job

    async def cancel(self, document_id: str, timeout: float = 30.0) -> bool:
        job = self._jobs.get(document_id)
        if job is None or not job.active:
            return False
        job.cancel.set()
        self.advance(document_id, "cancelled")
        return True
