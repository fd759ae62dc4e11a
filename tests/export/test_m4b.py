"""M4B export (AAC in MP4, chapters as a QuickTime chapter track and a Nero ``chpl`` box),
read back by two readers that share no code with the writer: mutagen (``chpl``, the
sample tables' duration, the tags) and FFmpeg's demuxer and AAC decoder through PyAV (the
chapter track, every frame decoded through the sample tables)."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import av
import pytest
from mutagen.mp4 import MP4
from starlette.testclient import TestClient

from preread.cli import main
from preread.ids import document_id_of_bytes
from preread.manifest import Manifest
from preread.server import create_app
from preread.settings import Settings, VoiceSettings
from preread.store import Store

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample.pdf"
DOC = document_id_of_bytes(SAMPLE.read_bytes())
TITLES = ["1 The Path Along the Cliffs", "2 Inside the Tower"]


def pregenerate(home: Path, *extra: str) -> Manifest:
    args = ["--home", str(home), "preprocess", str(SAMPLE), "--provider", "fake", "-q", *extra]
    assert main(args) == 0
    manifest = Store(home).read_manifest(DOC)
    assert manifest is not None
    return manifest


def seconds(manifest: Manifest, pages: set[int]) -> float:
    return sum(c.duration or 0.0 for c in manifest.chunks if c.page in pages)


def ffmpeg_view(source: Path | bytes) -> tuple[list[tuple[str, float]], float]:
    """Chapters (title, start s) as FFmpeg reads them, and the seconds its decoder yields."""
    with av.open(io.BytesIO(source) if isinstance(source, bytes) else str(source)) as container:
        chapters = [
            (c["metadata"]["title"], float(c["start"] * (c["time_base"] or 1)))
            for c in container.chapters()
        ]
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "aac"
        samples = sum(frame.samples for frame in container.decode(stream))
        return chapters, samples / stream.codec_context.sample_rate


def test_the_book_as_m4b_has_its_outline_as_chapters(home: Path, tmp_path: Path) -> None:
    manifest = pregenerate(home)
    out = tmp_path / "book.m4b"
    assert main(["--home", str(home), "export", DOC[:10], "-f", "m4b", "-o", str(out)]) == 0
    spoken, page_one = seconds(manifest, {1, 2, 3}), seconds(manifest, {1})
    book = MP4(str(out))
    assert book.info.codec == "mp4a.40.2"
    assert [c.title for c in book.chapters] == TITLES
    assert book.chapters[0].start == 0
    assert book.chapters[1].start == pytest.approx(page_one, abs=0.02)
    assert book.info.length == pytest.approx(spoken, abs=0.1)  # AAC priming included
    assert book.tags["\xa9nam"] == ["A Short Walk to the Lighthouse"]
    assert book.tags["stik"] == [2]  # an audiobook
    chapters, decoded = ffmpeg_view(out)
    assert [title for title, _ in chapters] == TITLES
    assert chapters[1][1] == pytest.approx(page_one, abs=0.02)
    assert decoded == pytest.approx(spoken, abs=0.1)


def test_a_chapter_of_an_opus_store_as_m4b(home: Path, tmp_path: Path) -> None:
    manifest = pregenerate(home, "--format", "opus")
    out = tmp_path / "c2.m4b"
    args = ["--home", str(home), "export", DOC, "--chapter", "2", "-f", "m4b", "-o", str(out)]
    assert main(args) == 0
    chapter = seconds(manifest, {2, 3})
    book = MP4(str(out))
    assert [(c.title, c.start) for c in book.chapters] == [(TITLES[1], 0.0)]
    assert book.info.sample_rate == 24000  # the Opus chunks' rate, not resampled
    chapters, decoded = ffmpeg_view(out)
    assert chapters == [(TITLES[1], 0.0)]
    assert decoded == pytest.approx(chapter, abs=0.1)


def test_a_broken_chunk_leaves_no_m4b_and_no_scratch(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pregenerate(home)
    broken = sorted(Store(home).chunks_dir(DOC).iterdir())[3]
    size = broken.stat().st_size
    broken.unlink()
    broken.write_bytes(b"\0" * size)  # as long as the manifest says, not audio
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    args = ["--home", str(home), "export", DOC, "-f", "m4b", "-o", str(out_dir / "b.m4b")]
    assert main(args) == 1
    assert "does not decode" in capsys.readouterr().err
    assert list(out_dir.iterdir()) == []


def test_the_route_serves_m4b_and_names_the_pages_it_lacks(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = pregenerate(home)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where the route writes
    settings = Settings(home=home, voice=VoiceSettings(provider="fake"))
    with TestClient(create_app(settings)) as client:
        head = client.head(f"/api/documents/{DOC}/export?format=m4b")
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-disposition"].endswith("sample.m4b")
        got = client.get(f"/api/documents/{DOC}/export?format=m4b")
        assert got.status_code == 200 and got.headers["content-type"] == "audio/mp4"
        assert got.headers["content-disposition"].endswith("; filename*=UTF-8''sample.m4b")
        assert got.headers["content-length"] == str(len(got.content))
        assert list(scratch.iterdir()) == []  # nothing left behind
        assert [p.name for p in (home / "exports").iterdir() if p.is_dir()] == []
        chapters, decoded = ffmpeg_view(got.content)
        assert [title for title, _ in chapters] == TITLES
        assert decoded == pytest.approx(seconds(manifest, {1, 2, 3}), abs=0.1)
        chunks = sorted(Store(home).chunks_dir(DOC).iterdir())
        chunks[0].unlink()  # page 1
        chunks[4].unlink()  # page 3
        gap = client.get(f"/api/documents/{DOC}/export?format=m4b")
        assert gap.status_code == 409
        error = gap.json()["error"]
        assert error["missingPages"] == "1,3"
        assert error["message"].startswith("2 pages (1,3) have no stored audio: pre-generate them")
        assert '"pages": "1,3"' in error["message"]
        assert client.head(f"/api/documents/{DOC}/export?format=srt").status_code == 409
        one = client.get(f"/api/documents/{DOC}/export?format=vtt&chapter=2")
        assert one.status_code == 409 and one.json()["error"]["missingPages"] == "3"
        assert one.json()["error"]["message"].startswith("page 3 has no stored audio")


def test_more_chapters_than_a_nero_box_holds(tmp_path: Path) -> None:
    """300 chapters: FFmpeg reads all 300 from the chapter track, mutagen the first 255
    from ``chpl``; the audio decodes to the samples written."""
    import numpy as np

    from preread.m4b import AacWriter, Chapter

    rate = 22050
    writer = AacWriter(rate, tmp_path / "scratch")
    tone = (np.sin(np.arange(3 * rate) * 0.05) * 8000).astype(np.int16)
    writer.write(tone)
    chapters = [Chapter(f"Part {n} — «{n}»", n * 200) for n in range(300)]
    out = tmp_path / "many.m4b"
    with out.open("wb") as f:
        writer.finish(f, chapters, {b"\xa9nam": "Many"})
    writer.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["many.m4b"]  # scratch removed
    found, decoded = ffmpeg_view(out)
    assert len(found) == 300
    assert found[299] == ("Part 299 — «299»", pytest.approx(299 * 200 / rate, abs=0.001))
    assert decoded == pytest.approx(3.0, abs=0.05)
    book = MP4(str(out))
    assert len(book.chapters) == 255 and book.chapters[254].title == "Part 254 — «254»"
