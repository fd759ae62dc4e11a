"""Documents, OpenAI-compatible routes, auth, CORS, errors and the access log."""

from __future__ import annotations

import io
import json

import pytest
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas
from serverkit import quiet_options, write_synthetic
from starlette.testclient import TestClient

from preread.ids import document_id_of_bytes
from preread.server import create_app
from preread.settings import Settings
from preread.store import Store
from preread.tts.fake import FakeProvider


def make_pdf(text: str = "Hello there. This is a small test document for the server.") -> bytes:
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    pdf.drawString(72, 760, text)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def test_register_raw_and_multipart_then_list_and_show(client: TestClient) -> None:
    data = make_pdf()
    created = client.post(
        "/api/documents?name=talk.pdf", content=data, headers={"Content-Type": "application/pdf"}
    )
    assert created.status_code == 201
    body = created.json()
    assert body["documentId"] == document_id_of_bytes(data)
    assert body["pages"] == 1 and body["blocks"] >= 1
    again = client.post("/api/documents", files={"file": ("talk.pdf", data, "application/pdf")})
    assert again.status_code == 200 and again.json()["documentId"] == body["documentId"]
    other = make_pdf("Another text, in another file.")
    multipart = client.post("/api/documents", files={"file": ("b.pdf", other, "application/pdf")})
    assert multipart.status_code == 201
    listing = client.get("/api/documents").json()["documents"]
    assert {d["documentId"] for d in listing} == {
        body["documentId"],
        multipart.json()["documentId"],
    }
    shown = client.get(f"/api/documents/{body['documentId'][:12]}")
    assert shown.status_code == 200 and shown.json()["blocks"]
    assert client.get(f"/api/documents/{'e' * 64}").status_code == 404
    assert client.get("/api/documents/not-an-id").status_code == 400


def test_bad_and_oversized_uploads(settings: Settings) -> None:
    options = quiet_options(max_upload_bytes=2000)
    with TestClient(create_app(settings, provider=FakeProvider(), options=options)) as client:
        big = client.post("/api/documents", content=b"%PDF" + b"x" * 5000)
        assert big.status_code == 413
        assert big.json()["error"]["code"] == "payload_too_large"
        binary = client.post("/api/documents", content=b"\x00\x01\x02 not a document")
        assert binary.status_code == 400
        message = binary.json()["error"]["message"]
        assert "(PDF, EPUB, Markdown, HTML or UTF-8 plain text)" in message
        assert client.post("/api/documents", content=b"").status_code == 400
        no_file = client.post("/api/documents", files={"other": ("a.pdf", b"x")})
        assert no_file.status_code == 400


def test_show_returns_the_manifest(client: TestClient, store: Store) -> None:
    doc = write_synthetic(store, [100, 200])
    manifest = client.get(f"/api/documents/{doc.document_id}").json()
    assert manifest["documentId"] == doc.document_id
    assert [c["status"] for c in manifest["chunks"]] == ["done", "done"]


def test_speech_is_cached_in_the_content_store(client: TestClient, provider: FakeProvider) -> None:
    body = {"model": "tts-1", "input": "Hello world. Second sentence.", "voice": "alloy"}
    first = client.post("/v1/audio/speech", json=body)
    assert first.status_code == 200 and first.headers["content-type"] == "audio/mpeg"
    calls = len(provider.calls)
    assert calls == 2
    second = client.post("/v1/audio/speech", json=body)
    assert second.content == first.content and len(provider.calls) == calls
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("MISS", "HIT")
    opus = client.post("/v1/audio/speech", json={**body, "response_format": "opus"})
    assert opus.status_code == 200 and opus.content[:4] == b"OggS"
    for bad in ({"input": ""}, {**body, "response_format": "flac"}, {**body, "speed": 9}):
        assert client.post("/v1/audio/speech", json=bad).status_code == 400
    assert client.post("/v1/audio/speech", json={**body, "input": "x" * 5000}).status_code == 400
    models = client.get("/v1/models").json()
    assert "tts-1" in {m["id"] for m in models["data"]}
    assert client.get("/v1/audio/voices").json()["voices"] == ["tone", "low"]


def test_token_guards_posts_and_deletes_only(settings: Settings, store: Store) -> None:
    settings = Settings(home=settings.home, voice=settings.voice, api_token="s3cret")
    doc = write_synthetic(store, [100])
    with TestClient(
        create_app(settings, provider=FakeProvider(), options=quiet_options())
    ) as client:
        body = {"input": "Hi.", "voice": "tone"}
        missing = client.post("/v1/audio/speech", json=body)
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"].startswith("Bearer")
        wrong = client.post("/v1/audio/speech", json=body, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and "s3cret" not in wrong.text
        ok = client.post("/v1/audio/speech", json=body, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        assert client.delete(f"/api/tts/preprocess?documentId={doc.document_id}").status_code == 401
        assert client.get(f"/api/tts/chunk?documentId={doc.document_id}&index=0").status_code == 200


def test_routes_methods_and_cors(settings: Settings, store: Store) -> None:
    doc = write_synthetic(store, [100])
    cors = Settings(
        home=settings.home, voice=settings.voice, cors_origins=("https://reader.example",)
    )
    with TestClient(create_app(cors, provider=FakeProvider(), options=quiet_options())) as client:
        wrong_method = client.put(f"/api/tts/chunk?documentId={doc.document_id}&index=0")
        assert wrong_method.status_code == 405
        assert wrong_method.json()["error"]["code"] == "method_not_allowed"
        nowhere = client.get("/nowhere")
        assert nowhere.status_code == 404 and nowhere.json()["error"]["code"] == "not_found"
        preflight = client.options(
            "/api/tts/chunk",
            headers={
                "Origin": "https://reader.example",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "Range",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://reader.example"
        got = client.get(
            f"/api/tts/chunk?documentId={doc.document_id}&index=0",
            headers={"Origin": "https://reader.example"},
        )
        assert "ETag" in got.headers["access-control-expose-headers"]
        other = client.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_one_json_log_line_per_request_without_secrets(
    settings: Settings, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = write_synthetic(store, [100])
    secret = Settings(home=settings.home, voice=settings.voice, api_token="tok-123")
    app = create_app(secret, provider=FakeProvider(), options=quiet_options(access_log=True))
    with TestClient(app) as client:
        client.get(f"/api/tts/chunk?documentId={doc.document_id}&index=0&token=tok-123")
        client.post(
            "/v1/audio/speech", json={"input": "x"}, headers={"Authorization": "Bearer tok-123"}
        )
        client.get("/healthz", headers={"X-Request-ID": "abc-1"})
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert len(lines) == 3
    assert "tok-123" not in json.dumps(lines)
    first = lines[0]
    assert first["route"] == "/api/tts/chunk" and first["status"] == 200
    assert first["cache"] == "HIT" and first["bytes"] == 100 and first["durationMs"] >= 0
    assert lines[2]["requestId"] == "abc-1"


@pytest.mark.parametrize(
    "query",
    ["documentId=%00", "documentId=" + "a" * 5000, "documentId=zz&index=0",
     "documentId=aaaaaaaa&index=%ff", "documentId=aaaaaaaa&page=1&blockIndex=1.5"],
)  # fmt: skip
def test_garbage_never_makes_a_500(client: TestClient, query: str) -> None:
    response = client.get(f"/api/tts/chunk?{query}")
    assert 400 <= response.status_code < 500
