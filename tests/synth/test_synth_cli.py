"""The audio commands end to end: bad settings, failures, kill -9 and resume, lock, list."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from openai_server import SpeechServer
from preread.audio import decode
from preread.cli import main
from preread.fsutil import is_temp_name, sha256_file
from preread.ids import document_id_of_file
from preread.manifest import Manifest
from preread.store import Store

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "sample.pdf"
KEY = "sk-cli-secret-9876543210"
PREREAD = str(Path(sys.executable).parent / "preread")


@pytest.fixture
def sample() -> Path:
    if not SAMPLE.is_file():
        pytest.skip("examples/sample.pdf is not there")
    return SAMPLE


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--speed", "0"], "bad speed 0.0"),
        (["--speed", "10"], "bad speed 10.0"),
        (["--voice", "nobody"], "unknown voice 'nobody' for provider piper"),
        (["--provider", "nope"], "unknown provider 'nope'"),
        (["--format", "wav"], "bad format 'wav'"),
        (["--provider", "openai"], "OPENAI_API_KEY is not set"),
    ],
)
def test_bad_settings_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], home: Path, sample: Path, flags: list[str], message: str
) -> None:
    code, out, err = run(capsys, "preprocess", str(sample), "--home", str(home), *flags)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("preread: error: ") and message in err
    assert not (home / "tts_cache_v1").exists()


@pytest.fixture
def failing_server() -> Iterator[SpeechServer]:
    with SpeechServer() as server:
        server.retry_after_on_500 = "0"  # retried at once: the test stays fast
        yield server


def test_openai_failures_give_exit_1_and_a_summary(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    home: Path,
    sample: Path,
    failing_server: SpeechServer,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", failing_server.base_url)
    failing_server.fail_when = lambda text: "lighthouse" in text.lower()
    code, out, err = run(
        capsys, "preprocess", str(sample), "--home", str(home), "--provider", "openai", "--json"
    )
    assert code == 1
    summary = json.loads(out)
    assert summary["failed"] >= 1 and summary["done"] >= 1
    assert summary["state"] == "failed" and summary["failures"]
    assert "after 5 attempts: HTTP 500" in summary["failures"][0]["error"]
    everything = out + err + "".join(p.read_text() for p in home.rglob("*.json"))
    assert KEY not in everything
    assert all(r.authorization == f"Bearer {KEY}" for r in failing_server.requests)


def wait_for_chunks(
    process: subprocess.Popen[bytes], directory: Path, count: int, timeout: float = 60.0
) -> None:
    """(A fresh store first measures the voice's loudness: once, importing SciPy.)"""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if (
            directory.is_dir()
            and sum(1 for p in directory.iterdir() if not is_temp_name(p.name)) >= count
        ):
            return
        time.sleep(0.02)
    raise AssertionError(f"no {count} chunks in {directory} (exit code {process.poll()})")


@pytest.mark.slow
def test_kill_9_then_resume_leaves_every_chunk_valid(
    capsys: pytest.CaptureFixture[str], home: Path, sample: Path
) -> None:
    env = {**os.environ, "PREREAD_FAKE_DELAY": "0.15", "PREREAD_HOME": str(home)}
    command = [PREREAD, "preprocess", str(sample), "--provider", "fake"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    store = Store(home)
    document_id = document_id_of_file(sample)
    try:
        wait_for_chunks(process, store.chunks_dir(document_id), 2)
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate()
    assert process.returncode == -signal.SIGKILL
    manifest = Manifest.loads(store.manifest_path(document_id).read_bytes())  # valid JSON
    assert manifest.count("done") < len(manifest.chunks)
    for path in store.chunks_dir(document_id).iterdir():
        if not is_temp_name(path.name):
            samples, _ = decode(path.read_bytes())  # whole files only
            assert len(samples) > 0
    code, out, _ = run(
        capsys, "preprocess", str(sample), "--home", str(home), "--provider", "fake", "--json"
    )
    summary = json.loads(out)
    assert code == 0 and summary["state"] == "complete"
    assert summary["generated"] + summary["reused"] + summary["skipped"] == summary["total"]
    assert summary["generated"] < summary["total"]  # the killed run's work was kept
    manifest = store.require_manifest(document_id)
    for entry in manifest.chunks:
        path = store.chunks_dir(document_id) / entry.file_name
        assert entry.status == "done" and sha256_file(path) == entry.sha256
    assert sorted(p.name for p in store.chunks_dir(document_id).iterdir()) == sorted(
        e.file_name for e in manifest.chunks
    )


def test_second_run_is_refused_while_one_holds_the_document(
    capsys: pytest.CaptureFixture[str], home: Path, sample: Path
) -> None:
    lock = Store(home).job_lock(document_id_of_file(sample)).acquire()
    try:
        code, _, err = run(
            capsys, "preprocess", str(sample), "--home", str(home), "--provider", "fake"
        )
    finally:
        lock.release()
    assert code == 1 and "being preprocessed by another run" in err and err.count("\n") == 1
    assert "--wait" in err


def test_status_list_delete(capsys: pytest.CaptureFixture[str], home: Path, sample: Path) -> None:
    h = ["--home", str(home)]
    document_id = document_id_of_file(sample)
    code, out, _ = run(capsys, "status", str(sample), *h, "--json")
    assert code == 0 and json.loads(out)["state"] == "none"
    assert run(capsys, "preprocess", str(sample), *h, "--provider", "fake", "-q")[0] == 0
    code, out, _ = run(capsys, "status", document_id[:10], *h, "--json")
    status = json.loads(out)
    assert status["state"] == "complete" and status["done"] == status["total"] > 0
    code, out, _ = run(capsys, "list", *h, "--json")
    (row,) = json.loads(out)
    assert row["documentId"] == document_id and row["state"] == "complete"
    assert row["bytes"] == status["bytes"]
    code, out, err = run(capsys, "status", "deadbeefdeadbeef", *h)
    assert code == 2 and "no document" in err
    code, out, _ = run(capsys, "delete", document_id[:8], *h, "--json")
    assert code == 0 and json.loads(out)["deleted"] is True
    assert not Store(home).doc_dir(document_id).exists()
    assert not list((home / "blobs").rglob("*.mp3"))  # nothing else used that audio
    assert json.loads(run(capsys, "list", *h, "--json")[1]) == []


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_says_how_to_resume(home: Path, sample: Path) -> None:
    env = {**os.environ, "PREREAD_FAKE_DELAY": "0.15", "PREREAD_HOME": str(home)}
    command = [PREREAD, "preprocess", str(sample), "--provider", "fake"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    document_id = document_id_of_file(sample)
    try:
        wait_for_chunks(process, Store(home).chunks_dir(document_id), 1)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 130
    message = err.decode()
    assert "run the same command again to resume" in message and "Traceback" not in message
    manifest = Store(home).require_manifest(document_id)
    assert 1 <= manifest.count("done") < len(manifest.chunks)  # saved before exiting


def test_pages_and_preprocess_by_id(
    capsys: pytest.CaptureFixture[str], home: Path, sample: Path
) -> None:
    h = ["--home", str(home), "--provider", "fake", "--json"]
    code, out, _ = run(capsys, "preprocess", str(sample), "--pages", "2", *h)
    assert code == 0 and json.loads(out)["total"] == 2
    document_id = document_id_of_file(sample)
    manifest = Store(home).require_manifest(document_id)
    # the manifest lists every block, indexed over the whole document; page 2 is made
    assert {c.page for c in manifest.chunks} == {1, 2, 3}
    assert [c.index for c in manifest.chunks] == list(range(len(manifest.chunks)))
    assert {c.page for c in manifest.chunks if c.status == "done"} == {2}
    registered = Store(home).read_registration(document_id)
    assert registered is not None and len(registered.blocks) == len(manifest.chunks)
    # by id: the registered blocks (the whole document), other settings, no PDF needed
    code, out, _ = run(capsys, "preprocess", document_id[:8], *h, "--format", "opus")
    summary = json.loads(out)
    total = len(manifest.chunks)
    assert code == 0 and summary["generated"] == total and summary["state"] == "complete"
    assert Store(home).require_manifest(document_id).format == "opus"
    code, _, err = run(capsys, "preprocess", "0123456789abcdef", *h)
    assert code == 2 and "no document" in err
    code, _, err = run(capsys, "preprocess", "missing.pdf", *h)
    assert code == 2 and "no such file: missing.pdf" in err
