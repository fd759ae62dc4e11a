"""The library object: every operation the CLI and the server use, on the fake provider."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from preread.errors import BadSettings, Conflict, NotFound
from preread.library import Library
from preread.model import Block, DocumentText
from preread.settings import Settings, VoiceSettings
from preread.tts.fake import FakeProvider

DOC_ID = hashlib.sha256(b"library test document").hexdigest()


def _document() -> DocumentText:
    texts = [
        (1, 0, "The first block. It has two sentences."),
        (1, 1, "A second block on page one."),
        (2, 0, "Page two speaks once."),
    ]
    blocks = tuple(
        Block(i, page, block, text, tuple(s.strip() + "." for s in text.split(".") if s.strip()))
        for i, (page, block, text) in enumerate(texts)
    )
    return DocumentText(DOC_ID, "test.pdf", "A test", 2, blocks=blocks)


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def library(fake_settings: Settings, provider: FakeProvider) -> Library:
    return Library(fake_settings, provider=provider)


def test_pregenerate_then_status_listing_and_blocks(library: Library) -> None:
    document = _document()
    summary = library.pregenerate(document)
    assert summary.state == "complete"
    assert summary.generated == 3
    status = library.status(DOC_ID)
    assert (status["state"], status["done"], status["total"]) == ("complete", 3, 3)
    [row] = library.listing()
    assert (row["documentId"], row["title"], row["done"]) == (DOC_ID, "A test", 3)
    assert library.resolve(DOC_ID[:10]) == DOC_ID
    page_two = library.blocks(DOC_ID, "2")
    assert [b.text for b in page_two.blocks] == ["Page two speaks once."]
    for entry in library.manifest(DOC_ID).chunks:  # type: ignore[union-attr]
        data = library.chunk_path(DOC_ID, entry).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry.sha256


def test_a_second_pregenerate_synthesizes_nothing(library: Library, provider: FakeProvider) -> None:
    library.pregenerate(_document())
    calls = len(provider.calls)
    again = library.pregenerate(_document())
    assert (again.generated, again.skipped) == (0, 3)
    assert len(provider.calls) == calls


def test_ensure_chunk_makes_a_registered_block_once(
    library: Library, provider: FakeProvider
) -> None:
    library.register(_document())
    target, voice = library.chunk_target(DOC_ID, None, index=None, page=2, block=0)
    assert target.index == 2
    entry = library.ensure_chunk(DOC_ID, target.index, voice)
    assert entry.status == "done"
    assert provider.calls == ["Page two speaks once."]
    manifest = library.manifest(DOC_ID)
    assert manifest is not None and library.matches(manifest, voice)
    assert library.voice_of(manifest) == voice
    again = library.ensure_chunk(DOC_ID, 2, voice)
    assert again.sha256 == entry.sha256
    assert provider.calls == ["Page two speaks once."]


def test_chunk_target_knows_no_unregistered_document_nor_missing_block(library: Library) -> None:
    with pytest.raises(NotFound):
        library.chunk_target(DOC_ID, None, index=0, page=None, block=None)
    library.register(_document())
    with pytest.raises(NotFound, match="no block at page 9 block 0"):
        library.chunk_target(DOC_ID, None, index=None, page=9, block=0)


def test_chunk_target_refuses_audio_of_another_provider(home: Path) -> None:
    fake = Library(Settings(home=home, voice=VoiceSettings(provider="fake")))
    fake.register(_document())
    fake.chunk_target(DOC_ID, None, index=0, page=None, block=None)  # writes the manifest
    manifest = fake.manifest(DOC_ID)
    other = Library(Settings(home=home, voice=VoiceSettings(provider="piper")))
    with pytest.raises(Conflict, match="provider fake"):
        other.chunk_target(DOC_ID, manifest, index=0, page=None, block=None)


def test_speech_is_stored_once_and_shared_with_chunks(
    library: Library, provider: FakeProvider
) -> None:
    voice = library.resolve_voice()
    first = library.speech("Page two speaks once.", voice)
    assert first.cache == "MISS" and first.data
    assert first.synthesized_chars == len("Page two speaks once.")
    again = library.speech("Page two   speaks once.", voice)  # same normalized text
    assert again.cache == "HIT" and again.data == first.data and not again.synthesized_chars
    library.pregenerate(_document(), pages="2")
    assert provider.calls == ["Page two speaks once."]  # the chunk reused the speech blob


def test_delete_removes_audio_and_registration(library: Library) -> None:
    library.pregenerate(_document())
    stored = library.status(DOC_ID)["bytes"]
    freed = library.delete(DOC_ID)
    assert freed.freed_bytes >= stored  # its blobs, used by no other document, go too
    assert library.known_ids() == set()
    assert library.manifest(DOC_ID) is None
    with pytest.raises(NotFound):
        library.delete(DOC_ID)


def test_delete_audio_keeps_the_registration(library: Library) -> None:
    library.pregenerate(_document())
    library.delete_audio(DOC_ID)
    assert not library.has_audio(DOC_ID)
    assert library.registration(DOC_ID) is not None


def test_bad_voice_is_refused_before_anything_is_written(library: Library, home: Path) -> None:
    with pytest.raises(BadSettings):
        library.resolve_voice(VoiceSettings(provider="fake", voice="nobody"))
    assert list(home.iterdir()) == []
