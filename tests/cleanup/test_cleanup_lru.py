"""LRU cleanup on synthetic stores: order, limits, pins, locks, shared blobs, dry runs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from synthstore import PAGE, T0, SynthStore, consistency_problems, content, disk_usage, doc_id

from preread.fsutil import FileLock
from preread.lifecycle import CleanupReport, record_use, run_cleanup, scan_store
from preread.lifecycle.cleanup import ANOTHER_RUNNING, CLEANUP_LOCK_NAME
from preread.store import Store

DAY = 86400.0
NOW = T0 + 30 * DAY  # every synthetic file is older than this


@pytest.fixture
def synth(store: Store) -> SynthStore:
    return SynthStore(store)


def cleanup(
    store: Store,
    max_bytes: int,
    *,
    older_than: float | None = None,
    dry_run: bool = False,
) -> CleanupReport:
    return run_cleanup(
        store,
        max_bytes=max_bytes,
        older_than=older_than,
        pin_minutes=30.0,
        dry_run=dry_run,
        now=NOW,
    )


def test_scan_counts_shared_blobs_once(store: Store, synth: SynthStore) -> None:
    shared = content("shared", pages=4)
    synth.add_document(doc_id(1), [shared, content(1)], at=T0)
    synth.add_document(doc_id(2), [shared, content(2)], at=T0)
    scan = scan_store(store)
    assert scan.total_bytes == disk_usage(store.home)
    # manifests (1 page each) + 3 distinct audio blobs + their 3 sidecars (1 page each)
    assert scan.total_bytes == 2 * PAGE + (4 + 2 + 2) * PAGE + 3 * PAGE
    assert scan.blobs_count == 3
    assert scan.dedup_saved_bytes == 4 * PAGE  # the shared chunk would be a second copy


def test_evicts_least_recently_used_not_oldest_created(store: Store, synth: SynthStore) -> None:
    a, b, c = doc_id("a"), doc_id("b"), doc_id("c")
    synth.add_document(a, [content("a1"), content("a2")], at=T0)  # created first…
    synth.add_document(b, [content("b1"), content("b2")], at=T0 + DAY)
    synth.add_document(c, [content("c1"), content("c2")], at=T0 + 2 * DAY)
    record_use(store, a, now=T0 + 3 * DAY)  # …but listened to last

    report = cleanup(store, max_bytes=scan_store(store).total_bytes - 1)  # one must go
    assert [r.document_id for r in report.removed] == [b]
    report = cleanup(store, max_bytes=report.size_after - 1)
    assert [r.document_id for r in report.removed] == [c]
    assert store.cached_ids() == {a}
    assert consistency_problems(store) == []


def test_size_is_under_the_limit_afterwards(store: Store, synth: SynthStore) -> None:
    for n in range(20):
        synth.add_document(doc_id(n), [content(f"{n}-{i}", 1 + i % 3) for i in range(4)], at=T0 + n)
    before = disk_usage(store.home)
    limit = before // 3
    report = cleanup(store, max_bytes=limit)
    after = disk_usage(store.home)
    assert after <= limit
    assert report.size_before == before
    assert report.size_after == after
    assert report.freed_bytes == before - after
    removed = [r.document_id for r in report.removed]
    assert removed == [doc_id(n) for n in range(len(removed))]  # oldest use first
    assert consistency_problems(store) == []
    # registrations are never touched; nothing left to do now: silent, nothing removed
    again = cleanup(store, max_bytes=limit)
    assert not again.did_something


def test_pinned_documents_are_kept_even_over_the_limit(store: Store, synth: SynthStore) -> None:
    for n in range(3):
        synth.add_document(doc_id(n), [content(n)], at=T0)
    record_use(store, doc_id(0), now=NOW - 29 * 60)  # in the last 30 minutes
    record_use(store, doc_id(1), now=NOW - 31 * 60)  # not any more
    report = cleanup(store, max_bytes=1)
    assert {r.document_id for r in report.removed} == {doc_id(1), doc_id(2)}
    assert [(k.document_id, k.reason) for k in report.kept] == [(doc_id(0), "pinned")]
    assert report.over_limit
    assert store.cached_ids() == {doc_id(0)}


def test_document_with_a_running_job_is_kept(store: Store, synth: SynthStore) -> None:
    synth.add_document(doc_id(0), [content(0)], at=T0)
    synth.add_document(doc_id(1), [content(1)], at=T0 + 1)
    with FileLock(store.job_lock(doc_id(0)).path):  # another holder of the job lock
        report = cleanup(store, max_bytes=1)
    assert [(k.document_id, k.reason) for k in report.kept] == [(doc_id(0), "busy")]
    assert store.cached_ids() == {doc_id(0)}


def test_job_lock_held_by_another_process_keeps_the_document(
    store: Store, synth: SynthStore
) -> None:
    synth.add_document(doc_id(0), [content(0)], at=T0)
    lock_path = store.job_lock(doc_id(0)).path
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from pathlib import Path\n"
            "from preread.fsutil import FileLock\n"
            "lock = FileLock(Path(sys.argv[1])).acquire()\n"
            "print('held', flush=True)\n"
            "sys.stdin.read()\n",
            str(lock_path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        report = cleanup(store, max_bytes=1, dry_run=True)
        assert [k.reason for k in report.kept] == ["busy"]
        report = cleanup(store, max_bytes=1)
        assert [k.reason for k in report.kept] == ["busy"]
        assert store.cached_ids() == {doc_id(0)}
    finally:
        holder.communicate(timeout=10)
    assert [r.document_id for r in cleanup(store, max_bytes=1).removed] == [doc_id(0)]


def test_a_document_being_written_is_kept(store: Store, synth: SynthStore) -> None:
    synth.add_document(doc_id(0), [content(0)], at=T0)
    temp = store.chunks_dir(doc_id(0)) / ".0002__page-001__block-001.mp3.123.tmp"
    temp.write_bytes(b"half a chunk")
    os.utime(temp.parent, (T0, T0))
    os.utime(temp, (NOW - 60, NOW - 60))  # written a minute ago: a writer is at work
    report = cleanup(store, max_bytes=1)
    assert [k.reason for k in report.kept] == ["writing"]
    os.utime(temp, (NOW - DAY, NOW - DAY))  # a day old: left by a killed writer
    report = cleanup(store, max_bytes=1)
    assert [r.document_id for r in report.removed] == [doc_id(0)]
    assert not store.doc_dir(doc_id(0)).exists()


def test_shared_blob_removed_only_when_unreferenced(store: Store, synth: SynthStore) -> None:
    shared, own_a, own_b = content("shared"), content("own a"), content("own b")
    a, b = doc_id("a"), doc_id("b")
    synth.add_document(a, [shared, own_a], at=T0)
    synth.add_document(b, [own_b, shared], at=T0 + DAY)
    shared_blob = store.blob_path(_key(shared), "mp3")
    own_a_blob = store.blob_path(_key(own_a), "mp3")

    report = cleanup(store, max_bytes=scan_store(store).total_bytes - 1)  # a must go
    assert [r.document_id for r in report.removed] == [a]
    assert not own_a_blob.exists() and not own_a_blob.with_suffix(".json").exists()
    assert shared_blob.exists() and shared_blob.stat().st_nlink == 2  # still b's chunk
    assert shared_blob.with_suffix(".json").exists()
    assert report.blobs_removed == 1
    assert consistency_problems(store) == []

    cleanup(store, max_bytes=1)
    assert not shared_blob.exists()
    assert disk_usage(store.home) == 0


def _key(data: bytes) -> str:
    from synthstore import blob_key

    return blob_key(data)


def test_unreferenced_blobs_go_in_lru_order_and_fresh_ones_stay(
    store: Store, synth: SynthStore
) -> None:
    old = synth.write_blob(content("old orphan"), at=T0)
    fresh = synth.write_blob(content("fresh orphan"), at=NOW - 5)  # about to be linked
    synth.add_document(doc_id(0), [content(0)], at=T0 + DAY)
    report = cleanup(store, max_bytes=scan_store(store).total_bytes - 1)
    assert not old.exists() and not old.with_suffix(".json").exists()
    assert report.removed == []
    assert report.blobs_removed == 1
    cleanup(store, max_bytes=1)
    assert fresh.exists()  # being written: never removed
    assert store.cached_ids() == set()


def test_leftover_folder_without_manifest_goes_first(store: Store, synth: SynthStore) -> None:
    synth.add_document(doc_id(0), [content(0)], at=T0)
    synth.add_document(doc_id(1), [content(1)], at=T0 + DAY)
    store.manifest_path(doc_id(1)).unlink()  # a deletion killed half way
    os.utime(store.doc_dir(doc_id(1)), (T0, T0))
    report = cleanup(store, max_bytes=scan_store(store).total_bytes - 1)
    assert [r.document_id for r in report.removed] == [doc_id(1)]
    assert report.removed[0].last_used is None
    assert store.cached_ids() == {doc_id(0)}
    assert consistency_problems(store) == []


def test_older_than_removes_unused_documents_whatever_the_size(
    store: Store, synth: SynthStore
) -> None:
    synth.add_document(doc_id(0), [content(0)], at=NOW - 8 * DAY)
    synth.add_document(doc_id(1), [content(1)], at=NOW - 6 * DAY)
    synth.add_document(doc_id(2), [content(2)], at=NOW - 9 * DAY)
    record_use(store, doc_id(2), now=NOW - 10 * 60)
    report = cleanup(store, max_bytes=10**12, older_than=7 * DAY)
    assert [r.document_id for r in report.removed] == [doc_id(0)]
    assert store.cached_ids() == {doc_id(1), doc_id(2)}


def _snapshot(home: Path) -> dict[str, tuple[int, int, float]]:
    snap = {}
    for root, dirs, files in os.walk(home):
        for name in dirs + files:
            st = os.lstat(os.path.join(root, name))
            snap[os.path.join(root, name)] = (st.st_ino, st.st_nlink, st.st_mtime)
    return snap


def test_dry_run_changes_nothing_and_predicts_the_real_run(store: Store, synth: SynthStore) -> None:
    for n in range(12):
        chunks = [content(f"{n}-{i}") for i in range(3)] + [content(f"shared {n % 4}")]
        synth.add_document(doc_id(n), chunks, at=T0 + n * 3600)
    synth.write_blob(content("orphan"), at=T0 - DAY)
    record_use(store, doc_id(0), now=NOW - 60)
    limit = disk_usage(store.home) // 2
    before = _snapshot(store.home)
    dry = cleanup(store, max_bytes=limit, dry_run=True)
    assert _snapshot(store.home) == before
    real = cleanup(store, max_bytes=limit)
    assert dry.dry_run and dry.did_something
    assert [r.to_json() for r in dry.removed] == [r.to_json() for r in real.removed]
    assert dry.size_after == real.size_after == disk_usage(store.home)
    assert dry.blobs_removed == real.blobs_removed


def test_second_cleanup_says_another_is_running(store: Store, synth: SynthStore) -> None:
    synth.add_document(doc_id(0), [content(0)], at=T0)
    with FileLock(store.locks_dir / CLEANUP_LOCK_NAME):
        report = cleanup(store, max_bytes=1)
    assert report.skipped == ANOTHER_RUNNING
    assert store.cached_ids() == {doc_id(0)}


def test_two_cleanup_processes_at_once(store: Store, synth: SynthStore) -> None:
    for n in range(60):
        synth.add_document(doc_id(n), [content(f"{n}-{i}") for i in range(5)], at=T0 + n)
    limit = disk_usage(store.home) // 4
    argv = [sys.executable, "-c", "import sys; from preread.cli import main; sys.exit(main())"]
    argv += ["cleanup", "--home", str(store.home), "--max-size", str(limit), "--json"]
    env = {**os.environ, "PREREAD_PIN_MINUTES": "0"}
    procs = [
        subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    import json

    reports = [json.loads(out) for out, _ in outs]
    removed = [r["documentId"] for rep in reports for r in rep["removed"]]
    assert len(removed) == len(set(removed))  # nothing removed twice
    assert disk_usage(store.home) <= limit
    assert consistency_problems(store) == []
    for rep in reports:
        assert rep["skipped"] in (None, ANOTHER_RUNNING)


def test_file_times_are_in_the_past() -> None:
    assert time.time() > NOW  # the synthetic clock must not be in the future


def test_registrations_survive_eviction(store: Store, synth: SynthStore) -> None:
    synth.add_document(doc_id(0), [content(0)], at=T0)
    registration = store.registration_dir(doc_id(0))
    registration.mkdir(parents=True)
    (registration / "document.json").write_text("{}")
    (registration / "source.pdf").write_bytes(b"%PDF-1.4")
    report = cleanup(store, max_bytes=1)
    assert [r.document_id for r in report.removed] == [doc_id(0)]
    assert store.is_registered(doc_id(0))  # can still be generated live later
    assert (registration / "source.pdf").read_bytes() == b"%PDF-1.4"
    assert not (store.access_dir / doc_id(0)).exists()


def test_a_killed_cleanup_leaves_nothing_behind(store: Store, synth: SynthStore) -> None:
    """A folder detached into trash/ by a cleanup killed before deleting it goes next time,
    and so do the blobs it was the last to use."""
    synth.add_document(doc_id(0), [content("kept")], at=T0 + DAY)
    synth.add_document(doc_id(1), [content("orphaned by the kill")], at=T0)
    trash = store.home / "trash"
    trash.mkdir()
    os.rename(store.doc_dir(doc_id(1)), trash / f"{doc_id(1)}.123.456")
    blob = store.blob_path(_key(content("orphaned by the kill")), "mp3")
    assert blob.stat().st_nlink == 2
    report = cleanup(store, max_bytes=disk_usage(store.home) - 1)
    assert list(trash.iterdir()) == []
    assert not blob.exists()  # unreferenced once the trash was purged: went first
    assert report.removed == [] and store.cached_ids() == {doc_id(0)}
