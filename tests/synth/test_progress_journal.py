"""The progress journal: O(1) progress writes, replayed after a kill, folded at the end."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from preread import journal
from preread.fsutil import sha256_file
from preread.generate import ChunkMaker, record_entries
from preread.manifest import Manifest, apply_entry, manifest_matches
from preread.model import DocumentText
from preread.preprocess import prepare_manifest, run_preprocess
from preread.settings import VoiceSettings
from preread.store import Store
from preread.tts.fake import FakeProvider

MakeDoc = Callable[..., DocumentText]
PAGES = [[f"Page {p} block {b} says something. It ends here." for b in range(3)] for p in range(6)]

KILLED_RUN = textwrap.dedent(
    """
    import json, os, signal, sys
    from pathlib import Path
    from preread.model import DocumentText
    from preread.preprocess import run_preprocess
    from preread.settings import VoiceSettings
    from preread.store import Store
    from preread.tts.fake import FakeProvider

    stop_after = int(sys.argv[2])

    def progress(p):
        if p.done >= stop_after:  # the journal has these lines: die without any cleanup
            os.kill(os.getpid(), signal.SIGKILL)

    run_preprocess(Store(Path(sys.argv[1])), FakeProvider(),
                   DocumentText.from_json(json.loads(sys.argv[3])), VoiceSettings(provider="fake"),
                   on_progress=progress)
    """
)


def without_time(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "updatedAt"}


def test_a_killed_runs_journal_is_replayed(store: Store, make_doc: MakeDoc) -> None:
    document = make_doc(PAGES)
    doc = document.document_id
    process = subprocess.run(
        [
            sys.executable,
            "-c",
            KILLED_RUN,
            str(store.home),
            "5",
            json.dumps(document.to_json()),
        ],
        capture_output=True,
        timeout=60,
    )
    assert process.returncode == -signal.SIGKILL, process.stderr.decode()
    on_disk = Manifest.loads(store.manifest_path(doc).read_bytes())  # valid, not folded
    assert on_disk.count("done") == 0
    lines = store.journal_path(doc).read_bytes().splitlines()
    assert len(lines) - 1 >= 5  # the header, then one line per finished chunk
    seen = store.read_manifest(doc)  # readers replay the journal
    assert seen is not None and seen.count("done") == len(lines) - 1
    for entry in seen.chunks:
        if entry.status == "done":
            assert sha256_file(store.chunks_dir(doc) / entry.file_name) == entry.sha256

    provider = FakeProvider()
    summary = run_preprocess(store, provider, document, VoiceSettings(provider="fake"))
    assert summary.state == "complete"
    assert summary.skipped == len(lines) - 1  # recorded chunks were not made again
    assert not store.journal_path(doc).exists()  # folded at the end
    final = Manifest.loads(store.manifest_path(doc).read_bytes())
    assert final.count("done") == len(final.chunks)
    for entry in final.chunks:
        assert sha256_file(store.chunks_dir(doc) / entry.file_name) == entry.sha256


def test_a_torn_last_line_is_ignored_and_closed(store: Store, make_doc: MakeDoc) -> None:
    document = make_doc(PAGES[:2])
    provider = FakeProvider()
    voice = provider.resolve(VoiceSettings(provider="fake"))
    prepare_manifest(store, document, voice)
    maker = ChunkMaker(store, provider)
    doc = document.document_id
    first, second = (
        maker.store_chunk(doc, maker.synthesize(e, voice), voice)
        for e in store.require_manifest(doc).chunks[:2]
    )
    assert record_entries(store, doc, voice, [first]) == 1
    with open(store.journal_path(doc), "ab") as handle:
        handle.write(b'{"index":1,"fileName":"torn')  # a writer killed mid-line
    assert store.require_manifest(doc).count("done") == 1
    assert record_entries(store, doc, voice, [second]) == 1
    seen = store.require_manifest(doc)
    assert [c.status for c in seen.chunks[:3]] == ["done", "done", "pending"]


def test_the_folded_manifest_equals_the_old_whole_rewrite(
    tmp_path: Path, make_doc: MakeDoc
) -> None:
    document = make_doc(PAGES)
    doc = document.document_id
    failing = "Page 2 block 1 says something."
    provider = FakeProvider(fail=lambda s: s == failing)
    voice = provider.resolve(VoiceSettings(provider="fake"))
    old, new = Store(tmp_path / "old"), Store(tmp_path / "new")
    for store in (old, new):
        prepare_manifest(store, document, voice)
    maker = ChunkMaker(new, provider)
    results = []
    for entry in new.require_manifest(doc).chunks:
        try:
            results.append(maker.store_chunk(doc, maker.synthesize(entry, voice), voice))
        except Exception as exc:  # the fake provider's refusal: a failed chunk
            entry.status, entry.error = "failed", str(exc)
            results.append(entry)
    redone = replace(results[3])
    redone.reset()  # a done chunk found bad: recorded as pending again, then done
    batches = [results[:4], [redone], results[4:9], [results[3]], results[9:]]

    def old_record(batch: list[Any]) -> None:  # what record_entries did before the journal
        def change(manifest: Manifest) -> None:
            if manifest_matches(manifest, voice):
                for entry in batch:
                    apply_entry(manifest, entry)

        old.update_manifest(doc, change)

    for batch in batches:
        old_record(batch)
        assert record_entries(new, doc, voice, batch) == len(batch)
    replayed = new.read_manifest_json(doc)
    assert new.journal_path(doc).exists()
    assert new.fold_journal(doc) == sum(len(b) for b in batches)
    assert not new.journal_path(doc).exists()
    folded = json.loads(new.manifest_path(doc).read_bytes())
    expected = json.loads(old.manifest_path(doc).read_bytes())
    assert without_time(folded) == without_time(expected)
    assert replayed is not None and without_time(replayed) == without_time(expected)
    assert [c["status"] for c in folded["chunks"]].count("failed") == 1
    assert all(c["status"] != "pending" for c in folded["chunks"])


def test_fold_keeps_fields_it_does_not_know(store: Store, make_doc: MakeDoc) -> None:
    document = make_doc(PAGES[:1])
    doc = document.document_id
    provider = FakeProvider()
    voice = provider.resolve(VoiceSettings(provider="fake"))
    prepare_manifest(store, document, voice)
    data = json.loads(store.manifest_path(doc).read_bytes())
    data["language"] = "en"
    data["chunks"][0]["words"] = [{"text": "Page", "start": 0.0}]
    raw = journal.dumps_manifest(data)
    store.manifest_path(doc).write_bytes(raw)
    maker = ChunkMaker(store, provider)
    entry = store.require_manifest(doc).chunks[0]
    done = maker.store_chunk(doc, maker.synthesize(entry, voice), voice)
    assert record_entries(store, doc, voice, [done]) == 1
    store.fold_journal(doc)
    folded = json.loads(store.manifest_path(doc).read_bytes())
    assert folded["language"] == "en"
    assert folded["chunks"][0]["words"] == [{"text": "Page", "start": 0.0}]
    assert folded["chunks"][0]["sha256"] == done.sha256


def test_a_stale_journal_never_applies_to_a_rewritten_manifest(
    store: Store, make_doc: MakeDoc
) -> None:
    document = make_doc(PAGES[:2])
    doc = document.document_id
    provider = FakeProvider()
    voice = provider.resolve(VoiceSettings(provider="fake"))
    prepare_manifest(store, document, voice)
    maker = ChunkMaker(store, provider)
    entry = store.require_manifest(doc).chunks[0]
    done = maker.store_chunk(doc, maker.synthesize(entry, voice), voice)
    assert record_entries(store, doc, voice, [done]) == 1
    stale = store.journal_path(doc).read_bytes()
    other = provider.resolve(VoiceSettings(provider="fake", voice="low"))
    prepare_manifest(store, document, other)  # other settings: all pending again
    assert not store.journal_path(doc).exists()
    store.journal_path(doc).write_bytes(stale)  # as if killed before removing it
    assert store.require_manifest(doc).count("done") == 0
    assert record_entries(store, doc, voice, [done]) == 0  # not for this manifest
    assert store.journal_path(doc).read_bytes() == stale
    fresh = maker.store_chunk(doc, maker.synthesize(entry, other), other)
    assert record_entries(store, doc, other, [fresh]) == 1  # a new journal replaces it
    lines = store.journal_path(doc).read_bytes().splitlines()
    digest = hashlib.sha256(store.manifest_path(doc).read_bytes()).hexdigest()
    assert json.loads(lines[0]) == {"journal": 1, "manifest": digest} and len(lines) == 2
    assert store.require_manifest(doc).chunks[0].sha256 == fresh.sha256 != done.sha256


def test_progress_writes_do_not_rewrite_the_manifest(store: Store, make_doc: MakeDoc) -> None:
    document = make_doc(PAGES)
    doc = document.document_id
    stamps: list[tuple[int, int]] = []

    def watch(_: object) -> None:
        st = os.stat(store.manifest_path(doc))
        stamps.append((st.st_ino, st.st_mtime_ns))

    run_preprocess(
        store, FakeProvider(), document, VoiceSettings(provider="fake"), on_progress=watch
    )
    assert len(set(stamps[:-1])) == 1  # one manifest during the run: only the journal grew
    assert stamps[-1] != stamps[0]  # and the fold at the end
    assert store.require_manifest(doc).count("done") == len(document.blocks)


@pytest.mark.parametrize("lines", [0, 1])
def test_parse_lines_keeps_the_offset_of_whole_lines(lines: int) -> None:
    raw = b'{"journal":1}\n' * lines + b'{"index":'
    records, used = journal.parse_lines(raw)
    assert len(records) == lines and used == 14 * lines


def test_folding_an_indented_manifest_of_an_older_preread(store: Store, make_doc: MakeDoc) -> None:
    document = make_doc(PAGES[:3])
    doc = document.document_id
    provider = FakeProvider()
    voice = provider.resolve(VoiceSettings(provider="fake"))
    prepare_manifest(store, document, voice)
    data = json.loads(store.manifest_path(doc).read_bytes())
    data["chapters"] = [{"title": 'One, "quoted" ]}', "page": 1}]
    old_style = json.dumps(data, ensure_ascii=False, indent=1).encode()  # as written before
    store.manifest_path(doc).write_bytes(old_style)
    maker = ChunkMaker(store, provider)
    entries = store.require_manifest(doc).chunks
    made = [maker.store_chunk(doc, maker.synthesize(e, voice), voice) for e in entries[::2]]
    assert record_entries(store, doc, voice, made) == len(made)
    expected = store.read_manifest_json(doc)  # the journal replayed onto parsed JSON
    assert store.fold_journal(doc) == len(made)
    folded = json.loads(store.manifest_path(doc).read_bytes())
    assert expected is not None and without_time(folded) == without_time(expected)
    assert folded["chapters"] == data["chapters"]
    assert [c["status"] == "done" for c in folded["chunks"]] == [
        i % 2 == 0 for i in range(len(entries))
    ]
