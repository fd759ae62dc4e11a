"""A done chunk's bytes are what its manifest says, however many makers race for a blob."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from pathlib import Path

from preread.blobs import BlobStore, blob_key
from preread.flights import Flights
from preread.fsutil import sha256_file
from preread.generate import ChunkMaker, store_audio
from preread.manifest import Manifest, SentenceTime
from preread.model import DocumentText
from preread.preprocess import prepare_manifest, run_preprocess
from preread.settings import VoiceSettings
from preread.store import Store
from preread.tts.fake import FakeProvider

MakeDoc = Callable[..., DocumentText]
REPEATED = "The same paragraph comes back. It is repeated on every page."
OPUS = VoiceSettings(provider="fake", format="opus")  # every Opus encode differs (Ogg serial)


def mismatched(store: Store, manifest: Manifest) -> list[int]:
    """Indexes of done chunks whose file is not what the manifest recorded."""
    bad = []
    for entry in manifest.chunks:
        if entry.status != "done":
            continue
        path = store.chunks_dir(manifest.document_id) / entry.file_name
        if path.stat().st_size != entry.bytes or sha256_file(path) != entry.sha256:
            bad.append(entry.index)
    return bad


def test_workers_racing_for_a_repeated_block_record_what_they_linked(
    store: Store, make_doc: MakeDoc
) -> None:
    """Four workers synthesize a block that repeats 16 times: one blob, 16 true chunks."""
    doc = make_doc([[REPEATED, f"Page {n} has its own words."] for n in range(16)])
    provider = FakeProvider(delay=0.01)
    provider.concurrency = 4  # type: ignore[attr-defined]
    summary = run_preprocess(store, provider, doc, OPUS)
    assert summary.state == "complete"
    manifest = store.read_manifest(doc.document_id)
    assert manifest is not None
    assert mismatched(store, manifest) == []
    repeated = [c for c in manifest.chunks if c.text == REPEATED]
    assert len({c.sha256 for c in repeated}) == 1  # one blob for the repeated block
    assert provider.calls.count("The same paragraph comes back.") == 1  # made once


def test_a_stored_blob_is_never_replaced(store: Store) -> None:
    blobs = BlobStore(store)
    voice = FakeProvider().resolve(OPUS)
    key = blob_key("Some text.", voice)
    pcm = b"\x00\x10" * 22050
    first, first_bytes = store_audio(
        blobs, key, pcm, 22050, [SentenceTime("Some text.", 0, 1)], "opus"
    )
    path = blobs.audio_path(key, "opus")
    inode = path.stat().st_ino
    second, second_bytes = store_audio(
        blobs, key, pcm, 22050, [SentenceTime("Some text.", 0, 1)], "opus"
    )
    assert second == first and second_bytes == first_bytes  # the loser uses the stored blob
    assert path.stat().st_ino == inode and sha256_file(path) == first.sha256


def test_a_blob_whose_sidecar_does_not_match_is_stored_anew(store: Store, tmp_path: Path) -> None:
    """Damaged audio (or a store written before blobs were immutable): the blob's name
    gets a new encode; a chunk linked to the old one keeps its bytes."""
    blobs = BlobStore(store)
    voice = FakeProvider().resolve(OPUS)
    key = blob_key("Other text.", voice)
    old, old_bytes = store_audio(blobs, key, b"\x00\x10" * 22050, 22050, [], "opus")
    chunk = store.chunks_dir("a" * 64) / "0000.opus"
    blobs.link(old, chunk)
    wrong = dict(old.to_json(), sha256="0" * 64)
    blobs.sidecar_path(key).write_text(json.dumps(wrong))
    assert blobs.describe(key, "opus") is None  # not trusted: removed
    new, new_bytes = store_audio(blobs, key, b"\x00\x10" * 22050, 22050, [], "opus")
    assert new.sha256 == hashlib.sha256(new_bytes).hexdigest() != old.sha256
    assert blobs.read(key, "opus") == new
    assert chunk.read_bytes() == old_bytes  # the chunk linked earlier: unchanged


def test_makers_of_one_content_share_one_flight(store: Store, make_doc: MakeDoc) -> None:
    """A live ``make`` and a preprocess run of another document, same text, same flights:
    the text is synthesized once and both chunks hold the one blob."""
    flights: Flights[str] = Flights()
    provider = FakeProvider(delay=0.05)
    first = make_doc([[REPEATED]], name="first.pdf")
    second = make_doc([[REPEATED]], name="second.pdf")
    voice = provider.resolve(OPUS)
    store.register(first, None)
    prepare_manifest(store, first, voice)  # what a chunk GET of an unseen document does
    maker = ChunkMaker(store, provider, flights)
    errors: list[BaseException] = []

    def live() -> None:
        try:
            maker.make(first.document_id, 0, voice)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=live)
    thread.start()
    run_preprocess(store, provider, second, OPUS, flights=flights)
    thread.join()
    assert errors == []
    assert provider.calls.count("The same paragraph comes back.") == 1
    one = store.read_manifest(first.document_id)
    two = store.read_manifest(second.document_id)
    assert one is not None and two is not None
    assert one.chunks[0].sha256 == two.chunks[0].sha256
    assert mismatched(store, one) == [] and mismatched(store, two) == []


def test_force_renews_the_blob_once_and_keeps_every_chunk_true(
    store: Store, make_doc: MakeDoc
) -> None:
    doc = make_doc([[REPEATED] for _ in range(6)])
    provider = FakeProvider()
    provider.concurrency = 3  # type: ignore[attr-defined]
    run_preprocess(store, provider, doc, OPUS)
    before = store.read_manifest(doc.document_id)
    assert before is not None
    calls = len(provider.calls)
    run_preprocess(store, provider, doc, OPUS, force=True)
    after = store.read_manifest(doc.document_id)
    assert after is not None
    assert mismatched(store, after) == []
    assert len(provider.calls) - calls == 2  # one block of two sentences, made once more
    assert after.chunks[0].sha256 != before.chunks[0].sha256  # a new encode
