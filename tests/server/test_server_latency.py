"""Synthesis times per provider: the store's bounded journal, ``preread stats``, and the
server's ``/healthz`` and ``/metrics`` for an engine chain (real local OpenAI-protocol
server as the primary)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from openai_server import SpeechServer
from preread.cli import main
from preread.latency import SynthesisLog, percentile, summarize
from preread.library import Library
from preread.model import Block, DocumentText
from preread.settings import Settings
from promtext import value


def _document(n: int) -> DocumentText:
    blocks = tuple(
        Block(i, 1, i, f"Latency block {i} speaks.", (f"Latency block {i} speaks.",))
        for i in range(n)
    )
    return DocumentText("ab" * 32, "latency.pdf", "Latency", 1, blocks=blocks)


@pytest.fixture
def speech() -> Iterator[SpeechServer]:
    with SpeechServer() as running:
        running.retry_after_on_500 = "0"
        yield running


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.95)) == (50.0, 95.0)
    assert percentile([3.0], 0.95) == 3.0
    summary = summarize([("a", 1.0), ("b", 4.0), ("a", 3.0), ("a", 2.0)])
    assert summary == {
        "a": {"count": 3, "p50": 2.0, "p95": 3.0},
        "b": {"count": 1, "p50": 4.0, "p95": 4.0},
    }


def test_the_journal_is_bounded_and_skips_what_it_cannot_read(tmp_path: Path) -> None:
    log = SynthesisLog(tmp_path / "stats" / "synthesis.tsv", keep=50)
    assert log.samples() == [] and log.summary() == {}
    for n in range(400):
        log.record("openai" if n % 2 else "piper", n / 100, 300)
    kept = log.samples()
    assert len(kept) == 50 and kept[-1] == ("openai", 3.99)  # the most recent ones
    assert len(log.path.read_bytes().splitlines()) <= 2 * 50 * 2  # cut as it grows
    with open(log.path, "ab") as handle:
        handle.write(b"garbage\n1\topenai\tnan\t3\n1\topenai\t-1\t3\n")
    log.record("openai", 9.0, 10)
    kept = log.samples()
    assert len(kept) == 50 and kept[-1] == ("openai", 9.0) and ("openai", -1.0) not in kept
    assert log.summary()["openai"]["p95"] == 3.99  # nearest rank: 9.0 is the one above


def test_stats_show_p50_p95_per_provider_of_what_was_made(
    home: Path, speech: SpeechServer, capsys: pytest.CaptureFixture[str]
) -> None:
    speech.fail_when = lambda text: "block 3" in text or "block 4" in text
    settings = Settings.load(
        {
            "PREREAD_PROVIDER": "openai,fake",
            "OPENAI_BASE_URL": speech.base_url,
            "PREREAD_OPENAI_RETRIES": "0",
        },
        home=str(home),
    )
    library = Library(settings)
    try:
        assert library.pregenerate(_document(5)).state == "complete"
    finally:
        library.close()
    assert main(["stats", "--home", str(home), "--json"]) == 0
    synthesis = json.loads(capsys.readouterr().out)["synthesis"]
    assert {name: v["count"] for name, v in synthesis.items()} == {"fake": 2, "openai": 3}
    assert 0 < synthesis["openai"]["p50"] <= synthesis["openai"]["p95"]
    assert main(["stats", "--home", str(home)]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "synthesis" in line]
    assert len(lines) == 2 and re.match(r"synthesis  fake: P50 \d+\.\d\d s, P95", lines[0])
    assert lines[1].endswith("per chunk (last 3)")


def test_healthz_lists_breakers_and_metrics_count_fallbacks(
    home: Path, speech: SpeechServer
) -> None:
    from serverkit import quiet_options
    from starlette.testclient import TestClient

    from preread.server import create_app

    speech.default = "401"  # the primary refuses: its breaker opens at once
    env = {"PREREAD_PROVIDER": "openai,fake", "OPENAI_BASE_URL": speech.base_url}
    app = create_app(Settings.load(env, home=str(home)), options=quiet_options())
    with TestClient(app) as client:
        health = client.get("/healthz").json()
        assert health["providers"] == {
            "openai": {"breaker": "closed"},
            "fake": {"breaker": "closed"},
        }
        library: Library = app.state.preread.library
        library.pregenerate(_document(3))
        health = client.get("/healthz")
        assert health.status_code == 200 and health.json()["status"] == "ok"  # fake speaks
        providers = health.json()["providers"]
        assert providers["openai"]["breaker"] == "open" and "401" in providers["openai"]["reason"]
        assert providers["fake"] == {"breaker": "closed"}
        text = client.get("/metrics").text
        for series in (
            'preread_synthesis_seconds_count{provider="fake"} 3',
            'preread_fallback_chunks_total{provider="fake"} 3',
            'preread_breaker_state{provider="openai",state="open"} 1',
            'preread_breaker_state{provider="openai",state="closed"} 0',
            'preread_breaker_state{provider="fake",state="closed"} 1',
        ):
            assert re.search(re.escape(series) + r"(\.0)?\n", text), series
        assert value(text, "preread_synthesis_seconds_bucket", provider="fake", le="+Inf") == 3
        library.engines.breaker("fake").trip("test: the fallback is down too")
        down = client.get("/healthz")
        assert down.status_code == 503 and down.json()["status"] == "degraded"
