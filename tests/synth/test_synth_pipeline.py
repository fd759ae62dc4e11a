"""Preprocess + ChunkMaker with the fake (tone) provider: layout, dedup, resume, lock."""

from __future__ import annotations

import itertools
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from preread.audio import decode
from preread.errors import BadRange, BadSettings, Conflict
from preread.fsutil import atomic_link, sha256_file
from preread.generate import ChunkMaker
from preread.lifecycle import run_cleanup
from preread.manifest import Manifest
from preread.model import DocumentText
from preread.preprocess import Progress, document_status, prepare_manifest, run_preprocess
from preread.settings import VoiceSettings
from preread.store import Store
from preread.tts.base import AudioChunk
from preread.tts.fake import FakeProvider

MakeDoc = Callable[..., DocumentText]
TONE = VoiceSettings(provider="fake")
SHARED = [
    "Shared paragraph one is here. It has two sentences.",
    "Shared paragraph two. Also shared between the documents.",
]
PAGES = [
    ["The first page opens. It is short.", SHARED[0]],
    [SHARED[1], "Only in the first document. Really."],
]


def check_folder(store: Store, manifest: Manifest) -> None:
    """Every done chunk: file whole, hash as recorded, decoded length = duration ± 20 ms."""
    for entry in manifest.chunks:
        assert entry.status == "done", entry
        path = store.chunks_dir(manifest.document_id) / entry.file_name
        assert path.stat().st_size == entry.bytes
        assert sha256_file(path) == entry.sha256
        samples, rate = decode(path.read_bytes())
        assert entry.duration is not None
        assert abs(len(samples) / rate - entry.duration) <= 0.020
        assert np.abs(samples.astype(np.int32)).max() > 1000  # not silence
        times = [(s.start, s.end) for s in entry.sentences]
        assert times[0][0] == 0.0
        assert all(a[1] <= b[0] + 1e-6 for a, b in itertools.pairwise(times))
        assert abs(times[-1][1] - entry.duration) < 0.002


@pytest.mark.parametrize("fmt", ["mp3", "opus"])
def test_preprocess_writes_a_complete_folder(store: Store, make_doc: MakeDoc, fmt: str) -> None:
    doc = make_doc(PAGES)
    seen: list[Progress] = []
    summary = run_preprocess(
        store,
        FakeProvider(),
        doc,
        VoiceSettings(provider="fake", format=fmt),
        on_progress=seen.append,
    )
    assert summary.state == "complete" and summary.generated == 4
    manifest = store.require_manifest(doc.document_id)
    assert [c.file_name for c in manifest.chunks] == [
        f"0001__page-001__block-000.{fmt}",
        f"0002__page-001__block-001.{fmt}",
        f"0003__page-002__block-000.{fmt}",
        f"0004__page-002__block-001.{fmt}",
    ]
    assert (manifest.tts_provider, manifest.voice, manifest.format) == ("fake", "tone", fmt)
    check_folder(store, manifest)
    assert seen[-1].done == 4 and seen[-1].state == "complete" and seen[-1].eta == 0.0
    assert store.read_registration(doc.document_id) == doc
    status = document_status(store, doc.document_id, VoiceSettings(provider="fake", format=fmt))
    assert status["state"] == "complete" and status["settingsMatch"] is True
    assert status["bytes"] == sum(c.bytes or 0 for c in manifest.chunks)
    assert document_status(store, doc.document_id, TONE)["settingsMatch"] is (fmt == "mp3")


def test_dedup_across_documents(store: Store, make_doc: MakeDoc) -> None:
    provider = FakeProvider()
    first = make_doc(PAGES, name="a.pdf")
    second = make_doc([[SHARED[1], "Something new here."], [SHARED[0]]], name="b.pdf")
    run_preprocess(store, provider, first, TONE)
    before = len(provider.calls)
    summary = run_preprocess(store, provider, second, TONE)
    assert summary.generated == 1 and summary.reused == 2
    assert provider.calls[before:] == ["Something new here."]
    a = store.require_manifest(first.document_id).chunk_at(1, 1)
    b = store.require_manifest(second.document_id).chunk_at(2, 0)
    assert a is not None and b is not None and a.sha256 == b.sha256
    path_a = store.chunks_dir(first.document_id) / a.file_name
    path_b = store.chunks_dir(second.document_id) / b.file_name
    assert os.stat(path_a).st_ino == os.stat(path_b).st_ino
    assert os.stat(path_a).st_nlink == 3  # blob + two documents
    check_folder(store, store.require_manifest(second.document_id))


def test_rerun_resumes_and_repairs(store: Store, make_doc: MakeDoc) -> None:
    provider = FakeProvider()
    doc = make_doc(PAGES)
    run_preprocess(store, provider, doc, TONE)
    calls = len(provider.calls)
    assert run_preprocess(store, provider, doc, TONE).skipped == 4
    assert len(provider.calls) == calls  # nothing to do
    manifest = store.require_manifest(doc.document_id)
    victim = manifest.chunks[2]
    path = store.chunks_dir(doc.document_id) / victim.file_name
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # damages the chunk (and its blob: same inode)
    summary = run_preprocess(store, provider, doc, TONE)
    assert summary.repaired == 1 and summary.generated == 1 and summary.skipped == 3
    assert provider.calls[calls:] == list(s.text for s in victim.sentences)
    check_folder(store, store.require_manifest(doc.document_id))


def test_settings_change_regenerates_and_switching_back_reuses(
    store: Store, make_doc: MakeDoc
) -> None:
    provider = FakeProvider()
    doc = make_doc(PAGES)
    run_preprocess(store, provider, doc, TONE)
    low = VoiceSettings(provider="fake", voice="low", speed=1.5)
    summary = run_preprocess(store, provider, doc, low)
    assert summary.generated == 4
    manifest = store.require_manifest(doc.document_id)
    assert (manifest.voice, manifest.native_speed) == ("low", 1.5)
    check_folder(store, manifest)
    calls = len(provider.calls)
    back = run_preprocess(store, provider, doc, TONE)
    assert back.reused == 4 and len(provider.calls) == calls
    assert store.require_manifest(doc.document_id).voice == "tone"
    forced = run_preprocess(store, provider, doc, TONE, force=True)
    assert forced.generated == 4 and len(provider.calls) > calls


def test_format_change_removes_old_files(store: Store, make_doc: MakeDoc) -> None:
    doc = make_doc(PAGES)
    run_preprocess(store, FakeProvider(), doc, TONE)
    run_preprocess(store, FakeProvider(), doc, VoiceSettings(provider="fake", format="opus"))
    names = sorted(p.name for p in store.chunks_dir(doc.document_id).iterdir())
    assert names and all(n.endswith(".opus") for n in names)


def test_failures_are_recorded_and_retried(store: Store, make_doc: MakeDoc) -> None:
    doc = make_doc(PAGES)
    bad = FakeProvider(fail=lambda s: s.startswith("Only in"))
    summary = run_preprocess(store, bad, doc, TONE)
    assert summary.state == "failed" and summary.progress.failed == 1
    assert summary.failures[0][0] == 3 and "refused" in summary.failures[0][1]
    manifest = store.require_manifest(doc.document_id)
    assert [c.status for c in manifest.chunks] == ["done", "done", "done", "failed"]
    assert document_status(store, doc.document_id)["state"] == "failed"
    again = run_preprocess(store, FakeProvider(), doc, TONE)
    assert again.state == "complete" and again.generated == 1


def test_cancel_stops_and_keeps_a_valid_manifest(store: Store, make_doc: MakeDoc) -> None:
    doc = make_doc([[f"Paragraph number {i} is here. Second sentence {i}."] for i in range(12)])
    cancel = threading.Event()

    def on_progress(progress: Progress) -> None:
        if progress.done >= 2:
            cancel.set()

    provider = FakeProvider(delay=0.01)
    summary = run_preprocess(store, provider, doc, TONE, on_progress=on_progress, cancel=cancel)
    assert summary.state == "cancelled"
    manifest = store.require_manifest(doc.document_id)
    done = manifest.count("done")
    assert 2 <= done < 12
    assert document_status(store, doc.document_id)["state"] == "partial"
    again = run_preprocess(store, provider, doc, TONE)
    assert again.skipped == done and again.state == "complete"
    check_folder(store, store.require_manifest(doc.document_id))


def test_second_run_conflicts_or_waits(store: Store, make_doc: MakeDoc) -> None:
    doc = make_doc(PAGES)
    held = store.job_lock(doc.document_id).acquire()
    try:
        with pytest.raises(Conflict, match="being preprocessed by another run"):
            run_preprocess(store, FakeProvider(), doc, TONE)
        threading.Timer(0.3, held.release).start()
        started = time.monotonic()
        summary = run_preprocess(store, FakeProvider(), doc, TONE, wait=True)
        assert time.monotonic() - started >= 0.25 and summary.state == "complete"
    finally:
        held.release()


def test_bad_settings_fail_before_any_write(store: Store, make_doc: MakeDoc) -> None:
    doc = make_doc(PAGES)
    expected = "unknown voice 'nope' for provider fake: use tone, low"
    with pytest.raises(BadSettings, match=f"^{re.escape(expected)}$"):
        run_preprocess(store, FakeProvider(), doc, VoiceSettings(provider="fake", voice="nope"))
    assert not store.cache_dir.exists()


def test_page_selection(store: Store, make_doc: MakeDoc) -> None:
    doc = make_doc(PAGES)
    run_preprocess(store, FakeProvider(), doc, TONE, pages=[2])
    manifest = store.require_manifest(doc.document_id)
    assert [(c.index, c.page, c.file_name[:4]) for c in manifest.chunks] == [
        (0, 2, "0001"),
        (1, 2, "0002"),
    ]
    with pytest.raises(BadRange):
        run_preprocess(store, FakeProvider(), doc, TONE, pages=[9])


def test_a_page_selection_keeps_the_whole_registration(store: Store, make_doc: MakeDoc) -> None:
    doc = make_doc(PAGES)
    run_preprocess(store, FakeProvider(), doc, TONE)
    run_preprocess(store, FakeProvider(), doc, TONE, pages=[2])
    registered = store.read_registration(doc.document_id)
    assert registered is not None and len(registered.blocks) == len(doc.blocks) == 4


def test_list_all_lists_every_block_and_generates_the_pages_asked(
    store: Store, make_doc: MakeDoc
) -> None:
    doc = make_doc(PAGES)
    summary = run_preprocess(store, FakeProvider(), doc, TONE, pages=[2], list_all=True)
    assert (summary.state, summary.progress.total, summary.generated) == ("complete", 2, 2)
    manifest = store.require_manifest(doc.document_id)
    assert [(c.index, c.page, c.status) for c in manifest.chunks] == [
        (0, 1, "pending"),
        (1, 1, "pending"),
        (2, 2, "done"),
        (3, 2, "done"),
    ]
    assert document_status(store, doc.document_id)["state"] == "partial"


def test_chunk_maker_make_streams_and_generates_once(store: Store, make_doc: MakeDoc) -> None:
    doc = make_doc(PAGES)
    provider = FakeProvider(delay=0.05)
    voice = provider.resolve(TONE)
    prepare_manifest(store, doc, voice)
    maker = ChunkMaker(store, provider)
    heard: list[AudioChunk] = []
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(maker.make(doc.document_id, 1, voice)))
        for _ in range(3)
    ]
    entry = maker.make(doc.document_id, 0, voice, on_audio=heard.append)
    assert [c.text for c in heard] == ["The first page opens.", "It is short."]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(provider.calls) == 4  # chunk 1 synthesized once for three callers
    assert len(maker.flights) == 0  # flights do not pile up in a long-running server
    assert entry.status == "done" and all(r.sha256 == results[0].sha256 for r in results)
    manifest = store.require_manifest(doc.document_id)
    assert [c.status for c in manifest.chunks] == ["done", "done", "pending", "pending"]
    assert manifest.chunks[0].sentences[1].start > 0


def test_make_loses_to_a_settings_change_made_meanwhile(store: Store, make_doc: MakeDoc) -> None:
    doc = make_doc(PAGES)
    provider = FakeProvider()
    tone = provider.resolve(TONE)
    low = provider.resolve(VoiceSettings(provider="fake", voice="low"))
    prepare_manifest(store, doc, tone)
    switched: list[bool] = []

    def switch_settings(chunk: AudioChunk) -> None:
        if not switched:  # a preprocess run for other settings starts while we synthesize
            prepare_manifest(store, doc, low)
            switched.append(True)

    with pytest.raises(Conflict, match="changed while its chunk was being made"):
        ChunkMaker(store, provider).make(doc.document_id, 0, tone, on_audio=switch_settings)
    manifest = store.require_manifest(doc.document_id)
    assert manifest.voice == "low" and manifest.chunks[0].status == "pending"
    assert not (store.chunks_dir(doc.document_id) / manifest.chunks[0].file_name).exists()
    with pytest.raises(Conflict, match="other voice settings"):
        ChunkMaker(store, provider).make(doc.document_id, 0, tone)


def test_relinking_the_same_file_leaves_no_temp(tmp_path: Path) -> None:
    source, target = tmp_path / "blob.mp3", tmp_path / "chunk.mp3"
    source.write_bytes(b"audio")
    atomic_link(source, target)
    atomic_link(source, target)  # already the same inode: rename() is a no-op
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blob.mp3", "chunk.mp3"]


def test_chunks_and_manifest_are_readable_by_others(store: Store, make_doc: MakeDoc) -> None:
    doc = make_doc(PAGES)
    run_preprocess(store, FakeProvider(), doc, TONE)
    paths = [store.manifest_path(doc.document_id), *store.chunks_dir(doc.document_id).iterdir()]
    assert all(p.stat().st_mode & 0o777 == 0o644 for p in paths)


def test_a_blob_chosen_for_reuse_survives_a_cleanup_until_linked(
    store: Store, make_doc: MakeDoc
) -> None:
    """Reuse marks the blob fresh, so a concurrent cleanup keeps it (grace period)."""
    provider = FakeProvider()
    doc = make_doc(PAGES)
    run_preprocess(store, provider, doc, TONE)
    run_preprocess(store, provider, doc, VoiceSettings(provider="fake", voice="low"))
    tone = provider.resolve(TONE)
    maker = ChunkMaker(store, provider)
    unreferenced = [path for path in store.blobs_dir.rglob("*.mp3") if path.stat().st_nlink == 1]
    assert len(unreferenced) == 4  # the "tone" audio, kept for switching back
    day_ago = time.time() - 86400
    for path in unreferenced:
        for part in (path, path.with_suffix(".json")):  # the audio and its sidecar
            os.utime(part, (day_ago, day_ago))
    entry = store.require_manifest(doc.document_id).chunks[0]
    prepared = maker.synthesize(entry, tone)  # picks the stored blob, not the provider
    assert prepared.blob is not None
    chosen = maker.blobs.audio_path(prepared.blob.key, "mp3")

    report = run_cleanup(store, max_bytes=1, pin_minutes=0)

    assert report.blobs_removed == 3  # the other old, unreferenced blobs went
    assert chosen.exists()
    maker.store_chunk(doc.document_id, prepared, tone)  # and it can still be linked
