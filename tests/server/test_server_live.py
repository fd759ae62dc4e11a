"""Live generation of missing chunks: stored once, single flight, bounded, rate limited."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import httpx
import soundfile as sf
from serverkit import TEXTS, quiet_options, register_document
from starlette.testclient import TestClient

from preread.server import create_app
from preread.settings import Settings, VoiceSettings
from preread.store import Store
from preread.tts.fake import FakeProvider


def chunk_url(doc: str, index: int) -> str:
    return f"/api/tts/chunk?documentId={doc}&index={index}"


def test_missing_chunk_is_generated_stored_then_served_from_disk(
    client: TestClient, store: Store, provider: FakeProvider
) -> None:
    doc = register_document(store)
    live = client.get(f"/api/tts/chunk?documentId={doc}&page=1&blockIndex=0")
    assert live.status_code == 200
    assert live.headers["x-cache"] == "MISS"
    assert live.headers["content-type"] == "audio/mpeg"
    assert "etag" not in live.headers
    samples, rate = sf.read(io.BytesIO(live.content), dtype="int16")
    assert len(samples) / rate > 0.5 and abs(samples).max() > 1000  # real audio, not silence
    manifest = store.read_manifest(doc)
    assert manifest is not None and manifest.chunks[0].status == "done"
    again = client.get(chunk_url(doc, 0))
    assert again.headers["x-cache"] == "HIT"
    assert again.headers["etag"] == f'"{manifest.chunks[0].sha256}"'
    assert len(provider.calls) == 2  # the block's two sentences, synthesized once


def test_twenty_simultaneous_requests_synthesize_once(settings: Settings, store: Store) -> None:
    doc = register_document(store)
    provider = FakeProvider(delay=0.1)
    app = create_app(settings, provider=provider, options=quiet_options(live_queue=0))

    async def run() -> list[httpx.Response]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                return await asyncio.gather(*(client.get(chunk_url(doc, 0)) for _ in range(20)))

    responses = asyncio.run(run())
    assert [r.status_code for r in responses] == [200] * 20
    assert len(provider.calls) == 2  # two sentences, one synthesis
    for response in responses:  # each got whole audio (the live stream or the stored file)
        samples, rate = sf.read(io.BytesIO(response.content), dtype="int16")
        assert len(samples) / rate > 0.5


def test_a_client_that_goes_away_does_not_cancel_the_generation(
    settings: Settings, store: Store
) -> None:
    doc = register_document(store)
    provider = FakeProvider(delay=0.2)
    app = create_app(settings, provider=provider, options=quiet_options())

    async def run() -> None:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                task = asyncio.create_task(client.get(chunk_url(doc, 1)))
                await asyncio.sleep(0.05)
                task.cancel()
                for _ in range(100):
                    manifest = store.read_manifest(doc)
                    if manifest is not None and manifest.chunks[1].status == "done":
                        return
                    await asyncio.sleep(0.05)
                raise AssertionError("the generation stopped with its client")

    asyncio.run(run())


def test_past_the_queue_limit_requests_get_503(settings: Settings, store: Store) -> None:
    doc = register_document(store)
    provider = FakeProvider(delay=0.3)
    options = quiet_options(live_workers=1, live_queue=1)
    app = create_app(settings, provider=provider, options=options)

    async def run() -> list[httpx.Response]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                return await asyncio.gather(
                    *(client.get(chunk_url(doc, i)) for i in range(len(TEXTS)))
                )

    responses = asyncio.run(run())
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 200, 503]
    busy = next(r for r in responses if r.status_code == 503)
    assert int(busy.headers["retry-after"]) >= 1
    assert busy.json()["error"]["code"] == "busy"


def test_live_generation_is_rate_limited_per_client(settings: Settings, store: Store) -> None:
    doc = register_document(store)
    options = quiet_options(live_per_minute=1, live_burst=1)
    with TestClient(create_app(settings, provider=FakeProvider(), options=options)) as client:
        assert client.get(chunk_url(doc, 0)).status_code == 200
        limited = client.get(chunk_url(doc, 1))
        assert limited.status_code == 429
        assert limited.json()["error"]["code"] == "rate_limited"
        assert int(limited.headers["retry-after"]) >= 1
        assert client.get(chunk_url(doc, 0)).status_code == 200  # from disk: not limited


def test_provider_failure_is_502_and_recorded(settings: Settings, store: Store) -> None:
    doc = register_document(store)
    provider = FakeProvider(fail=lambda s: "Third" in s)
    with TestClient(create_app(settings, provider=provider, options=quiet_options())) as client:
        response = client.get(chunk_url(doc, 2))
        assert response.status_code == 502
        assert response.json()["error"]["code"] == "synthesis_failed"
    manifest = store.read_manifest(doc)
    assert manifest is not None and manifest.chunks[2].status == "failed"


def test_head_of_a_missing_chunk_does_not_synthesize(
    client: TestClient, store: Store, provider: FakeProvider
) -> None:
    doc = register_document(store)
    response = client.head(chunk_url(doc, 0))
    assert response.status_code == 200
    assert response.headers["x-cache"] == "MISS"
    assert provider.calls == []
    assert store.read_manifest(doc) is None  # asking wrote nothing


def test_live_fill_reuses_audio_made_by_a_compatible_server(home: Path, store: Store) -> None:
    """A missing chunk whose audio an OpenAI-compatible server made before is relinked
    from the store (same content key, endpoint included), not requested again."""
    from openai_server import SpeechServer
    from preread.preprocess import run_preprocess
    from preread.tts.openai import OpenAIProvider

    doc = register_document(store)
    document = store.read_registration(doc)
    assert document is not None
    with SpeechServer() as speech:
        settings = Settings(
            home=home,
            voice=VoiceSettings(provider="openai", model="kokoro", voice="af_bella"),
            openai_base_url=speech.base_url,
        )
        provider = OpenAIProvider(None, speech.base_url)
        run_preprocess(store, provider, document, settings.voice)
        asked = len(speech.requests)
        manifest = store.require_manifest(doc)
        (store.chunks_dir(doc) / manifest.chunks[0].file_name).unlink()
        app = create_app(settings, provider=provider, options=quiet_options())
        with TestClient(app) as client:
            response = client.get(f"/api/tts/chunk?documentId={doc}&index=0")
        assert response.status_code == 200
        assert len(speech.requests) == asked  # nothing synthesized again
