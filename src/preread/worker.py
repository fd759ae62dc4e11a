"""``preread worker``: run the queue's preprocess jobs through the Library.

A worker is a procrastinate worker (``preread.queuedb``) with one task,
``preread.preprocess(document_id)``, run one job at a time:

1. it claims the document's row in ``preread_jobs`` (skipped when the job was
   cancelled or replaced meanwhile; retried later when another live worker holds
   it), then runs ``Library.pregenerate`` in a thread;
2. every ``report`` seconds it writes the progress to the row (what every server
   instance shows), reads ``cancel_requested`` back and, with a shared tier,
   every ``share_every`` seconds (1 s) folds the progress journal and queues the
   chunks done so far for the bucket, so a worker killed now loses no chunk another
   worker could not fetch (those of its last second at most: it has them on its disk);
3. at the end it waits for the shared tier's writes, then writes the final state.

Cancel: procrastinate's abort (a NOTIFY) cancels the task, which stops the run
after its current sentence. Retries use procrastinate's backoff (2, 4, 8, 16 s):
a run whose chunks failed (a provider down) or that met an error it may not meet
again (a registration not in the bucket yet) is retried up to ``attempts`` times.
A worker killed mid-job stops sending heartbeats: any other worker retries that
job once the heartbeat is ``stalled_after`` seconds old (procrastinate's stalled
jobs), and the run resumes from the chunks already done.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import threading
import time
from typing import Any

from procrastinate import RetryStrategy
from procrastinate import exceptions as pexc
from procrastinate.job_context import AbortReason, JobContext

from preread.errors import BadInput, NotFound, PrereadError
from preread.jobqueue import JobSpec
from preread.library import Library, Summary
from preread.pgqueue import DB_ERRORS
from preread.queuedb import (
    QUEUE,
    TASK,
    check_url,
    close_app,
    describe,
    fetch_row,
    init_schema,
    make_app,
    open_app,
    probe,
    quiet_logs,
    row_json,
    scrub,
    unreachable,
)

CLAIM = """
UPDATE preread_jobs SET state = 'running', attempts = %(attempt)s, worker = %(worker)s,
    task_id = %(task)s, version = nextval('preread_jobs_version'), updated_at = now()
WHERE document_id = %(doc)s AND state IN ('queued', 'running') AND NOT cancel_requested
  AND (state = 'queued' OR worker IS NULL OR worker = %(worker)s
       OR updated_at < now() - make_interval(secs => %(stale)s))
RETURNING job_id, spec
"""
HELD = "SELECT state, worker, cancel_requested FROM preread_jobs WHERE document_id = %(doc)s"
PROGRESS = """
UPDATE preread_jobs SET progress = %(progress)s, version = nextval('preread_jobs_version'),
    updated_at = now()
WHERE document_id = %(doc)s AND job_id = %(job)s
RETURNING cancel_requested
"""
TOUCH = """
UPDATE preread_jobs SET updated_at = now() WHERE document_id = %(doc)s AND job_id = %(job)s
RETURNING cancel_requested
"""
FINISH = """
UPDATE preread_jobs SET state = %(state)s, progress = COALESCE(%(progress)s, progress),
    error = %(error)s, version = nextval('preread_jobs_version'), updated_at = now()
WHERE document_id = %(doc)s AND job_id = %(job)s
"""


class RetryLater(Exception):
    """Raised by the task so procrastinate retries the job after its backoff."""


def say(message: str) -> None:
    print(f"preread worker: {message}", file=sys.stderr, flush=True)


class Runner:
    """The task's body, with what every job of this worker shares."""

    def __init__(
        self,
        library: Library,
        app: Any,
        *,
        name: str,
        attempts: int,
        stalled_after: float,
        report: float = 0.5,
        share_every: float = 1.0,
    ) -> None:
        self.library = library
        self.app = app
        self.name = name
        self.attempts = attempts
        self.stalled_after = stalled_after
        self.report = report
        self.share_every = share_every

    async def run(self, context: JobContext, document_id: str) -> None:
        attempt = int(context.job.attempts)
        row = await fetch_row(
            self.app, CLAIM, doc=document_id, attempt=attempt + 1, worker=self.name,
            task=context.job.id, stale=self.stalled_after,
        )  # fmt: skip
        if row is None:
            held = await fetch_row(self.app, HELD, doc=document_id)
            if held and held["state"] == "running" and not held["cancel_requested"]:
                raise RetryLater(f"document {document_id[:12]} is running in {held['worker']}")
            return  # cancelled or replaced meanwhile: nothing to do
        job_id = str(row["job_id"])
        spec = JobSpec.from_json(row_json(row["spec"]))
        say(f"job {job_id[:8]}: document {document_id[:12]} (attempt {attempt + 1})")
        started = time.perf_counter()
        cancel = threading.Event()
        latest: dict[str, Any] = {}
        loop = asyncio.get_running_loop()
        run = loop.run_in_executor(None, self._pregenerate, spec, latest, cancel)
        reporter = asyncio.create_task(self._report(document_id, job_id, latest, cancel))
        try:
            summary = await asyncio.shield(run)
        except asyncio.CancelledError:
            cancel.set()  # aborted: stop after the current sentence
            with contextlib.suppress(Exception):
                await run
            reporter.cancel()
            if context.abort_reason() == AbortReason.SHUTDOWN:
                await self._finish(
                    document_id, job_id, "queued", latest.get("p"), "the worker stopped"
                )
                say(f"job {job_id[:8]}: stopped with the worker; it will be resumed")
                raise
            await self._finish(document_id, job_id, "cancelled", latest.get("p"), None)
            say(f"job {job_id[:8]}: cancelled")
            raise pexc.JobAborted() from None
        except Exception as exc:
            reporter.cancel()
            message = exc.message if isinstance(exc, PrereadError) else f"{type(exc).__name__}"
            if not isinstance(exc, BadInput) and attempt + 1 < self.attempts:
                await self._finish(
                    document_id, job_id, "queued", latest.get("p"), f"{message} (retrying)"
                )
                say(f"job {job_id[:8]}: {message}; retrying")
                raise RetryLater(message) from None
            await self._finish(document_id, job_id, "failed", latest.get("p"), message)
            say(f"job {job_id[:8]}: failed: {message}")
            return
        reporter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reporter
        await self._end(document_id, job_id, summary, attempt, started)

    async def _end(
        self, document_id: str, job_id: str, summary: Summary, attempt: int, started: float
    ) -> None:
        state = str(summary.state)
        shared = await asyncio.to_thread(self.library.flush_shared, 60.0)
        error = summary.failures[0][1] if summary.failures else None
        if not shared and state == "complete":
            state, error = "partial", "the shared tier did not take every chunk yet"
        progress = summary.progress.to_json()
        if state in ("partial", "failed") and attempt + 1 < self.attempts:
            await self._finish(document_id, job_id, "queued", progress, f"{error} (retrying)")
            say(f"job {job_id[:8]}: {state}: {error}; retrying")
            raise RetryLater(str(error))
        await self._finish(document_id, job_id, state, progress, error)
        say(
            f"job {job_id[:8]}: {state}: {summary.generated} generated, {summary.reused} reused,"
            f" {summary.skipped} already done in {time.perf_counter() - started:.1f} s"
        )

    def _pregenerate(
        self, spec: JobSpec, latest: dict[str, Any], cancel: threading.Event
    ) -> Summary:
        document = self.library.registration(spec.document_id)
        if document is None:
            raise NotFound(f"document {spec.document_id} is not registered (nor in the bucket)")

        def progress(p: Any) -> None:
            latest["p"] = p.to_json()

        return self.library.pregenerate(
            document, spec.voice, pages=spec.pages, force=spec.force,
            on_progress=progress, cancel=cancel, list_all=True,
        )  # fmt: skip

    async def _report(
        self, document_id: str, job_id: str, latest: dict[str, Any], cancel: threading.Event
    ) -> None:
        """Progress to the row (a touch when unchanged), cancel back; chunks to the bucket."""
        sent: Any = None
        shared_at = time.monotonic()
        shared: set[str] = set()
        while True:
            await asyncio.sleep(self.report)
            now = latest.get("p")
            try:
                if now != sent:
                    row = await fetch_row(
                        self.app, PROGRESS, doc=document_id, job=job_id, progress=now
                    )
                    sent = now
                else:
                    row = await fetch_row(self.app, TOUCH, doc=document_id, job=job_id)
            except DB_ERRORS:
                continue  # the run goes on; the row catches up when the database is back
            if row is None or row["cancel_requested"]:
                cancel.set()  # cancelled (or the job replaced): stop after this sentence
            if time.monotonic() - shared_at >= self.share_every:
                shared_at = time.monotonic()
                await asyncio.to_thread(self.library.share_progress, document_id, shared)

    async def _finish(
        self,
        document_id: str,
        job_id: str,
        state: str,
        progress: dict[str, Any] | None,
        error: str | None,
    ) -> None:
        await self.app.connector.execute_query_async(
            FINISH, doc=document_id, job=job_id, state=state, progress=progress, error=error
        )


async def recover_stalled(app: Any, stalled_after: float, every: float) -> None:
    """Retry the jobs of workers whose heartbeat stopped (killed, machine gone)."""
    while True:
        try:
            stalled = await app.job_manager.get_stalled_jobs(
                queue=QUEUE, seconds_since_heartbeat=stalled_after
            )
            for job in stalled:
                await app.job_manager.retry_job(job)
                document = str(job.task_kwargs.get("document_id", "?"))
                say(f"document {document[:12]}: its worker stopped; job queued again")
        except DB_ERRORS:
            pass
        await asyncio.sleep(every)


def worker_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


async def run_worker(
    library: Library,
    url: str,
    *,
    heartbeat: float = 10.0,
    stalled_after: float = 60.0,
    attempts: int = 5,
    stop: asyncio.Event | None = None,
) -> None:
    """Take jobs until ``stop`` is set; the database lost is waited for, not fatal."""
    check_url(url)
    quiet_logs(url, "preread worker")
    app = make_app()
    runner = Runner(
        library, app, name=worker_name(), attempts=attempts, stalled_after=stalled_after
    )
    retry = RetryStrategy(max_attempts=attempts, exponential_wait=2)
    app.task(name=TASK, queue=QUEUE, pass_context=True, retry=retry)(runner.run)
    stop = stop or asyncio.Event()
    backoff = 1.0
    pool = None
    connected = False
    reason = await probe(url)  # at once, rather than after the pool's timeout
    if reason:
        raise unreachable(url, reason)
    try:
        while not stop.is_set():
            try:
                if pool is None:
                    pool = await open_app(app, url, wait=True)
                await init_schema(app)
            except DB_ERRORS as exc:
                reason = await probe(url) or scrub(str(exc) or type(exc).__name__, url)
                if not connected:  # never reached at start: say so and stop
                    raise unreachable(url, reason) from None
                say(f"the queue at {describe(url)} is unreachable ({reason})")
                await _wait(stop, backoff)
                backoff = min(30.0, backoff * 2)
                continue
            say(f"taking jobs from {describe(url)} as {runner.name}")
            connected = True
            backoff = 1.0
            await _work(app, stop, heartbeat, stalled_after)
            if not stop.is_set():
                say(f"lost the queue at {describe(url)}; reconnecting")
                await _wait(stop, backoff)
                backoff = 2.0
    finally:
        if pool is not None:
            with contextlib.suppress(*DB_ERRORS):
                await close_app(app, pool)


async def _work(app: Any, stop: asyncio.Event, heartbeat: float, stalled_after: float) -> None:
    """One procrastinate worker run: until ``stop``, or until the database is lost."""
    recover = asyncio.create_task(recover_stalled(app, stalled_after, max(1.0, heartbeat)))
    work = asyncio.create_task(
        app.run_worker_async(
            queues=[QUEUE],
            concurrency=1,
            name="preread",
            update_heartbeat_interval=heartbeat,
            stalled_worker_timeout=stalled_after,
            abort_job_polling_interval=max(0.5, heartbeat),
            fetch_job_polling_interval=max(1.0, heartbeat),
            shutdown_graceful_timeout=0.0,  # a stopped worker's job is resumed elsewhere
            install_signal_handlers=False,
        )
    )
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({work, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        recover.cancel()
        stopping.cancel()
        if not work.done():
            work.cancel()
        with contextlib.suppress(asyncio.CancelledError, *DB_ERRORS):
            await work


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
