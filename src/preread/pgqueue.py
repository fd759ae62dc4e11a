"""The job queue on PostgreSQL (``PREREAD_QUEUE_URL``): what a ``preread serve`` uses.

``PostgresQueue`` is the ``preread.jobqueue.JobQueue`` of a server whose jobs run
in ``preread worker`` processes (``preread.worker``), on this machine or others:

- ``submit`` writes the document's row in ``preread_jobs`` (a second request with
  the same settings joins the active job, other settings are a ``Conflict``) and
  defers a procrastinate job with the document id as its lock and queueing lock;
- ``cancel`` marks the row, asks procrastinate to abort the job (a NOTIFY reaches
  the worker running it, which stops after its current sentence) and waits for
  the row to say so;
- a poller reads the rows changed since its last look every ``poll`` seconds, so
  ``job``/``watch`` (status, SSE) show what the workers write, on every instance.

While the database does not answer, every job route answers 503 with one line
(``preread.queuedb.unavailable``: no password) and chunks are served as ever;
the poller notices when it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from collections.abc import Callable
from typing import Any

import anyio
import psycopg
import psycopg_pool
from procrastinate import exceptions as pexc

from preread.errors import Conflict
from preread.jobqueue import Job, JobQueue, JobSpec
from preread.queuedb import (
    COLUMNS,
    QUEUE,
    TASK,
    check_url,
    close_app,
    describe,
    fetch_row,
    fetch_rows,
    init_schema,
    make_app,
    open_app,
    quiet_logs,
    row_json,
    scrub,
    unavailable,
)

DB_ERRORS = (pexc.ConnectorException, psycopg.Error, psycopg_pool.PoolTimeout, OSError)

SUBMIT = f"""
INSERT INTO preread_jobs (document_id, job_id, spec, state)
VALUES (%(doc)s, %(job)s, %(spec)s, 'queued')
ON CONFLICT (document_id) DO UPDATE SET
    job_id = EXCLUDED.job_id, spec = EXCLUDED.spec, state = 'queued', progress = NULL,
    error = NULL, cancel_requested = false, attempts = 0, task_id = NULL, worker = NULL,
    version = nextval('preread_jobs_version'), updated_at = now()
WHERE preread_jobs.state NOT IN ('queued', 'running')
RETURNING {COLUMNS}
"""
ONE = f"SELECT {COLUMNS} FROM preread_jobs WHERE document_id = %(doc)s"
SET_TASK = """
UPDATE preread_jobs SET task_id = %(task)s
WHERE document_id = %(doc)s AND job_id = %(job)s AND task_id IS NULL
"""
CANCEL = f"""
UPDATE preread_jobs SET cancel_requested = true,
    state = CASE WHEN state = 'queued' THEN 'cancelled' ELSE state END,
    version = nextval('preread_jobs_version'), updated_at = now()
WHERE document_id = %(doc)s AND state IN ('queued', 'running')
RETURNING {COLUMNS}
"""
CHANGED = f"""
SELECT {COLUMNS} FROM preread_jobs
WHERE version > %(seen)s OR document_id = ANY(%(watching)s::text[])
ORDER BY version
"""


class PostgresQueue(JobQueue):
    """Jobs in PostgreSQL, run by ``preread worker`` processes; see the module docstring."""

    def __init__(
        self,
        url: str,
        *,
        poll: float = 0.5,
        timeout: float = 5.0,
        on_end: Callable[[str], None] | None = None,
    ) -> None:
        """``on_end(document_id)`` runs (in a thread) when a job seen active ends: the
        server takes the shared tier's manifest then (the job ran on another machine)."""
        super().__init__()
        self.on_end = on_end
        self.url = check_url(url)
        self.poll = poll
        self.timeout = timeout
        self._app: Any = make_app()
        self._pool: Any = None
        self._poller: asyncio.Task[None] | None = None
        self._seen = 0
        self._up = False
        self._schema_ready = False
        self._said_down = False
        self._loaded = False  # the first look (at start) lists old jobs: none "ended"
        self._ended: list[Job] = []

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        await super().start()
        quiet_logs(self.url, "preread")
        self._pool = await open_app(self._app, self.url, wait=False, timeout=self.timeout)
        await self.refresh()
        self._poller = asyncio.create_task(self._poll_loop())

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop looking; the jobs themselves go on in the workers."""
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        if self._pool is not None:
            with contextlib.suppress(*DB_ERRORS):
                await close_app(self._app, self._pool)
            self._pool = None

    @property
    def available(self) -> bool:
        return self._up

    def check(self) -> None:
        if not self._up:
            raise unavailable(self.url)

    def health(self) -> dict[str, Any]:
        return {"kind": "postgresql", "where": describe(self.url), "state": self._state()}

    def _state(self) -> str:
        return "ok" if self._up else "unreachable"

    # -- the shared state -------------------------------------------------------------------
    async def _poll_loop(self) -> None:
        while True:
            await asyncio.sleep(self.poll)
            await self.refresh()

    async def refresh(self) -> None:
        """Read the rows changed since the last look (and those of active jobs)."""
        try:
            if not self._schema_ready:
                await init_schema(self._app)
                self._schema_ready = True
            watching = [doc for doc, job in self._jobs.items() if job.active]
            rows = await fetch_rows(self._app, CHANGED, seen=self._seen, watching=watching)
        except DB_ERRORS as exc:
            self._down(exc)
            return
        self._back()
        for row in rows:
            self._apply(row)
        ended, self._ended = self._ended, []
        self._loaded = True
        for job in ended:  # the manifest first: a watcher woken now reads it
            if self.on_end is not None:
                with contextlib.suppress(Exception):  # a bucket down: served as it is
                    await anyio.to_thread.run_sync(self.on_end, job.spec.document_id)
            self._touch(job)

    def _down(self, exc: BaseException) -> None:
        self._up = False
        if not self._said_down:
            self._said_down = True
            reason = scrub(str(exc.__cause__ or exc) or type(exc).__name__, self.url)
            print(
                f"preread: the job queue at {describe(self.url)} is unreachable ({reason});"
                " job routes answer 503 until it is back",
                file=sys.stderr,
            )

    def _back(self) -> None:
        if self._said_down:
            print(f"preread: the job queue at {describe(self.url)} is back", file=sys.stderr)
        self._up = True
        self._said_down = False

    def _apply(self, row: dict[str, Any]) -> Job:
        """Take the row into ``_jobs``; a job that ended since the first look is noted
        in ``_ended`` (for ``on_end``)."""
        doc = str(row["document_id"])
        self._seen = max(self._seen, int(row["version"]))
        job = self._jobs.get(doc)
        if job is None or job.id != row["job_id"]:
            job = Job(JobSpec.from_json(row_json(row["spec"])), id=str(row["job_id"]))
            job.state = ""  # so the first look counts as a change
            self._jobs[doc] = job
        progress = row_json(row["progress"])
        if (job.state, job.progress, job.error) != (row["state"], progress, row["error"]):
            job.state, job.progress, job.error = str(row["state"]), progress, row["error"]
            if row["cancel_requested"]:
                job.cancel.set()
            if self._loaded and not job.active and self.on_end is not None:
                self._ended.append(job)  # touched once on_end ran (``refresh``)
            else:
                self._touch(job)
        return job

    # -- requests ---------------------------------------------------------------------------
    async def _accept(self, job: Job) -> None:  # submit is overridden whole
        raise NotImplementedError

    async def submit(self, spec: JobSpec) -> Job:
        """Queue a job for the workers; the active one if it has the same request."""
        self.check()  # down: 503 at once (the poller notices when it is back)
        doc = spec.document_id
        try:
            row = await fetch_row(
                self._app, SUBMIT, doc=doc, job=uuid.uuid4().hex, spec=spec.to_json()
            )
            if row is None:  # an active job holds the document
                row = await fetch_row(self._app, ONE, doc=doc)
                if row is None:  # gone meanwhile: try once more
                    return await self.submit(spec)
                current = JobSpec.from_json(row_json(row["spec"]))
                if current != spec:
                    self._apply(row)
                    raise Conflict(
                        f"document {doc[:12]} has a job {row['state']} with other settings;"
                        " cancel it first (DELETE /api/tts/preprocess)"
                    )
                if row["task_id"] is None:  # its defer never happened: do it now
                    await self._defer(doc, str(row["job_id"]))
            else:
                await self._defer(doc, str(row["job_id"]))
        except DB_ERRORS as exc:
            self._down(exc)
            raise unavailable(self.url) from None
        self._back()
        return self._apply(row)

    async def _defer(self, doc: str, job_id: str) -> None:
        deferrer = self._app.configure_task(TASK, queue=QUEUE, lock=doc, queueing_lock=doc)
        try:
            task_id = await deferrer.defer_async(document_id=doc)
        except pexc.AlreadyEnqueued:
            return  # a job of this document waits already: it runs the row as it is now
        await self._app.connector.execute_query_async(SET_TASK, task=task_id, doc=doc, job=job_id)

    async def cancel(self, document_id: str, timeout: float = 30.0) -> bool:
        """Cancel the document's job; a running one is aborted in its worker, and this
        waits (up to ``timeout``) until the worker says it stopped."""
        self.check()
        try:
            row = await fetch_row(self._app, CANCEL, doc=document_id)
            if row is None:
                return False
            if row["task_id"] is not None:
                await self._app.job_manager.cancel_job_by_id_async(int(row["task_id"]), abort=True)
        except DB_ERRORS as exc:
            self._down(exc)
            raise unavailable(self.url) from None
        self._apply(row)
        with anyio.move_on_after(timeout):
            async for _ in self.watch(document_id):
                pass
        return True
