"""A job's request file (``jobs/{documentId}.json``, fsynced) is written off the
event loop, and a job cancelled while it is being written leaves no file to resume."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import pytest
from serverkit import register_document

import preread.server.jobs as jobs_module
from preread.jobqueue import Job, JobSpec
from preread.library import Library
from preread.server.jobs import InProcessQueue
from preread.settings import Settings
from preread.store import Store
from preread.tts.fake import FakeProvider


class RecordingWrite:
    """The real ``atomic_write``, noting the thread each write of the request file
    (``name``) ran on; ``hold`` keeps that write waiting until released (to cancel a
    job while its request is being saved). The job's state file (``{doc}.state.json``,
    no fsync, written where the state changes, the loop included) goes through the
    same function: noted by name in ``others``, never held."""

    def __init__(self, name: str, hold: bool = False) -> None:
        self.name = name
        self.threads: list[int] = []
        self.others: list[str] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        if not hold:
            self.release.set()
        self.real = jobs_module.atomic_write

    def __call__(self, path: Path, data: bytes, *, durable: bool = True) -> None:
        if path.name == self.name:
            assert durable  # the request is data: fsynced
            self.threads.append(threading.get_ident())
            self.entered.set()
            self.release.wait(10)
        else:
            self.others.append(path.name)
        self.real(path, data, durable=durable)


def test_the_request_file_is_written_off_the_event_loop(
    settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = register_document(store)
    write = RecordingWrite(f"{doc}.json")
    monkeypatch.setattr(jobs_module, "atomic_write", write)
    queue = InProcessQueue(Library(settings, provider=FakeProvider()))

    async def scenario() -> int:
        await queue.start()
        job = await queue.submit(JobSpec(doc, settings.voice))
        assert job.state in {"queued", "running", "complete"}
        await queue.stop()
        return threading.get_ident()

    loop_thread = asyncio.run(scenario())
    assert write.threads and loop_thread not in write.threads
    assert f"{doc}.state.json" in write.others  # state writes pass by, told apart by name


def test_a_job_cancelled_while_its_request_is_saved_leaves_nothing_to_resume(
    settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = register_document(store)
    write = RecordingWrite(f"{doc}.json", hold=True)
    monkeypatch.setattr(jobs_module, "atomic_write", write)
    library = Library(settings, provider=FakeProvider())
    queue = InProcessQueue(library)

    async def scenario() -> str:
        await queue.start()
        submitting = asyncio.create_task(queue.submit(JobSpec(doc, settings.voice)))
        while not write.entered.is_set():
            await asyncio.sleep(0.01)
        assert await queue.cancel(doc, timeout=5)
        write.release.set()
        job = await submitting
        await queue.stop()
        return job.state

    assert asyncio.run(scenario()) == "cancelled"
    assert not (library.jobs_dir / f"{doc}.json").exists()


def test_a_state_file_that_cannot_be_replaced_leaves_no_temp_file(
    settings: Settings, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = register_document(store)
    queue = InProcessQueue(Library(settings, provider=FakeProvider()))
    job = Job(JobSpec(doc, settings.voice))
    queue._write_state(job)
    state = queue.jobs_dir / f"{doc}.state.json"
    assert json.loads(state.read_bytes())["jobId"] == job.id
    state.unlink()
    state.mkdir()  # the rename onto it fails after the temp file is written
    queue._write_state(job)  # reported, never raised: a status, not the job
    assert "cannot write the job's state" in capsys.readouterr().err
    assert sorted(p.name for p in queue.jobs_dir.iterdir()) == [state.name]
