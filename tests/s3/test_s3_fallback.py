"""Chunks a fallback voice spoke travel through the bucket like any other chunk.

The engine chain is a local OpenAI-protocol server that fails some blocks, then the
fake voice; two libraries (or two ``preread serve`` processes) with separate disks
share one bucket (moto's S3 server). What A's fallback spoke is put in the bucket
under the fallback voice's own content key; B restores, pre-generates and exports it
without synthesis, checked against A's manifest, never replacing a blob it has.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from s3kit import BUCKET, S3Server, export_mp3, pregenerate, upload_sample

from liveserver import running_server
from openai_server import SpeechServer
from preread.blobs import BlobStore, blob_key
from preread.library import Library
from preread.manifest import ChunkEntry
from preread.settings import Settings
from preread.tts.fake import FakeProvider
from preread.voice import ResolvedVoice
from test_library import DOC_ID, _document

FALLBACK_TEXTS = ("A second block on page one.", "Page two speaks once.")


@pytest.fixture
def speech() -> Iterator[SpeechServer]:
    """The primary engine: it speaks block 0 and fails blocks 1 and 2."""
    with SpeechServer() as running:
        running.fail_when = lambda text: text in FALLBACK_TEXTS
        running.retry_after_on_500 = "0"
        yield running


def _env(s3: S3Server, speech: SpeechServer) -> dict[str, str]:
    return {
        **s3.env(),
        "PREREAD_PROVIDER": "openai,fake",
        "OPENAI_BASE_URL": speech.base_url,
        "PREREAD_OPENAI_RETRIES": "0",
    }


def _library(tmp_path: Path, name: str, env: dict[str, str]) -> Library:
    home = tmp_path / name
    home.mkdir()
    return Library(Settings.load(env, home=str(home)))


def _fake(library: Library) -> FakeProvider:
    provider = library.provider_for("fake")
    assert isinstance(provider, FakeProvider)
    return provider


def _made_by_a(tmp_path: Path, env: dict[str, str]) -> tuple[Library, list[Any]]:
    """A pre-generates the document: block 0 by the primary, blocks 1-2 by the fallback."""
    a = _library(tmp_path, "a", env)
    assert a.pregenerate(_document()).state == "complete"
    assert a.flush_shared(10.0)
    manifest = a.manifest(DOC_ID)
    assert manifest is not None
    assert [e.spoken_by is not None for e in manifest.chunks] == [False, True, True]
    assert {e.spoken_by for e in manifest.chunks[1:]} == {("fake", "tone-1", "tone")}
    return a, manifest.chunks


def _fallback_key(library: Library, text: str) -> str:
    base = library.resolve_voice()
    return blob_key(text, ResolvedVoice("fake", "tone-1", "tone", base.speed, base.format))


def test_b_restores_and_exports_what_a_fallback_spoke(
    tmp_path: Path, s3: S3Server, speech: SpeechServer
) -> None:
    env = _env(s3, speech)
    a, chunks = _made_by_a(tmp_path, env)
    names = s3.object_keys()
    for text in FALLBACK_TEXTS:  # in the bucket under the fallback voice's own key
        assert any(name.endswith(f"{_fallback_key(a, text)}.mp3") for name in names)
    b = _library(tmp_path, "b", env)
    asked = len(speech.requests)
    for entry in chunks:
        assert b.restore_chunk(DOC_ID, index=entry.index, page=None, block=None)
        data = b.chunk_path(DOC_ID, entry).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry.sha256
    assert b.status(DOC_ID)["state"] == "complete"
    exported = {}
    for name, library in (("a", a), ("b2", _library(tmp_path, "b2", env))):
        order = library.export_order(DOC_ID, "mp3", None)  # b2's disk has no chunk at all
        exported[name] = library.make_export(order).read_bytes()
    assert exported["b2"] == exported["a"]
    assert len(speech.requests) == asked and _fake(b).calls == []  # nothing synthesized


def test_b_pregenerates_with_what_a_fallback_spoke(
    tmp_path: Path, s3: S3Server, speech: SpeechServer
) -> None:
    env = _env(s3, speech)
    _, chunks = _made_by_a(tmp_path, env)
    b = _library(tmp_path, "b", env)  # its primary fails the same blocks
    summary = b.pregenerate(_document())
    assert (summary.state, summary.generated, summary.reused) == ("complete", 0, 3)
    assert _fake(b).calls == []  # the fallback's blobs came from the bucket
    made = b.manifest(DOC_ID)
    assert made is not None
    assert [e.sha256 for e in made.chunks] == [e.sha256 for e in chunks]


def test_a_live_chunk_a_fallback_spoke_is_restored_by_b(
    tmp_path: Path, s3: S3Server, speech: SpeechServer
) -> None:
    env = _env(s3, speech)
    a = _library(tmp_path, "a", env)
    a.register(_document())
    target, voice = a.chunk_target(DOC_ID, None, index=1, page=None, block=None)
    made = a.ensure_chunk(DOC_ID, target.index, voice)  # the live fallback: a miss
    assert made.spoken_by == ("fake", "tone-1", "tone")
    assert a.flush_shared(10.0)
    b = _library(tmp_path, "b", env)
    assert b.restore_chunk(DOC_ID, index=1, page=None, block=None)
    data = b.chunk_path(DOC_ID, made).read_bytes()
    assert hashlib.sha256(data).hexdigest() == made.sha256 and _fake(b).calls == []


def test_a_live_chunk_asked_of_both_is_spoken_once_by_the_fallback(
    tmp_path: Path, s3: S3Server, speech: SpeechServer
) -> None:
    """One instance claims the chunk, its primary fails, its fallback speaks it (slowly);
    the other waits, then takes the chunk from the bucket: one synthesis in all."""
    env = {**_env(s3, speech), "PREREAD_FAKE_DELAY": "0.3"}
    libraries = [_library(tmp_path, name, env) for name in ("a", "b")]
    for library in libraries:  # a claim left by a delete the loaded bucket timed out: 20 s
        assert library.shared is not None
        library.shared.claim_ttl = 20.0
    libraries[0].register(_document())
    assert libraries[0].flush_shared(10.0)
    made: dict[int, ChunkEntry] = {}

    def ask(number: int) -> None:
        library = libraries[number]
        target, voice = library.chunk_target(
            DOC_ID, library.manifest(DOC_ID), index=1, page=None, block=None
        )
        made[number] = library.ensure_chunk(DOC_ID, target.index, voice)

    threads = [threading.Thread(target=ask, args=(number,)) for number in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert made[0].sha256 == made[1].sha256 and made[0].spoken_by == made[1].spoken_by
    assert [_fake(lib).calls for lib in libraries].count([FALLBACK_TEXTS[0]]) == 1
    assert sum(len(_fake(lib).calls) for lib in libraries) == 1
    assert len(speech.requests) == 1  # the primary was asked once, by the claimer
    for library in libraries:
        data = library.chunk_path(DOC_ID, made[0]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == made[0].sha256


def test_a_blob_of_other_bytes_is_never_taken_for_the_manifests(
    tmp_path: Path, s3: S3Server, speech: SpeechServer
) -> None:
    """B already has other audio under the fallback key of block 1 (never replaced, never
    served for it); the bucket's blob of block 2 is not the audio A's manifest records
    (never stored)."""
    env = _env(s3, speech)
    a, chunks = _made_by_a(tmp_path, env)
    b = _library(tmp_path, "b", env)
    mine = a.chunk_path(DOC_ID, chunks[0]).read_bytes()  # the primary's audio of block 0
    key = _fallback_key(a, FALLBACK_TEXTS[0])
    info = BlobStore(b.store).write(key, "mp3", mine, 1.0, [])
    client = s3.client()
    other = _fallback_key(a, FALLBACK_TEXTS[1])
    prefix = "library/blobs/" + other[:2] + "/" + other
    sidecar = json.loads(client.get_object(Bucket=BUCKET, Key=prefix + ".json")["Body"].read())
    bad = mine + b"\0"
    sidecar.update(bytes=len(bad), sha256=hashlib.sha256(bad).hexdigest())
    client.put_object(Bucket=BUCKET, Key=prefix + ".mp3", Body=bad)
    client.put_object(Bucket=BUCKET, Key=prefix + ".json", Body=json.dumps(sidecar))
    for entry in chunks[1:]:
        assert not b.restore_chunk(DOC_ID, index=entry.index, page=None, block=None)
        assert not b.chunk_path(DOC_ID, entry).exists()
    assert BlobStore(b.store).read(key, "mp3") == info and BlobStore(b.store).verify(info)
    assert BlobStore(b.store).read(other, "mp3") is None


@pytest.mark.slow
def test_two_servers_share_a_fallbacks_chunks(
    tmp_path: Path, s3: S3Server, speech: SpeechServer
) -> None:
    """Every chunk of A's document spoken by the fallback (the primary fails them all):
    B serves half of them (restored from the bucket), then exports the whole document
    (the other half brought by the export), as A exports it; nothing is synthesized."""
    speech.default = "500"
    env = _env(s3, speech)
    with (
        running_server(tmp_path / "a", **env) as (a, _),
        running_server(tmp_path / "b", **env) as (b, _),
    ):
        doc = upload_sample(a)
        pregenerate(a, doc)
        chunks = httpx.get(f"{a}/api/documents/{doc}").json()["chunks"]
        assert all(c["spokenBy"]["provider"] == "fake" for c in chunks)
        asked = len(speech.requests)
        for chunk in chunks[::2]:
            got = httpx.get(f"{b}/api/tts/chunk?documentId={doc}&index={chunk['index']}")
            assert got.status_code == 200 and got.headers["x-cache"] == "HIT"
            assert hashlib.sha256(got.content).hexdigest() == chunk["sha256"]
        assert export_mp3(b, doc) == export_mp3(a, doc)
        assert len(speech.requests) == asked
