"""EPUB, Markdown, HTML and text through the CLI and the server, with the fake provider."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from epubmaker import epub, zip_files
from starlette.testclient import TestClient
from test_epub import CH1, SPOKEN3, epub3
from test_markup_and_text import MARKDOWN, SPOKEN_MD

from preread.cli import main
from preread.export import plan
from preread.ids import document_id_of_bytes
from preread.manifest import Manifest
from preread.server import ServerOptions, create_app
from preread.settings import Settings, VoiceSettings
from preread.store import Store
from preread.tts.fake import FakeProvider


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def sentences_by_page(blocks: list[dict[str, object]]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for block in blocks:
        out.setdefault(int(block["page"]), []).extend(block["sentences"])  # type: ignore[arg-type,call-overload]
    return out


def test_cli_blocks_and_preprocess_an_epub(
    capsys: pytest.CaptureFixture[str], home: Path, tmp_path: Path
) -> None:
    book = tmp_path / "lighthouse.bin"  # the name says nothing: the bytes do
    book.write_bytes(epub3())
    code, out, err = run(capsys, "blocks", str(book), "--json")
    assert code == 0 and err == ""
    assert sentences_by_page(json.loads(out)) == SPOKEN3
    code, out, err = run(
        capsys, "preprocess", str(book), "--provider", "fake", "--home", str(home), "--json"
    )
    assert code == 0, err
    doc = document_id_of_bytes(book.read_bytes())
    assert json.loads(out)["documentId"] == doc
    store = Store(home)
    manifest = store.read_manifest(doc)
    assert manifest is not None and manifest.unit == "section"
    raw = json.loads(store.manifest_path(doc).read_bytes())
    assert raw["unit"] == "section" and raw["pages"] == 6
    assert (raw["chapters"][0]["title"], raw["chapters"][0]["page"]) == ("Chapter One", 3)
    assert all(c.status == "done" for c in manifest.chunks)
    assert sentences_by_page([c.to_json() | {"sentences": [s.text for s in c.sentences]}
                              for c in manifest.chunks]) == SPOKEN3  # fmt: skip
    source = store.registration_dir(doc) / "source.epub"
    assert source.read_bytes() == book.read_bytes() and store.source_path(doc) == source
    code, out, _ = run(capsys, "blocks", doc[:12], "--home", str(home), "--json")
    assert code == 0 and sentences_by_page(json.loads(out)) == SPOKEN3


def test_cli_read_code_flag_and_sections_in_the_table(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    guide = tmp_path / "guide.md"
    guide.write_text(MARKDOWN, encoding="utf-8")
    code, out, _ = run(capsys, "blocks", str(guide))
    assert code == 0 and "Notes on Lighthouses — guide.md, 3 sections" in out
    code, out, _ = run(capsys, "blocks", str(guide), "--json", "--read-code")
    assert code == 0 and 'print("code is not heard")' in sentences_by_page(json.loads(out))[2]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (zip_files({"a.txt": "x"}, mimetype=None), "is a zip archive, not an EPUB"),
        (
            epub({"ch1.xhtml": CH1}, ["ch1.xhtml"], extra={"META-INF/rights.xml": "<r/>"}),
            "is DRM-protected (META-INF/rights.xml)",
        ),
        (b"Caf\xe9 text.", "is not valid UTF-8 (byte 0xe9 at offset 3)"),
    ],
)
def test_cli_bad_inputs_exit_2_with_one_line_and_write_nothing(
    capsys: pytest.CaptureFixture[str], home: Path, tmp_path: Path, data: bytes, message: str
) -> None:
    path = tmp_path / "input.epub"
    path.write_bytes(data)
    for extra in ([], ["--provider", "fake"]):
        command = "preprocess" if extra else "blocks"
        code, out, err = run(capsys, command, str(path), "--home", str(home), *extra)
        assert code == 2 and out == ""
        assert err.startswith("preread: error: input.epub ") and message in err
        assert err.count("\n") == 1
    assert not (home / "tts_cache_v1").exists() and not (home / "documents").exists()


def test_cli_a_1gb_text_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    with path.open("wb") as handle:
        handle.write(b"Words and more words.\n" * 5000)
        handle.truncate(2**30)
    code, _, err = run(capsys, "blocks", str(path))
    assert code == 2 and "huge.txt is 1.1 GB: preread reads a text" in err


@pytest.fixture
def client(home: Path) -> TestClient:
    settings = Settings(home=home, voice=VoiceSettings(provider="fake"))
    options = ServerOptions(access_log=False)
    return TestClient(create_app(settings, provider=FakeProvider(), options=options))


def _wait_complete(client: TestClient, doc: str) -> None:
    with client.stream("GET", f"/api/tts/preprocess/events?documentId={doc}") as response:
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert json.loads(lines[-1][6:])["state"] == "complete"


def test_server_registers_each_kind_and_preprocesses_sections(client: TestClient) -> None:
    with client:
        book = epub3()
        created = client.post(
            "/api/documents", content=book, headers={"Content-Type": "application/epub+zip"}
        )
        assert created.status_code == 201, created.text
        body = created.json()
        assert (body["kind"], body["unit"], body["pages"]) == ("epub", "section", 6)
        assert body["sourceName"] == "document.epub"
        md = client.post(
            "/api/documents",
            files={"file": ("guide.md", MARKDOWN.encode(), "text/markdown")},
        )
        assert md.status_code == 201 and md.json()["kind"] == "markdown"
        declared = client.post(
            "/api/documents?name=plain.txt",
            content=b"# Not a heading here\n\nJust text.",
            headers={"Content-Type": "text/plain; charset=utf-8"},
        )
        assert declared.json()["kind"] == "text"
        latin = client.post(
            "/api/documents?name=cafe.html",
            content='<html><head><meta charset="iso-8859-1"></head><p>Un café.</p>'.encode(
                "latin-1"
            ),
            headers={"Content-Type": "text/html"},
        )
        assert latin.status_code == 201 and latin.json()["kind"] == "html"
        shown = client.get(f"/api/documents/{latin.json()['documentId']}").json()
        assert [s for b in shown["blocks"] for s in b["sentences"]] == ["Un café."]
        doc = md.json()["documentId"]
        shown = client.get(f"/api/documents/{doc}").json()
        assert shown["unit"] == "section"
        assert sentences_by_page(shown["blocks"]) == SPOKEN_MD
        assert client.post("/api/tts/preprocess", json={"documentId": doc}).status_code == 202
        _wait_complete(client, doc)
        manifest = Manifest.loads(client.get(f"/api/documents/{doc}").content)
        assert manifest.unit == "section"
        chunk = client.get(f"/api/tts/chunk?documentId={doc}&page=3&blockIndex=0")
        assert chunk.status_code == 200 and chunk.headers["x-cache"] == "HIT"


def test_server_bad_inputs(client: TestClient) -> None:
    with client:
        drm = epub({"ch1.xhtml": CH1}, ["ch1.xhtml"], extra={"META-INF/rights.xml": "<r/>"})
        response = client.post("/api/documents?name=locked.epub", content=drm)
        assert response.status_code == 400
        assert response.json()["error"] == {
            "code": "bad_document",
            "message": "locked.epub is DRM-protected (META-INF/rights.xml); preread cannot read it",
        }
        big = client.post("/api/documents?name=big.txt", content=b"Many words here. " * 1_000_000)
        assert big.status_code == 413 and "big.txt is 17.0 MB" in big.json()["error"]["message"]
        assert client.get("/api/documents").json()["documents"] == []


def test_cli_export_an_epub_chapter_as_subtitles(
    capsys: pytest.CaptureFixture[str], home: Path, tmp_path: Path
) -> None:
    book = tmp_path / "book.epub"
    book.write_bytes(epub3())
    code, _, err = run(capsys, "preprocess", str(book), "--provider", "fake", "--home", str(home))
    assert code == 0, err
    vtt = tmp_path / "two.vtt"
    code, _, err = run(
        capsys, "export", str(book), "--chapter", "3", "-f", "vtt", "-o", str(vtt),
        "--home", str(home),
    )  # fmt: skip
    assert code == 0, err
    cues = [
        line
        for line in vtt.read_text(encoding="utf-8").splitlines()[1:]
        if line and "-->" not in line
    ]
    assert cues == SPOKEN3[5]  # chapter 3 of the navigation: "Chapter Two", section 5
    # "A Section" starts inside ch1.xhtml (ch1.xhtml#s1): a chapter of its own, not merged
    code, _, err = run(
        capsys, "export", str(book), "--chapter", "2", "-f", "vtt", "-o", str(vtt),
        "--home", str(home),
    )  # fmt: skip
    assert code == 0, err
    cues = [
        line
        for line in vtt.read_text(encoding="utf-8").splitlines()[1:]
        if line and "-->" not in line
    ]
    assert cues == SPOKEN3[4]
    doc = document_id_of_bytes(book.read_bytes())
    manifest = Store(home).read_manifest(doc)
    assert manifest is not None
    marks = plan(manifest, Store(home).chunks_dir(doc)).chapters
    assert [m.title for m in marks] == ["Chapter One", "A Section", "Chapter Two"]
