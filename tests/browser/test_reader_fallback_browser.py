"""The reader's status line counts the blocks a fallback voice spoke: a document made
by the engine chain ``openai,fake`` with the primary (a local OpenAI-protocol server)
failing on some blocks, opened in headless Chromium against a real ``preread serve``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from liveserver import running_server
from openai_server import SpeechServer
from preread.cli import main
from preread.ids import document_id_of_bytes

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "sample.pdf"
DOC = document_id_of_bytes(SAMPLE.read_bytes())

pytestmark = pytest.mark.slow


def test_the_status_line_counts_blocks_by_a_fallback_voice(
    browser: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    with SpeechServer() as speech:
        speech.fail_when = lambda text: len(text) % 2 == 1  # the primary fails on some blocks
        speech.retry_after_on_500 = "0"
        monkeypatch.setenv("PREREAD_PROVIDER", "openai,fake")
        monkeypatch.setenv("OPENAI_BASE_URL", speech.base_url)
        monkeypatch.setenv("PREREAD_BREAKER_COOLDOWN", "0.1")
        assert main(["--home", str(home), "preprocess", str(SAMPLE), "-q"]) == 0
    manifest = json.loads((home / "tts_cache_v1" / DOC / "tts.meta.json").read_text())
    chunks = manifest["chunks"]
    assert all(c["status"] == "done" for c in chunks)
    by_fallback = sum(1 for c in chunks if c.get("spokenBy"))
    assert by_fallback > 0
    with running_server(home) as (base, _process):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/read/{DOC}")
        page.wait_for_selector("body[data-ready]")
        blocks = "block" if by_fallback == 1 else "blocks"
        line = page.inner_text("#doc-state")
        assert line.startswith(f"Pre-generated ✓ · {len(chunks)} blocks"), line
        assert line.endswith(f", {by_fallback} {blocks} by a fallback voice"), line
        assert errors == []
        context.close()
