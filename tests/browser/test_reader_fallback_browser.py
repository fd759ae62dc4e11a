"""Blocks another voice spoke, in the reader (headless Chromium, a real ``preread serve``):
the status line counts the blocks a fallback voice spoke (a document made by the engine
chain ``openai,fake`` with the primary, a local OpenAI-protocol server, failing on some
blocks), and a block espeak-ng spoke as the last resort (German in a document read by an
English-only voice) shows the "robotic voice" badge, named for assistive technology."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from readerkit import Served, wait_js

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


ENGLISH = (
    "The walkers left the village early and followed the path along the cliffs.",
    "Gulls circled above the bay while the tide came slowly in over the rocks.",
    "By noon they could see the white tower standing against a grey sky.",
    "Nobody had lived in the keeper's house for more than twenty years.",
    "Inside, the stairs wound up past narrow windows to the lamp room.",
    "They ate their lunch on the gallery and watched the ships go by.",
)
GERMAN = (
    "Der Leuchtturm steht seit über hundert Jahren am Ende der Klippen.",
    "Früher wohnte der Wärter mit seiner Familie im kleinen Haus daneben.",
    "Heute kommen nur noch Wanderer hierher, um die Aussicht zu genießen.",
    "Bei klarem Wetter sieht man die Inseln weit draußen im Meer.",
    "Am Abend leuchtet das Licht wieder, doch niemand muss es mehr anzünden.",
)


def test_a_block_the_last_resort_spoke_shows_the_robotic_voice_badge(
    sample_server: Served, browser: Any
) -> None:
    """Two English sections and a German one (long enough for the language to switch),
    uploaded to the shared server; the German page pre-generated with espeak-ng's English
    voice, which does not speak German: espeak-ng's German voice speaks it instead, as the
    last resort (the manifest's ``spokenBy``), and the reader badges that block only."""
    base = sample_server.base
    text = (
        f"# The walk\n\n{' '.join(ENGLISH)}\n\n# Home again\n\n{' '.join(ENGLISH[:5])}\n\n"
        f"# Der Turm\n\n{' '.join(GERMAN)}\n"
    )
    files = {"file": ("tower.md", text.encode(), "text/markdown")}
    answer = httpx.post(f"{base}/api/documents", files=files, timeout=60)
    assert answer.status_code in (200, 201), answer.text
    doc = answer.json()["documentId"]
    body = {"documentId": doc, "provider": "espeak", "voice": "en", "pages": "3"}
    answer = httpx.post(f"{base}/api/tts/preprocess", json=body, timeout=30)
    assert answer.status_code in (200, 202), answer.text
    deadline = time.monotonic() + 60
    while True:
        status = httpx.get(f"{base}/api/tts/preprocess/status?documentId={doc}", timeout=30).json()
        if status["state"] not in ("queued", "running"):
            break
        assert time.monotonic() < deadline, status
        time.sleep(0.1)
    chunks = httpx.get(f"{base}/api/documents/{doc}", timeout=30).json()["chunks"]
    robotic = [i for i, c in enumerate(chunks) if (c.get("spokenBy") or {}).get("robotic")]
    assert [chunks[i]["page"] for i in robotic] == [3]
    assert chunks[robotic[0]]["spokenBy"]["kind"] == "last-resort"
    assert all(c["status"] == "pending" for c in chunks if c["page"] != 3)

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/read/{doc}")
    page.wait_for_selector("body[data-ready]")
    name = "Robotic voice: no natural voice here speaks German, so espeak-ng reads this block"
    badge = page.get_by_role("note", name=name, exact=True)
    assert not page.is_visible("#voice-badge")  # an English block, the document's voice
    ci = robotic[0]
    page.click(f'.s[data-ci="{ci}"][data-si="1"]')
    wait_js(page, f"window.prereadReader.player.playing && window.prereadReader.player.ci === {ci}")
    assert badge.is_visible()
    assert badge.inner_text() == "robotic voice"
    assert page.is_hidden("#live-badge")  # stored audio, not live
    page.click("#play")  # pause; back to the English block before it: no badge
    wait_js(page, "!window.prereadReader.player.playing")
    page.click("#prev-block")
    page.click("#prev-block")
    assert page.eval_on_selector(".s.now", "e => Number(e.dataset.ci)") == ci - 1
    assert not page.is_visible("#voice-badge")
    assert page.get_by_role("note", name=name).count() == 0
    page.click("#next-block")  # and forward again, without playing
    assert badge.is_visible()
    assert errors == []
    context.close()
