"""The preprocess progress bar keeps its figures on an 80-column terminal."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from preread.cli.audio import ProgressBar
from preread.preprocess import Progress


@pytest.mark.parametrize("width", [80, 120])
def test_progress_figures_survive_a_narrow_terminal(width: int) -> None:
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=False)
    bar = ProgressBar("A Rather Long Title of a Two-Column Document [draft]", console=console)
    bar.update(
        Progress("ab" * 32, total=494, done=120, failed=3, duration=150.0, eta=62.0,
                 real_time_factor=0.024)
    )  # fmt: skip
    console.print(bar.bar.make_tasks_table(bar.bar.tasks))
    line = out.getvalue()
    assert "123/494 chunks  2.5 min audio  ETA 1:02  RTF 0.024  3 failed" in line
    if width >= 120:
        assert "A Rather" in line  # some of the title, markup-like brackets harmless


def test_clock() -> None:
    from preread.cli.audio import clock

    assert (clock(0), clock(62.4), clock(3600 + 62)) == ("0:00", "1:02", "1:01:02")


def test_failures_are_reported_in_chunk_order(capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    from preread.cli.audio import _print_summary
    from preread.preprocess import Summary

    progress = Progress("ab" * 32, total=3, failed=2, state="failed")
    summary = Summary(progress, Path("/x"), failures=[(2, "late"), (0, "early")])
    _print_summary(summary, "T")
    out = capsys.readouterr().out
    assert out.index("chunk 0 failed: early") < out.index("chunk 2 failed: late")
    assert [f["index"] for f in summary.to_json()["failures"]] == [0, 2]
