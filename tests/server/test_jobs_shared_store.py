"""In-process job queues of several server processes on one store (``serve --workers N``).

Each queue has its own library, as each worker process has: they meet only through
the store's files and locks (``flock`` locks of different open files conflict within
one process as between two), which is what these tests exercise.
"""

from __future__ import annotations

import asyncio
import json
import os
import time

from serverkit import register_document

from preread.jobqueue import Job, JobSpec
from preread.library import Library
from preread.server.jobs import InProcessQueue
from preread.settings import Settings
from preread.store import Store
from preread.tts.fake import FakeProvider


def _queue(settings: Settings, delay: float = 0.0) -> tuple[InProcessQueue, FakeProvider]:
    provider = FakeProvider(delay=delay)
    return InProcessQueue(Library(settings, provider=provider)), provider


async def _until(job: Job, states: set[str], timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while job.state not in states:
        assert time.monotonic() < deadline, f"job still {job.state}"
        await asyncio.sleep(0.02)
    return job.state


def test_saved_jobs_are_resumed_by_one_process(settings: Settings, store: Store) -> None:
    doc = register_document(store)
    saved = Library(settings).jobs_dir / f"{doc}.json"
    saved.parent.mkdir(parents=True)
    saved.write_text(json.dumps(JobSpec(doc, settings.voice).to_json()))
    (first, made_first), (second, made_second) = _queue(settings), _queue(settings)

    async def scenario() -> None:
        await first.start()
        await second.start()
        job = first.job(doc)
        assert job is not None
        shown = second.job(doc)  # the other process shows that job (its state file)
        assert shown is not None and shown.id == job.id and shown.active
        assert await _until(job, {"complete"}) == "complete"
        await first.stop()
        await second.stop()

    asyncio.run(scenario())
    assert made_first.calls and not made_second.calls
    assert not saved.exists()


def test_cancel_reaches_a_job_another_process_runs(settings: Settings, store: Store) -> None:
    doc = register_document(store)
    (runner, made), (other, _) = _queue(settings, delay=0.3), _queue(settings)

    async def scenario() -> str:
        await runner.start()
        await other.start()
        job = await runner.submit(JobSpec(doc, settings.voice))
        await _until(job, {"running"})
        while not made.calls:  # under way: a sentence made
            await asyncio.sleep(0.02)
        assert await other.cancel(doc)  # answered by the process that does not run it
        state = await _until(job, {"cancelled", "complete", "partial", "failed"})
        await runner.stop()
        await other.stop()
        return state

    assert asyncio.run(scenario()) == "cancelled"
    assert len(made.calls) < 5  # stopped before the document's 5 sentences


def test_a_second_request_waits_for_the_run_and_takes_its_outcome(
    settings: Settings, store: Store
) -> None:
    doc = register_document(store)
    (first, made_first), (second, made_second) = (
        _queue(settings, delay=0.1),
        _queue(settings, delay=0.1),
    )
    spec = JobSpec(doc, settings.voice)

    async def scenario() -> tuple[str, str]:
        await first.start()
        await second.start()
        one = await first.submit(spec)
        await _until(one, {"running"})
        while not made_first.calls:
            await asyncio.sleep(0.02)
        two = await second.submit(spec)  # the same document, asked of another process
        states = await _until(one, {"complete"}), await _until(two, {"complete"})
        await first.stop()
        await second.stop()
        return states

    assert asyncio.run(scenario()) == ("complete", "complete")
    assert len(made_first.calls) == 5 and not made_second.calls  # made once


def test_every_process_shows_the_running_job_and_follows_it(
    settings: Settings, store: Store
) -> None:
    """Status and SSE agree whichever process answers: the one not running the job
    shows the runner's id, state and progress, and its watch follows it to the end."""
    doc = register_document(store)
    (runner, _), (other, _) = _queue(settings, delay=0.3), _queue(settings)

    async def scenario() -> tuple[Job, list[tuple[str, int | None]]]:
        await runner.start()
        await other.start()
        job = await runner.submit(JobSpec(doc, settings.voice))
        await _until(job, {"running"})
        while not (job.progress and job.progress.get("done")):
            await asyncio.sleep(0.02)
        shown = other.job(doc)
        assert shown is not None and shown.progress is not None
        assert (shown.id, shown.state) == (job.id, "running") and shown.progress["done"] >= 1
        seen = [
            (j.state, j.progress.get("done") if j.progress else None)
            async for j in other.watch(doc)
            if j is not None
        ]
        await runner.stop()
        await other.stop()
        return job, seen

    job, seen = asyncio.run(scenario())
    assert job.progress is not None and job.progress["done"] == job.progress["total"] == 3
    assert seen[-1] == ("complete", 3)
    assert all(state == "running" for state, _ in seen[:-1])
    done = [d or 0 for _, d in seen]
    assert done == sorted(done) and len(set(done)) >= 2  # it followed the run's progress
    final = other.job(doc)
    assert final is not None and (final.id, final.state) == (job.id, "complete")
    # the document's audio changed since (a CLI run rewrote its manifest): the disk says
    state_file = Library(settings).jobs_dir / f"{doc}.state.json"
    manifest = store.manifest_path(doc)
    later = state_file.stat().st_mtime_ns + 1_000_000
    os.utime(manifest, ns=(later, later))
    assert other.job(doc) is None


def test_a_state_whose_runner_is_gone_is_not_believed(settings: Settings, store: Store) -> None:
    """A process killed mid-job leaves its state file saying "running": with no process
    holding the document's job lock, it shows as queued while its request is saved
    (a process resumes it), and not at all once the request is gone."""
    doc = register_document(store)
    queue, _ = _queue(settings)
    jobs = Library(settings).jobs_dir
    jobs.mkdir(parents=True)
    spec = JobSpec(doc, settings.voice)
    left = {"jobId": "ab" * 16, "state": "running", "progress": None, "error": None}
    (jobs / f"{doc}.state.json").write_text(json.dumps({**left, "spec": spec.to_json()}))
    assert queue.job(doc) is None
    (jobs / f"{doc}.json").write_text(json.dumps(spec.to_json()))
    shown = queue.job(doc)
    assert shown is not None and (shown.id, shown.state) == ("ab" * 16, "queued")
