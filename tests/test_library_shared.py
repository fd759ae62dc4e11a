"""Two libraries (two disks) sharing one tier: the in-memory fake and a directory."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

import pytest

from preread.blobs import blob_key
from preread.library import Library
from preread.settings import Settings, VoiceSettings
from preread.tiers import DiskTier, MemoryTier, ObjectTier, TierUnavailable
from preread.tts.fake import FakeProvider
from preread.voice import ResolvedVoice
from test_library import DOC_ID, _document


def _library(tmp_path: Path, name: str, tier: ObjectTier) -> tuple[Library, FakeProvider]:
    home = tmp_path / name
    home.mkdir()
    provider = FakeProvider()
    settings = Settings(home=home, voice=VoiceSettings(provider="fake"))
    return Library(settings, provider=provider, shared=tier), provider


@pytest.fixture
def tier() -> MemoryTier:
    return MemoryTier()


def _flush(library: Library) -> None:
    assert library.shared is not None
    assert library.shared.flush(10.0)


def test_a_document_made_by_a_is_served_by_b_without_synthesis(
    tmp_path: Path, tier: MemoryTier
) -> None:
    a, _ = _library(tmp_path, "a", tier)
    b, b_engine = _library(tmp_path, "b", tier)
    a.pregenerate(_document())
    _flush(a)
    made = a.manifest(DOC_ID)
    assert made is not None
    for entry in made.chunks:
        assert b.restore_chunk(DOC_ID, index=entry.index, page=None, block=None)
        data = b.chunk_path(DOC_ID, entry).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry.sha256
    assert b_engine.calls == []
    assert b.registration(DOC_ID) is not None
    assert b.status(DOC_ID)["state"] == "complete"


def test_pregenerate_on_b_reuses_what_a_shared(tmp_path: Path, tier: MemoryTier) -> None:
    a, _ = _library(tmp_path, "a", tier)
    b, b_engine = _library(tmp_path, "b", tier)
    a.pregenerate(_document())
    _flush(a)
    summary = b.pregenerate(_document())
    assert (summary.state, summary.generated, summary.reused) == ("complete", 0, 3)
    assert b_engine.calls == []


def test_a_live_chunk_of_a_is_not_synthesized_again_by_b(tmp_path: Path, tier: MemoryTier) -> None:
    a, a_engine = _library(tmp_path, "a", tier)
    b, b_engine = _library(tmp_path, "b", tier)
    a.register(_document())
    target, voice = a.chunk_target(DOC_ID, None, index=1, page=None, block=None)
    a.ensure_chunk(DOC_ID, target.index, voice)
    _flush(a)
    assert a_engine.calls == ["A second block on page one."]
    # b never saw the document: its registration and manifest come from the tier
    manifest = b.manifest(DOC_ID)
    assert manifest is not None
    target, voice = b.chunk_target(DOC_ID, manifest, index=1, page=None, block=None)
    entry = b.ensure_chunk(DOC_ID, target.index, voice)
    assert entry.status == "done"
    assert b_engine.calls == []
    # and what b makes, a gets
    b.ensure_chunk(DOC_ID, 2, voice)
    _flush(b)
    assert a.speech("Page two speaks once.", voice).cache == "HIT"
    assert a_engine.calls == ["A second block on page one."]


def test_a_manifest_put_keeps_what_the_tier_lists_as_done(
    tmp_path: Path, tier: MemoryTier
) -> None:
    a, _ = _library(tmp_path, "a", tier)
    a.pregenerate(_document())
    _flush(a)
    b, _ = _library(tmp_path, "b", tier)
    b.store.register(_document(), None)  # b knows the document, not yet its audio
    target, voice = b.chunk_target(DOC_ID, None, index=0, page=None, block=None)
    b.ensure_chunk(DOC_ID, target.index, voice)  # b's manifest: one chunk of three done
    _flush(b)
    c, c_engine = _library(tmp_path, "c", tier)
    adopted = c.manifest(DOC_ID)
    assert adopted is not None and adopted.count("done") == 3
    for index in range(3):
        assert c.restore_chunk(DOC_ID, index=index, page=None, block=None)
    assert c_engine.calls == []


def test_speech_is_shared(tmp_path: Path, tier: MemoryTier) -> None:
    a, _ = _library(tmp_path, "a", tier)
    b, b_engine = _library(tmp_path, "b", tier)
    voice = a.resolve_voice()
    first = a.speech("Shared words.", voice)
    assert first.cache == "MISS"
    _flush(a)
    again = b.speech("Shared words.", voice)
    assert again.cache == "HIT" and again.data == first.data and b_engine.calls == []


def test_a_tier_that_is_down_breaks_nothing_and_catches_up(
    tmp_path: Path, tier: MemoryTier
) -> None:
    a, _ = _library(tmp_path, "a", tier)
    tier.reachable = False
    summary = a.pregenerate(_document())
    assert summary.state == "complete"
    assert a.shared is not None
    assert not a.shared.flush(0.5)
    health = a.tier_health()
    assert health is not None
    assert health["state"] == "unreachable" and health["pendingWrites"] > 0
    assert "unreachable" in (health["lastError"] or "")
    # reads fall back: b synthesizes what it cannot fetch
    b, b_engine = _library(tmp_path, "b", tier)
    b.pregenerate(_document())
    assert len(b_engine.calls) == 4
    tier.reachable = True
    _flush(a)
    assert a.tier_health()["pendingWrites"] == 0  # type: ignore[index]
    c, c_engine = _library(tmp_path, "c", tier)
    assert c.pregenerate(_document()).generated == 0
    assert c_engine.calls == []


def test_delete_removes_the_shared_manifest_and_registration(
    tmp_path: Path, tier: MemoryTier
) -> None:
    a, _ = _library(tmp_path, "a", tier)
    a.pregenerate(_document())
    _flush(a)
    assert any(name.endswith("tts.meta.json") for name in tier.objects)
    a.delete(DOC_ID)
    assert not any(DOC_ID in name for name in tier.objects)
    assert any(name.startswith("blobs/") for name in tier.objects)  # bucket retention
    b, _ = _library(tmp_path, "b", tier)
    assert b.registration(DOC_ID) is None and b.manifest(DOC_ID) is None


def test_a_corrupt_shared_blob_is_not_used(tmp_path: Path, tier: MemoryTier) -> None:
    a, _ = _library(tmp_path, "a", tier)
    a.pregenerate(_document())
    _flush(a)
    for name in list(tier.objects):
        if name.startswith("blobs/") and not name.endswith(".json"):
            tier.objects[name] = b"not the audio" + tier.objects[name][13:]
    b, b_engine = _library(tmp_path, "b", tier)
    assert b.pregenerate(_document()).generated == 3
    assert len(b_engine.calls) == 4


def test_disk_tier_keeps_blobs_immutable(tmp_path: Path) -> None:
    tier = DiskTier(tmp_path / "bucket")
    assert tier.put("blobs/ab/x.mp3", b"one")
    assert not tier.put("blobs/ab/x.mp3", b"two")
    assert tier.get("blobs/ab/x.mp3") == b"one"
    assert tier.put("m/tts.meta.json", b"1") and tier.put("m/tts.meta.json", b"2", replace=True)
    assert tier.get("m/tts.meta.json") == b"2"
    tier.delete("m/tts.meta.json")
    assert tier.get("m/tts.meta.json") is None
    with pytest.raises(ValueError):
        tier.get("../escape")


def test_two_libraries_share_a_directory_tier(tmp_path: Path) -> None:
    tier = DiskTier(tmp_path / "shared")
    a, _ = _library(tmp_path, "a", tier)
    b, b_engine = _library(tmp_path, "b", tier)
    a.pregenerate(_document())
    _flush(a)
    assert b.pregenerate(_document()).reused == 3
    assert b_engine.calls == []


def test_memory_tier_unreachable_raises() -> None:
    tier = MemoryTier()
    tier.reachable = False
    with pytest.raises(TierUnavailable):
        tier.get("x")
    started = time.monotonic()
    with pytest.raises(TierUnavailable):
        tier.put("x", b"")
    assert time.monotonic() - started < 1


def test_two_instances_asked_for_the_same_missing_chunk_synthesize_it_once(
    tmp_path: Path, tier: MemoryTier
) -> None:
    homes = []
    for name in ("a", "b"):
        home = tmp_path / name
        home.mkdir()
        engine = FakeProvider(delay=0.3)  # slow enough for both to ask while it is made
        settings = Settings(home=home, voice=VoiceSettings(provider="fake"))
        homes.append((Library(settings, provider=engine, shared=tier), engine))
    (a, a_engine), (_, b_engine) = homes
    a.register(_document())
    _flush(a)
    targets = [lib.chunk_target(DOC_ID, lib.manifest(DOC_ID), index=0, page=None, block=None)
               for lib, _ in homes]  # fmt: skip
    entries: dict[str, str | None] = {}

    def ask(name: str, library: Library, voice: ResolvedVoice) -> None:
        entries[name] = library.ensure_chunk(DOC_ID, 0, voice).sha256

    threads = [
        threading.Thread(target=ask, args=(name, lib, voice))
        for name, (lib, _), (_, voice) in zip("ab", homes, targets, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert entries["a"] is not None and entries["a"] == entries["b"]
    assert len(a_engine.calls) + len(b_engine.calls) == 2  # the block's two sentences, once
    assert not [name for name in tier.objects if name.startswith("claims/")]


def test_a_claim_whose_maker_died_is_taken_over(tmp_path: Path, tier: MemoryTier) -> None:
    a, a_engine = _library(tmp_path, "a", tier)
    assert a.shared is not None
    a.shared.claim_ttl = 0.5
    a.register(_document())
    target, voice = a.chunk_target(DOC_ID, None, index=0, page=None, block=None)
    key = blob_key(target.text, voice)
    tier.put(f"claims/{key}", b'{"at": 0}')  # a maker that died long ago
    assert a.ensure_chunk(DOC_ID, 0, voice).status == "done"
    assert len(a_engine.calls) == 2
