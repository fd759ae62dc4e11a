"""Settings, units, ids, atomic files, locks and the manifest's JSON round trip."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from preread.errors import BadInput, BadSettings, Conflict, NotFound
from preread.fsutil import FileLock, atomic_write
from preread.ids import check_id_or_prefix, document_id_of_bytes, resolve_prefix
from preread.manifest import ChunkEntry, Manifest, SentenceTime, chunk_file_name
from preread.settings import Settings
from preread.store import Store
from preread.units import parse_duration, parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5GB", 5 * 10**9),
        ("500MB", 500 * 10**6),
        ("5GiB", 5 * 2**30),
        ("1234", 1234),
        ("1.5kb", 1500),
    ],
)
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "GB", "-5GB", "5XB", "0"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(BadSettings):
        parse_size(text)


def test_parse_duration() -> None:
    assert parse_duration("7d") == 7 * 86400
    assert parse_duration("30m") == 1800
    assert parse_duration("90") == 90
    with pytest.raises(BadSettings):
        parse_duration("soon")


def test_settings_flag_beats_env_beats_default(tmp_path: Path) -> None:
    env = {"PREREAD_HOME": str(tmp_path / "env"), "PREREAD_SPEED": "1.5", "PREREAD_VOICE": "amy"}
    settings = Settings.load(env, home=str(tmp_path / "flag"), speed=None)
    assert settings.home == tmp_path / "flag"
    assert settings.voice.speed == 1.5
    assert settings.voice.voice == "amy"
    assert settings.voice.provider == "piper"
    assert settings.max_bytes == 5 * 10**9
    assert Settings.load({}, speed=2.0).voice.speed == 2.0


@pytest.mark.parametrize("speed", ["0", "10", "fast"])
def test_settings_reject_bad_speed(speed: str) -> None:
    with pytest.raises(BadSettings):
        Settings.load({"PREREAD_SPEED": speed})


def test_secrets_not_in_repr() -> None:
    settings = Settings.load({"OPENAI_API_KEY": "sk-secret-123", "PREREAD_API_TOKEN": "tok-456"})
    assert "sk-secret-123" not in repr(settings)
    assert "tok-456" not in repr(settings)


def test_ids_and_prefixes() -> None:
    full = document_id_of_bytes(b"pdf")
    assert check_id_or_prefix(full.upper()) == full
    assert resolve_prefix(full[:8], [full, "f" * 64]) == full
    for bad in ("../etc/passwd", "abc", "g" * 64, full + "0"):
        with pytest.raises(BadInput):
            check_id_or_prefix(bad)
    with pytest.raises(NotFound):
        resolve_prefix("0" * 8, [full])
    with pytest.raises(BadInput):
        resolve_prefix("a" * 8, ["a" * 64, "a" * 63 + "b"])


def test_store_refuses_unchecked_ids(store: Store) -> None:
    with pytest.raises(ValueError):
        store.doc_dir("../../etc")


def test_atomic_write_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "file.bin"
    atomic_write(target, b"one")
    atomic_write(target, b"two")
    assert target.read_bytes() == b"two"
    assert os.listdir(target.parent) == ["file.bin"]


@pytest.mark.parametrize("durable", [True, False])
def test_atomic_write_fails_whole(tmp_path: Path, durable: bool) -> None:
    target = tmp_path / "file.bin"
    atomic_write(target, b"old", durable=durable)

    def pieces() -> Iterator[bytes]:
        yield b"new"
        raise OSError("no space left")

    with pytest.raises(OSError, match="no space"):
        atomic_write(target, pieces(), durable=durable)
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["file.bin"]  # the temp file removed


def test_file_lock_excludes_second_holder(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    with FileLock(path) as first:
        assert first.held
        assert FileLock(path).is_locked_elsewhere()
        with pytest.raises(Conflict):
            FileLock(path).acquire(blocking=False)
    assert not FileLock(path).is_locked_elsewhere()


def test_chunk_file_name() -> None:
    assert chunk_file_name(0, 1, 0, "mp3") == "0001__page-001__block-000.mp3"
    assert chunk_file_name(122, 14, 3, "opus") == "0123__page-014__block-003.opus"


texts = st.text(min_size=0, max_size=40)


@given(
    title=texts,
    chunk_texts=st.lists(texts, max_size=5),
    speed=st.floats(min_value=0.25, max_value=4.0),
)
def test_manifest_json_round_trip(title: str, chunk_texts: list[str], speed: float) -> None:
    manifest = Manifest(
        document_id="a" * 64,
        source_name="doc.pdf",
        title=title,
        pages=3,
        tts_provider="piper",
        tts_model="en_US-joe-medium",
        voice="joe",
        native_speed=speed,
        format="mp3",
        chunks=[
            ChunkEntry(
                i, 1, i, t, chunk_file_name(i, 1, i, "mp3"), sentences=[SentenceTime(t, 0, 1)]
            )
            for i, t in enumerate(chunk_texts)
        ],
    )
    again = Manifest.loads(manifest.dumps())
    assert again == manifest
    assert again.to_json()["chunks"] == manifest.to_json()["chunks"]


def test_manifest_ignores_unknown_fields() -> None:
    data = {"documentId": "b" * 64, "future": 1, "chunks": [], "ttsProvider": "piper"}
    assert Manifest.from_json(data).document_id == "b" * 64


def test_stale_temps_of_a_dead_writer_are_removed(tmp_path: Path) -> None:
    """A temp file (``.NAME.PID.NS.tmp``) whose writer is gone goes; one of a living
    writer (this process, or another one running) and a finished file stay."""
    import subprocess
    import sys

    from preread.chunk_folder import remove_stale_temps

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) as running:
        try:
            names = {
                "dead": f".0001.mp3.{int(gone.stdout)}.1.tmp",
                "self": f".0002.mp3.{os.getpid()}.1.tmp",
                "running": f".0003.mp3.{running.pid}.1.tmp",
                "whole": "0004.mp3",
            }
            for name in names.values():
                (tmp_path / name).write_bytes(b"x")
            remove_stale_temps(tmp_path)
            left = {p.name for p in tmp_path.iterdir()}
        finally:
            running.kill()
    assert left == {names["self"], names["running"], names["whole"]}
