"""``preread verify`` and ``preread status --verify`` through the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from preread.cli import main
from preread.fsutil import sha256_file
from preread.manifest import Manifest
from preread.store import Store

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "sample.pdf"
PREREAD = str(Path(sys.executable).parent / "preread")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def made(capsys: pytest.CaptureFixture[str], home: Path) -> tuple[Store, Manifest]:
    """The sample, pre-generated with the fake voice (Opus: every encode differs)."""
    if not SAMPLE.is_file():
        pytest.skip("examples/sample.pdf is not there")
    code, _, err = run(
        capsys, "preprocess", str(SAMPLE), "--provider", "fake", "--format", "opus",
        "--home", str(home), "--quiet",
    )  # fmt: skip
    assert code == 0, err
    store = Store(home)
    (document_id,) = store.known_ids()
    return store, store.require_manifest(document_id)


def chunk_path(store: Store, manifest: Manifest, index: int) -> Path:
    return store.chunks_dir(manifest.document_id) / manifest.chunks[index].file_name


def replace_file(path: Path, data: bytes) -> None:
    """Give ``path`` other bytes under a new inode (its blob keeps its own)."""
    path.unlink()
    path.write_bytes(data)


def all_true(store: Store, document_id: str) -> bool:
    manifest = store.require_manifest(document_id)
    return all(
        sha256_file(store.chunks_dir(document_id) / c.file_name) == c.sha256
        for c in manifest.chunks
        if c.status == "done"
    )


def test_a_clean_store_verifies_with_exit_0(
    capsys: pytest.CaptureFixture[str], made: tuple[Store, Manifest]
) -> None:
    store, manifest = made
    code, out, err = run(capsys, "verify", "--home", str(store.home))
    assert (code, err) == (0, "")
    assert (
        out
        == f"verified 1 document, {len(manifest.chunks)} done chunks: all match their manifests\n"
    )


def test_a_chunk_with_other_bytes_is_relinked_from_its_blob(
    capsys: pytest.CaptureFixture[str], made: tuple[Store, Manifest]
) -> None:
    store, manifest = made
    victim = chunk_path(store, manifest, 1)
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte off, same size: only the hash can tell
    replace_file(victim, bytes(data))
    code, out, _ = run(capsys, "verify", manifest.document_id[:10], "--home", str(store.home))
    assert code == 0
    assert f"chunk 1 ({victim.name}): sha256 differs from the manifest; relinked" in out
    assert "1 differed, 1 repaired" in out
    assert all_true(store, manifest.document_id)
    code, out, _ = run(capsys, "verify", "--home", str(store.home))
    assert code == 0 and "all match" in out


def test_the_old_race_is_repaired_from_a_good_copy_in_another_chunk(
    capsys: pytest.CaptureFixture[str], made: tuple[Store, Manifest]
) -> None:
    """What the old race left: the blob replaced by a second encode, one chunk linked to
    it while recording the first; the first encode lives on in another chunk."""
    store, manifest = made
    first = chunk_path(store, manifest, 0)
    twin = manifest.chunks[2]

    # chunk 2 records chunk 0's bytes (as if the document repeated that block)
    def same_as_zero(m: Manifest) -> None:
        m.chunks[2].bytes, m.chunks[2].sha256 = m.chunks[0].bytes, m.chunks[0].sha256

    store.update_manifest(manifest.document_id, same_as_zero)
    code, out, _ = run(capsys, "verify", "--json", "--home", str(store.home))
    report = json.loads(out)
    assert code == 0 and report["ok"] and report["problems"] == 1 and report["repaired"] == 1
    (problem,) = report["documents"][0]["problems"]
    assert problem == {
        "index": 2, "fileName": twin.file_name, "problem": "size", "action": "relinked"
    }  # fmt: skip
    path = store.chunks_dir(manifest.document_id) / twin.file_name
    assert os.stat(path).st_ino == os.stat(first).st_ino
    assert all_true(store, manifest.document_id)


def test_without_a_correct_copy_the_chunk_goes_back_to_pending_and_a_rerun_remakes_it(
    capsys: pytest.CaptureFixture[str], made: tuple[Store, Manifest]
) -> None:
    store, manifest = made
    victim = chunk_path(store, manifest, 3)
    data = victim.read_bytes()
    with victim.open("r+b") as handle:  # damaged in place: the blob (same inode) too
        handle.truncate(len(data) // 2)
    code, out, _ = run(
        capsys, "status", manifest.document_id, "--verify", "--home", str(store.home)
    )
    assert code == 0
    assert f"chunk 3 ({victim.name}): size differs from the manifest; marked pending" in out
    assert "partial" in out  # the status after the repair
    after = store.require_manifest(manifest.document_id)
    assert after.chunks[3].status == "pending" and not victim.exists()
    code, _, err = run(
        capsys, "preprocess", manifest.document_id, "--provider", "fake", "--format", "opus",
        "--home", str(store.home), "--quiet",
    )  # fmt: skip
    assert code == 0, err
    assert all_true(store, manifest.document_id)
    code, out, _ = run(
        capsys, "status", manifest.document_id, "--verify", "--json", "--home", str(store.home)
    )
    status = json.loads(out)
    assert code == 0 and status["state"] == "complete" and status["verify"]["problems"] == []


def test_a_missing_chunk_file_is_relinked(
    capsys: pytest.CaptureFixture[str], made: tuple[Store, Manifest]
) -> None:
    store, manifest = made
    victim = chunk_path(store, manifest, 0)
    victim.unlink()
    code, out, _ = run(capsys, "verify", "--home", str(store.home))
    assert code == 0 and "file missing; relinked" in out
    assert all_true(store, manifest.document_id)


def test_a_document_being_preprocessed_is_not_repaired_and_exits_1(
    made: tuple[Store, Manifest],
) -> None:
    """The real binary, while another process holds the document's job lock."""
    store, manifest = made
    replace_file(chunk_path(store, manifest, 1), b"not audio")
    lock = store.job_lock(manifest.document_id)
    lock.acquire()
    try:
        result = subprocess.run(
            [PREREAD, "verify", "--home", str(store.home)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    finally:
        lock.release()
    assert result.returncode == 1
    assert "not checked: busy: a preprocess run is writing it" in result.stdout
    assert "1 not checked" in result.stdout
    assert sha256_file(chunk_path(store, manifest, 1)) != manifest.chunks[1].sha256  # untouched


def test_verify_of_an_empty_store(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    code, out, _ = run(capsys, "verify", "--home", str(home))
    assert code == 0 and out == "verified 0 documents, 0 done chunks: all match their manifests\n"
