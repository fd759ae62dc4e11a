"""Registrations (blocks + uploaded source files) count against the store limit, and
cleanup evicts those of long-unused documents that have no audio."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from synthstore import T0, SynthStore, content, doc_id

from preread.cli import main
from preread.lifecycle import run_cleanup, store_stats
from preread.model import Block, DocumentText
from preread.store import Store

DAY = 86400.0
UPLOAD = 300 * 1024  # an uploaded file: 300 KiB


def register(store: Store, document_id: str, *, at: float, size: int = UPLOAD) -> None:
    block = Block(0, 1, 0, "A sentence.", ("A sentence.",))
    document = DocumentText(document_id, "up.pdf", f"Upload {document_id[:4]}", 1, blocks=(block,))
    store.register(document, b"%PDF-1.4\n" + os.urandom(size))
    for path in (
        *store.registration_dir(document_id).iterdir(),
        store.registration_dir(document_id),
    ):
        os.utime(path, (at, at))


def test_registrations_count_against_the_limit(store: Store) -> None:
    register(store, doc_id("upload"), at=T0)
    stats = store_stats(store, max_bytes=10**9)
    assert stats["totalSize"] >= UPLOAD
    report = run_cleanup(store, max_bytes=UPLOAD // 2, pin_minutes=30, now=T0 + DAY)
    assert [(r.document_id, r.kind) for r in report.removed] == [(doc_id("upload"), "registration")]
    assert report.freed_bytes >= UPLOAD and report.size_after < UPLOAD // 2
    assert not store.registration_dir(doc_id("upload")).exists()
    assert store.known_ids() == set()


def test_a_registration_stays_while_its_document_has_audio(store: Store) -> None:
    synth = SynthStore(store)
    with_audio, without = doc_id("with audio"), doc_id("without")
    synth.add_document(with_audio, [content("a", pages=64)], at=T0 + 2 * DAY)
    register(store, with_audio, at=T0)  # registered long before its audio was last used
    register(store, without, at=T0 + DAY)
    limit = store_stats(store, max_bytes=1)["totalSize"] - UPLOAD  # one upload too many
    report = run_cleanup(store, max_bytes=limit, pin_minutes=30, now=T0 + 3 * DAY)
    assert [(r.document_id, r.kind) for r in report.removed] == [(without, "registration")]
    assert store.is_registered(with_audio) and store.doc_dir(with_audio).is_dir()
    # once its audio goes (least recently used), its registration follows if still over
    report = run_cleanup(store, max_bytes=1, pin_minutes=30, now=T0 + 3 * DAY)
    assert [(r.document_id, r.kind) for r in report.removed] == [
        (with_audio, "audio"),
        (with_audio, "registration"),
    ]
    assert store.known_ids() == set()


def test_recent_registrations_are_pinned_and_dry_runs_change_nothing(store: Store) -> None:
    register(store, doc_id("fresh"), at=T0)
    report = run_cleanup(store, max_bytes=1, pin_minutes=30, now=T0 + 60)
    assert not report.removed and [k.reason for k in report.kept] == ["pinned"]
    dry = run_cleanup(store, max_bytes=1, pin_minutes=30, now=T0 + DAY, dry_run=True)
    assert [(r.document_id, r.kind) for r in dry.removed] == [(doc_id("fresh"), "registration")]
    assert store.is_registered(doc_id("fresh"))


def test_cleanup_older_than_removes_long_unused_uploads(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    old, recent = doc_id("old upload"), doc_id("recent upload")
    register(store, old, at=T0)
    register(store, recent, at=T0)
    for path in (store.registration_dir(recent) / "document.json",):
        os.utime(path)  # used now
    code = main(["cleanup", "--home", str(store.home), "--older-than", "30d"])
    out, _ = capsys.readouterr()
    assert code == 0
    assert (
        f'removed {old[:12]} "Upload {old[:4]}" (registration and uploaded file, no audio;' in out
    )
    assert not store.is_registered(old) and store.is_registered(recent)
    code = main(["cleanup", "--home", str(store.home), "--older-than", "30d", "--json"])
    assert code == 0 and json.loads(capsys.readouterr()[0])["removed"] == []


def test_an_upload_through_the_library_is_counted(tmp_path: Path, store: Store) -> None:
    from preread.library import Library
    from preread.settings import Settings

    sample = Path(__file__).resolve().parents[2] / "examples" / "sample.pdf"
    library = Library(Settings(home=store.home))
    document, new = library.add(sample.read_bytes(), "sample.pdf")
    assert new and store.source_path(document.document_id).is_file()
    assert library.stats()["totalSize"] >= sample.stat().st_size
