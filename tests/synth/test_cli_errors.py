"""Every CLI error is one line on stderr with the contract's exit code, usage errors too."""

from __future__ import annotations

from pathlib import Path

import pytest

from preread.cli import main

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "sample.pdf"


def one_line_error(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("preread: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and "Usage:" not in err
    return code, err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nosuchcmd"], "No such command 'nosuchcmd'"),
        (["preprocess"], "Missing argument 'DOC'"),
        (["list", "--bogus"], "No such option: --bogus (see 'preread list --help')"),
        (["preprocess", "x.pdf", "--speed", "abc"], "Invalid value for '--speed'"),
        (["serve", "--port", "0"], "Invalid value for '--port'"),
        (["cleanup", "--max-size"], "'--max-size' requires an argument"),
    ],
)
def test_usage_errors_are_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, err = one_line_error(capsys, *args)
    assert code == 2 and message in err


def test_bare_preread_still_shows_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "Commands:" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["blocks", "preprocess", "status", "delete"])
def test_doc_that_is_a_directory_or_a_short_prefix(
    capsys: pytest.CaptureFixture[str], home: Path, tmp_path: Path, command: str
) -> None:
    extra = ["--provider", "fake"] if command == "preprocess" else []
    code, err = one_line_error(capsys, command, str(tmp_path), "--home", str(home), *extra)
    assert code == 2 and f"not a file: {tmp_path}" in err
    code, err = one_line_error(capsys, command, "67c1aa3", "--home", str(home), *extra)
    assert code == 2 and "needs at least 8 hex characters" in err
    code, err = one_line_error(capsys, command, "nothere.pdf", "--home", str(home), *extra)
    assert code == 2 and err == "preread: error: no such file: nothere.pdf\n"


@pytest.mark.parametrize(
    "args",
    [["list"], ["stats"], ["cleanup"], ["status", str(SAMPLE)], ["blocks", str(SAMPLE)]],
)
def test_home_and_debug_before_or_after_the_command(
    capsys: pytest.CaptureFixture[str], home: Path, args: list[str]
) -> None:
    assert main([*args, "--home", str(home), "--debug"]) == 0
    after = capsys.readouterr()
    assert main(["--home", str(home), "--debug", *args]) == 0
    before = capsys.readouterr()
    assert after.err == before.err and "error" not in after.err
    assert "Usage" not in after.out


def test_debug_after_the_command_gives_the_traceback(
    capsys: pytest.CaptureFixture[str], home: Path
) -> None:
    for command in ("status", "delete"):
        assert main([command, "0123456789", "--home", str(home), "--debug"]) == 2
        err = capsys.readouterr().err
        assert "Traceback" in err and err.endswith(
            "preread: error: no document with id 0123456789\n"
        )


def test_a_store_that_cannot_be_a_directory(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    afile = tmp_path / "afile"
    afile.write_text("not a directory")
    code, err = one_line_error(capsys, "stats", "--home", str(afile))
    assert code == 2 and "is not a directory" in err
    # under a file: the disk says no; one line, exit 1, not an "internal error"
    args = ["preprocess", str(SAMPLE), "--provider", "fake", "--home", str(afile / "x")]
    code, err = one_line_error(capsys, *args)
    assert code == 1 and err.startswith("preread: error: Not a directory: ")
