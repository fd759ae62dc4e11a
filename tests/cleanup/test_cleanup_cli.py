"""``preread cleanup`` and ``preread stats`` through ``preread.cli.main``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from synthstore import T0, SynthStore, content, disk_usage, doc_id

from preread.cli import main
from preread.fsutil import FileLock
from preread.lifecycle.cleanup import CLEANUP_LOCK_NAME
from preread.store import Store

DAY = 86400.0
SAMPLE_PDF = Path(__file__).resolve().parents[2] / "examples" / "sample.pdf"


@pytest.fixture
def filled(store: Store) -> Store:
    synth = SynthStore(store)
    for n in range(6):
        synth.add_document(
            doc_id(n), [content(f"{n}-{i}") for i in range(3)], at=T0 + n * DAY, title=f"Book {n}"
        )
    return store


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_silent_and_exit_0_when_under_the_limit(
    filled: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "cleanup", "--home", str(filled.home)) == (0, "", "")  # 5 GB default
    assert len(filled.cached_ids()) == 6


def test_prints_what_it_removed_and_freed(
    filled: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    before = disk_usage(filled.home)
    code, out, err = run(capsys, "cleanup", "--home", str(filled.home), "--max-size", "100KB")
    assert code == 0 and err == ""
    after = disk_usage(filled.home)
    assert after <= 100_000 < before
    lines = out.splitlines()
    assert lines[0].startswith("preread cleanup: freed ")
    assert "store now" in lines[0] and "of 100.0 KB" in lines[0]
    removed = [line for line in lines if line.startswith("  removed ")]
    assert removed and removed[0].startswith(f'  removed {doc_id(0)[:12]} "Book 0" (last used')
    assert len(removed) == 6 - len(filled.cached_ids())


def test_env_limit_and_json(
    filled: Store, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREREAD_MAX_BYTES", "100KB")
    code, out, _ = run(capsys, "cleanup", "--home", str(filled.home), "--json")
    assert code == 0
    report = json.loads(out)
    assert report["limit"] == 100_000
    assert report["sizeAfter"] == disk_usage(filled.home) <= 100_000
    assert report["freedBytes"] == report["sizeBefore"] - report["sizeAfter"] > 0
    assert [r["documentId"] for r in report["removed"]][:1] == [doc_id(0)]


def test_dry_run_says_what_it_would_remove_and_removes_nothing(
    filled: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    before = disk_usage(filled.home)
    code, out, _ = run(
        capsys, "cleanup", "--home", str(filled.home), "--max-size", "100KB", "--dry-run"
    )
    assert code == 0
    assert "would free" in out and "dry run: nothing changed" in out
    assert f"  would remove {doc_id(0)[:12]}" in out
    assert disk_usage(filled.home) == before and len(filled.cached_ids()) == 6


def test_older_than(filled: Store, capsys: pytest.CaptureFixture[str]) -> None:
    os.utime(filled.manifest_path(doc_id(5)))  # regenerated just now: used
    os.utime(filled.doc_dir(doc_id(5)), (T0, T0))
    code, out, _ = run(capsys, "cleanup", "--home", str(filled.home), "--older-than", "7d")
    assert code == 0 and out.count("  removed ") == 5
    assert filled.cached_ids() == {doc_id(5)}


def test_bad_flags_exit_2_with_one_line(filled: Store, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "cleanup", "--home", str(filled.home), "--older-than", "soon")
    assert code == 2 and out == "" and err.startswith("preread: error: bad duration")
    assert len(err.strip().splitlines()) == 1
    code, out, err = run(capsys, "cleanup", "--home", str(filled.home), "--max-size", "lots")
    assert code == 2 and err.startswith("preread: error: bad size")
    assert len(filled.cached_ids()) == 6


def test_another_cleanup_running_exits_0(filled: Store, capsys: pytest.CaptureFixture[str]) -> None:
    with FileLock(filled.locks_dir / CLEANUP_LOCK_NAME):
        code, out, _ = run(capsys, "cleanup", "--home", str(filled.home), "--max-size", "1")
    assert code == 0 and "another cleanup is running" in out
    assert len(filled.cached_ids()) == 6


def test_stats(filled: Store, capsys: pytest.CaptureFixture[str]) -> None:
    SynthStore(filled).add_document(doc_id("dup"), [content("0-0"), content("0-1")], at=T0 + DAY)
    code, out, _ = run(capsys, "stats", "--home", str(filled.home), "--json")
    assert code == 0
    stats = json.loads(out)
    assert stats["totalSize"] == disk_usage(filled.home)
    assert stats["limit"] == 5 * 10**9
    assert stats["documentsCount"] == 7
    assert stats["oldestDocument"]["documentId"] == doc_id(0)
    assert stats["oldestDocument"]["title"] == "Book 0"
    assert stats["newestDocument"]["documentId"] == doc_id(5)
    assert stats["blobsCount"] == 18
    assert stats["dedupSavedBytes"] == 2 * len(content("x"))  # two chunks shared with Book 0
    code, out, _ = run(capsys, "stats", "--home", str(filled.home))
    assert code == 0
    assert "documents  7" in out and "oldest     " + doc_id(0)[:12] + ' "Book 0"' in out


def test_stats_of_an_empty_store(home: object, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "stats", "--home", str(home), "--json")
    stats = json.loads(out)
    assert code == 0 and stats["totalSize"] == 0 and stats["oldestDocument"] is None


def test_a_store_that_does_not_exist_yet_is_left_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nothing here"
    assert run(capsys, "cleanup", "--home", str(missing), "--max-size", "1") == (0, "", "")
    assert not missing.exists()


def test_kept_documents_read_as_a_sentence() -> None:
    from preread.cli.cleanup import format_report
    from preread.lifecycle.cleanup import CleanupReport, KeptDocument

    report = CleanupReport(max_bytes=1000, size_before=5000, size_after=5000)
    report.kept = [
        KeptDocument(doc_id(1), "busy", T0),
        KeptDocument(doc_id(2), "pinned", T0),
        KeptDocument(doc_id(3), "busy", T0),
    ]
    lines = format_report(report, pin_minutes=30, now=T0)
    assert lines[-1] == (
        "  still over the limit; kept 3 documents: 2 being preprocessed now (a run holds its"
        " lock), 1 used in the last 30 min (PREREAD_PIN_MINUTES)"
    )


@pytest.mark.parametrize(
    ("pin", "reason"),
    [
        (None, "2 used in the last 30 min (PREREAD_PIN_MINUTES)"),
        ("0", "2 changed in the last 10 min (PREREAD_GRACE_MINUTES)"),
    ],
)
def test_right_after_a_run_cleanup_says_which_setting_keeps_the_documents(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    home: Path,
    pin: str | None,
    reason: str,
) -> None:
    h = ["--home", str(home)]
    copy = home.parent / "copy.pdf"  # a second document: other bytes, same text
    copy.write_bytes(SAMPLE_PDF.read_bytes() + b"\n% another file, another document\n")
    for pdf in (SAMPLE_PDF, copy):
        code, _, _ = run(capsys, "preprocess", str(pdf), *h, "--provider", "fake", "--quiet")
        assert code == 0
    if pin is not None:
        monkeypatch.setenv("PREREAD_PIN_MINUTES", pin)
    code, out, _ = run(capsys, "cleanup", *h, "--max-size", "1KB")
    assert code == 0
    assert out.splitlines()[-1] == f"  still over the limit; kept 2 documents: {reason}"
    assert "being written" not in out
