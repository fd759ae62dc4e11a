"""The server during a run: chunks recorded only in the progress journal are served right."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from serverkit import fake_voice_settings, quiet_options, register_document
from starlette.testclient import TestClient

from preread.generate import ChunkMaker, record_entries
from preread.library import Library
from preread.manifest import Manifest
from preread.preprocess import prepare_manifest
from preread.server import create_app
from preread.server.manifests import ManifestCache
from preread.settings import Settings
from preread.store import Store
from preread.tts.fake import FakeProvider

TEXTS = [f"Block {i} of a long book. It has a second sentence too." for i in range(40)]


def test_a_chunk_get_during_a_run_matches_its_sha256(home: Path) -> None:
    store = Store(home)
    doc = register_document(store, seed=11, texts=TEXTS)
    settings = Settings(home=home, voice=fake_voice_settings())
    app = create_app(settings, provider=FakeProvider(delay=0.03), options=quiet_options())
    with TestClient(app) as client:
        started = client.post("/api/tts/preprocess", json={"documentId": doc})
        assert started.status_code == 202
        deadline = time.monotonic() + 30
        while True:
            status = client.get("/api/tts/preprocess/status", params={"documentId": doc}).json()
            if status["done"] >= 4 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert status["state"] == "running" and status["done"] >= 4
        on_disk = Manifest.loads(store.manifest_path(doc).read_bytes())
        assert on_disk.count("done") == 0  # the run records progress in the journal only
        view = client.get(f"/api/documents/{doc}").json()  # manifest + journal
        done = [c for c in view["chunks"] if c["status"] == "done"]
        assert len(done) >= 4
        for chunk in done:
            response = client.get(
                "/api/tts/chunk", params={"documentId": doc, "index": chunk["index"]}
            )
            assert response.status_code == 200 and response.headers["x-cache"] == "HIT"
            digest = hashlib.sha256(response.content).hexdigest()
            assert digest == chunk["sha256"] and response.headers["etag"] == f'"{digest}"'
            assert len(response.content) == chunk["bytes"]
        client.delete("/api/tts/preprocess", params={"documentId": doc})


def test_the_cache_follows_the_journal_without_reparsing(store: Store) -> None:
    doc = register_document(store, seed=12, texts=TEXTS[:6])
    document = store.read_registration(doc)
    assert document is not None
    provider = FakeProvider()
    voice = provider.resolve(fake_voice_settings())
    prepare_manifest(store, document, voice)
    library = Library(Settings(home=store.home, voice=fake_voice_settings()), provider=provider)
    cache = ManifestCache(library)
    first = cache.get(doc)
    assert first is not None and first.manifest.count("done") == 0
    maker = ChunkMaker(store, provider)
    entries = store.require_manifest(doc).chunks
    made = [maker.store_chunk(doc, maker.synthesize(e, voice), voice) for e in entries[:3]]
    assert record_entries(store, doc, voice, made[:2]) == 2
    again = cache.get(doc)
    assert again is first  # same manifest: only the new journal lines were applied
    assert [again.by_index[i].status for i in range(3)] == ["done", "done", "pending"]
    assert again.by_index[1].sha256 == made[1].sha256
    assert record_entries(store, doc, voice, made[2:]) == 1
    assert cache.get(doc) is first and first.by_index[2].status == "done"
    store.fold_journal(doc)
    folded = cache.get(doc)
    assert folded is not None and folded is not first  # the manifest was rewritten
    assert [c.to_json() for c in folded.manifest.chunks] == [
        c.to_json() for c in first.manifest.chunks
    ]
    view = library.manifest_bytes(doc)
    assert view is not None and json.loads(view) == json.loads(
        store.manifest_path(doc).read_bytes()
    )
