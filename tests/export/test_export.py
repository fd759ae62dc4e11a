"""``preread export`` and ``GET /api/documents/{id}/export``: one file with chapter marks,
or subtitles, from the stored chunks (the fake voice makes them), whole or not at all."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

import pytest
import soundfile as sf
from starlette.testclient import TestClient

from preread.cli import main
from preread.ids import document_id_of_bytes
from preread.server import create_app
from preread.settings import Settings, VoiceSettings
from preread.store import Store

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample.pdf"
DOC = document_id_of_bytes(SAMPLE.read_bytes())
id3: Any = importlib.import_module("mutagen.id3")


@pytest.fixture
def made(home: Path) -> Store:
    """sample.pdf pre-generated with the fake voice: 3 pages, 5 chunks, 2 chapters."""
    assert main(["--home", str(home), "preprocess", str(SAMPLE), "--provider", "fake", "-q"]) == 0
    return Store(home)


def decoded_seconds(path: Path) -> float:
    with sf.SoundFile(str(path)) as f:
        total = 0
        while len(block := f.read(65536)):
            total += len(block)
        return total / f.samplerate


def test_mp3_has_the_outline_as_chapters_and_plays_to_the_end(
    made: Store, home: Path, tmp_path: Path
) -> None:
    out = tmp_path / "book.mp3"
    assert main(["--home", str(home), "export", DOC[:10], "-o", str(out)]) == 0
    manifest = made.read_manifest(DOC)
    assert manifest is not None
    spoken = sum(c.duration or 0 for c in manifest.chunks)
    page_one = sum(c.duration or 0 for c in manifest.chunks if c.page == 1)
    tags = id3.ID3(str(out))
    (toc,) = tags.getall("CTOC")
    chapters = sorted(tags.getall("CHAP"), key=lambda c: c.start_time)
    assert toc.child_element_ids == [c.element_id for c in chapters]
    assert [c.sub_frames["TIT2"].text[0] for c in chapters] == [
        "1 The Path Along the Cliffs",
        "2 Inside the Tower",
    ]
    assert chapters[0].start_time == 0
    # chapter 2 starts where page 1's audio ends (each chunk loses its encoder padding)
    assert abs(chapters[1].start_time / 1000 - page_one) < 0.15
    assert chapters[1].end_time / 1000 == pytest.approx(decoded_seconds(out), abs=0.1)
    assert decoded_seconds(out) == pytest.approx(spoken, abs=0.1 * len(manifest.chunks))
    assert tags.getall("TIT2")[0].text[0] == "A Short Walk to the Lighthouse"


def test_a_chapter_as_subtitles_starts_at_zero_with_its_first_sentence(
    made: Store, home: Path, tmp_path: Path
) -> None:
    srt, vtt = tmp_path / "c2.srt", tmp_path / "c2.vtt"
    assert (
        main(["--home", str(home), "export", DOC, "--chapter", "2", "-f", "srt", "-o", str(srt)])
        == 0
    )
    assert (
        main(["--home", str(home), "export", DOC, "--chapter", "2", "-f", "vtt", "-o", str(vtt)])
        == 0
    )
    manifest = made.read_manifest(DOC)
    assert manifest is not None
    sentences = [s.text for c in manifest.chunks if c.page >= 2 for s in c.sentences]
    cues = srt.read_text().strip().split("\n\n")
    assert len(cues) == len(sentences)
    number, stamps, text = cues[0].split("\n")
    assert number == "1" and stamps.startswith("00:00:00,000 --> 00:00:0")
    assert text == sentences[0]
    assert cues[-1].split("\n")[2] == sentences[-1]
    web = vtt.read_text()
    assert web.startswith("WEBVTT\n\n00:00:00.000 --> ")
    assert web.count(" --> ") == len(sentences)


def test_missing_chunks_are_generated_and_stored_ones_are_not_touched(
    made: Store, home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chunks = made.chunks_dir(DOC)
    files = sorted(chunks.iterdir())
    files[2].unlink()
    before = {p.name: os.stat(p).st_ino for p in files if p.exists()}
    out = tmp_path / "book.mp3"
    assert main(["--home", str(home), "export", DOC, "-o", str(out)]) == 0
    assert "generating the audio of page 2, not stored yet" in capsys.readouterr().err
    after = {p.name: os.stat(p).st_ino for p in chunks.iterdir()}
    assert files[2].name in after
    assert all(after[name] == inode for name, inode in before.items())
    assert len(id3.ID3(str(out)).getall("CHAP")) == 2


def test_bad_requests_are_one_line_and_exit_2(
    made: Store, home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for args, message in (
        (["--chapter", "3"], "no chapter 3: this document has 2 chapters"),
        (["--chapter", "0"], "bad --chapter 0"),
        (["-f", "wav"], "bad --format 'wav'"),
    ):
        assert main(["--home", str(home), "export", DOC, "-o", str(tmp_path / "x"), *args]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "x").exists()


def test_a_broken_chunk_leaves_no_file_behind(
    made: Store, home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = sorted(made.chunks_dir(DOC).iterdir())[3]
    size = broken.stat().st_size
    broken.unlink()
    broken.write_bytes(b"\0" * size)  # same length as the manifest says, not audio
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    assert main(["--home", str(home), "export", DOC, "-o", str(out_dir / "book.mp3")]) == 1
    assert "is not an MP3 file" in capsys.readouterr().err
    assert list(out_dir.iterdir()) == []  # no partial file, no temp file


def test_the_download_route_serves_stored_audio_and_refuses_gaps(made: Store, home: Path) -> None:
    settings = Settings(home=home, voice=VoiceSettings(provider="fake"))
    with TestClient(create_app(settings)) as client:
        mp3 = client.get(f"/api/documents/{DOC}/export?format=mp3")
        assert mp3.status_code == 200 and mp3.headers["content-type"] == "audio/mpeg"
        disposition = "attachment; filename=\"sample.mp3\"; filename*=UTF-8''sample.mp3"
        assert mp3.headers["content-disposition"] == disposition
        assert mp3.content.startswith(b"ID3")
        vtt = client.get(f"/api/documents/{DOC}/export?format=vtt&chapter=1")
        assert vtt.status_code == 200 and vtt.text.startswith("WEBVTT")
        assert "chapter%201.vtt" in vtt.headers["content-disposition"]
        assert client.get(f"/api/documents/{DOC}/export?format=ogg").status_code == 400
        assert client.get(f"/api/documents/{DOC}/export?chapter=9").status_code == 404
        sorted(made.chunks_dir(DOC).iterdir())[4].unlink()
        gap = client.get(f"/api/documents/{DOC}/export")
        assert gap.status_code == 409
        assert gap.json()["error"]["missingPages"] == "3"
