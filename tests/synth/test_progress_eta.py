"""The preprocess ETA and real-time factor: from the characters synthesized, refreshed every
second, sane from the first chunk on."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from conftest import document_from_pages
from preread.preprocess import Progress, run_preprocess
from preread.settings import VoiceSettings
from preread.store import Store
from preread.throughput import Throughput
from preread.tts.fake import FakeProvider
from preread.tts.loudness import Levels


def test_the_first_estimate_ignores_the_start_up() -> None:
    """Ten 100-character chunks at 1 s each, after a 20 s voice load: 9 s are left after
    the first, whatever the load cost (the old estimate said 9 × 21 s)."""
    rate = Throughput(1000)
    assert rate.eta(now=5.0) is None and rate.real_time_factor is None
    rate.done(100)
    rate.synthesized(100, 1.0, 5.0, now=21.0)
    assert rate.chars_per_second == pytest.approx(100.0)
    assert rate.eta(now=21.0) == pytest.approx(9.0)
    assert rate.real_time_factor == pytest.approx(0.2)


def test_the_estimate_counts_down_between_chunks_and_never_goes_negative() -> None:
    rate = Throughput(400)
    rate.done(100)
    rate.synthesized(100, 2.0, 6.0, now=2.0)
    assert [rate.eta(now=t) for t in (2.0, 3.0, 4.0)] == pytest.approx([6.0, 5.0, 4.0])
    assert rate.eta(now=60.0) == 0.0


def test_two_workers_count_as_twice_the_rate() -> None:
    rate = Throughput(800)
    for now in (2.0, 2.1):  # both workers began at 0 and took 2 s for 100 characters
        rate.done(100)
        rate.synthesized(100, now, 4.0, now=now)
    assert rate.chars_per_second == pytest.approx(200 / 2.1)
    assert rate.eta(now=2.1) == pytest.approx(600 / (200 / 2.1))


def test_reused_and_failed_chunks_shrink_what_is_left() -> None:
    rate = Throughput(300)
    rate.done(100)
    rate.synthesized(100, 1.0, 3.0, now=1.0)
    rate.done(100)  # reused from the blob store: nothing to synthesize
    assert rate.eta(now=1.0) == pytest.approx(1.0)


def test_preprocess_reports_every_second_between_chunks(tmp_path: Path) -> None:
    """A slow engine (0.8 s a sentence, 3 sentences a block): the caller hears of the
    run at least once a second, and the ETA falls while no chunk arrives."""
    text = "One sentence here. Another one there. And a third one"
    document = document_from_pages([[text], [text + " too"]])
    reports: list[Progress] = []

    def seen(progress: Progress) -> None:
        reports.append(Progress(**progress.__dict__))

    # The voice's level is measured once per store (its reference text, five sentences of
    # 0.8 s here, and the calibration): done first, so this ETA is about chunks only.
    voice = VoiceSettings(provider="fake")
    Levels(tmp_path / "home").gain(FakeProvider(), FakeProvider().resolve(voice))
    summary = run_preprocess(
        Store(tmp_path / "home"),
        FakeProvider(delay=0.8),
        document,
        voice,
        on_progress=seen,
    )
    assert summary.state == "complete" and summary.generated == 2
    between = [r for r in reports if r.done == 1 and r.state == "running"]
    assert len(between) >= 2  # the second chunk takes ≈ 2.4 s: reports while it is made
    etas = [r.eta for r in between]
    assert all(e is not None for e in etas)
    assert etas == sorted(etas, key=lambda e: -(e or 0.0)) and etas[0] != etas[-1]
    assert all(b.elapsed > a.elapsed for a, b in itertools.pairwise(between))
    first = next(r for r in reports if r.eta is not None)
    assert first.eta is not None and first.eta < 10  # ≈ 2.4 s of work left, not minutes
    assert reports[-1].eta == 0.0 and reports[-1].real_time_factor is not None
