"""The reader's pre-generate dialog in headless Chromium against a real ``preread serve``:
changing the voice or the speed when stored audio has other settings asks whether to
regenerate (and yes starts the job); a page range; cancel stops the job while the
library shows it generating; the store panel (size against the limit) and clearing
the document's audio.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from readerkit import (
    DOC,
    Console,
    Served,
    ensure_stored,
    job_status,
    open_reader,
    served_sample,
    text_of,
    wait_js,
    wait_text,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
    yield context
    context.close()


def manifest(base: str) -> dict[str, Any]:
    return dict(httpx.get(f"{base}/api/documents/{DOC}", timeout=30).json())


def test_voice_or_speed_change_asks_to_regenerate(sample_server: Served, context: Any) -> None:
    base = sample_server.base
    ensure_stored(base)
    console = Console()
    page = open_reader(context, base, console)
    assert not page.is_visible("#pregen")

    # Another voice for a document whose audio is stored with "tone": the dialog asks.
    page.select_option("#voice", "low")
    page.wait_for_selector("#pregen[open]")
    warning = wait_text(page, "#pg-warning", "regenerates it")
    assert "voice tone at speed 1" in warning and "with low at 1" in warning
    assert page.is_visible("#pg-warning")
    assert text_of(page, "#pg-start") == "Regenerate"
    assert page.input_value("#pg-voice") == "low"

    with page.expect_response(lambda r: r.request.method == "POST" and "/preprocess" in r.url) as r:
        page.click("#pg-start")  # yes: a job regenerates it with the new voice
    assert r.value.status == 202 and r.value.json()["jobId"]
    assert r.value.request.post_data_json["voice"] == "low"
    wait_js(page, "document.getElementById('pg-bar').value === 100", 30)
    assert "100 %" in text_of(page, "#pg-text")
    stored = manifest(base)
    assert stored["voice"] == "low"
    assert {c["status"] for c in stored["chunks"]} == {"done"}
    wait_text(page, "#doc-state", "voice low")
    page.click("#pg-close")

    # Same voice, another speed: asks again; closing the dialog (no) changes nothing.
    page.click("#open-pregen")
    page.wait_for_selector("#pregen[open]")
    assert not page.is_visible("#pg-warning")
    assert text_of(page, "#pg-start") == "Start"
    page.fill("#pg-speed", "1.5")
    warning = wait_text(page, "#pg-warning", "regenerates it")
    assert "voice low at speed 1" in warning and "with low at 1.5" in warning
    assert text_of(page, "#pg-start") == "Regenerate"
    page.click("#pg-close")
    assert job_status(base)["state"] == "complete"
    assert manifest(base)["nativeSpeed"] == 1.0
    assert console.errors == []


def test_store_panel_and_clearing_the_document(sample_server: Served, context: Any) -> None:
    base = sample_server.base
    ensure_stored(base)
    page = open_reader(context, base)
    page.click("#open-pregen")
    page.wait_for_selector("#pregen[open]")
    store = wait_text(page, "#store-text", "used by")
    assert re.fullmatch(r"\d+ KB of 50 MB used by \d documents?; this one: \d+ KB\.", store), store
    width = page.eval_on_selector("#store-meter", "e => parseFloat(e.style.width)")
    assert 0 < width < 100
    before = httpx.get(f"{base}/api/tts/preprocess/stats", timeout=30).json()["totalSize"]

    page.once("dialog", lambda d: d.dismiss())  # "Delete this document's stored audio?" no
    page.click("#clear-cache")
    assert job_status(base)["done"] == 2

    page.once("dialog", lambda d: d.accept())  # yes
    page.click("#clear-cache")
    wait_text(page, "#pg-text", "Cleared this document's audio.")
    wait_text(page, "#store-text", "this one: 0 B")
    assert page.is_disabled("#clear-cache")
    assert text_of(page, "#doc-state").startswith("Not generated")
    assert job_status(base)["done"] == 0
    after = httpx.get(f"{base}/api/tts/preprocess/stats", timeout=30).json()["totalSize"]
    assert after < before


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The fake voice taking 0.6 s a sentence, so a job runs long enough to be cancelled;
    nothing pre-generated."""
    home = tmp_path_factory.mktemp("pregen-slow") / "home"
    with served_sample(home, pages=None, PREREAD_FAKE_DELAY="0.6") as served:
        yield served


def test_page_range_progress_cancel_and_library_badge(slow_server: Served, context: Any) -> None:
    base = slow_server.base
    page = open_reader(context, base)
    page.click("#open-pregen")
    page.wait_for_selector("#pregen[open]")
    wait_js(page, "document.getElementById('est-chars').textContent === '1,749'")  # all pages
    page.check('input[name="scope"][value="range"]')
    page.fill("#pg-from", "2")
    page.fill("#pg-to", "3")
    wait_js(page, "document.getElementById('est-chars').textContent === '1,127'")  # pages 2-3
    with page.expect_response(lambda r: r.request.method == "POST" and "/preprocess" in r.url) as r:
        page.click("#pg-start")
    assert r.value.request.post_data_json["pages"] == "2-3"
    assert r.value.json()["total"] == 3  # pages 2 and 3: three blocks
    wait_text(page, "#pg-text", "of 3 blocks")  # "Generating: N % (d of 3 blocks…)"
    assert page.is_visible("#pg-cancel")

    # Meanwhile the library shows the job.
    library = context.new_page()
    library.goto(base + "/")
    badge = f'li[data-id="{DOC}"] [data-role="audio-state"]'
    library.wait_for_selector(badge)
    assert re.fullmatch(r"generating \d+ %|queued", library.inner_text(badge))
    library.close()

    page.click("#pg-cancel")
    wait_text(page, "#pg-text", "Job cancelled.")
    assert not page.is_visible("#pg-cancel")
    assert page.is_enabled("#pg-start")
    status = job_status(base)
    assert status["state"] == "cancelled"
    assert status["done"] < 3
    bar = page.eval_on_selector("#pg-bar", "e => e.value")
    assert bar < 100
    page.wait_for_timeout(1000)  # (more than two sentences' time: nothing moves)
    assert job_status(base)["done"] == status["done"]
    assert page.eval_on_selector("#pg-bar", "e => e.value") == bar

    # The range again, page 3 only this time: done, and only page 3 is stored.
    page.fill("#pg-from", "3")
    wait_js(page, "document.getElementById('est-chars').textContent === '393'")
    page.click("#pg-start")
    wait_js(page, "document.getElementById('pg-bar').value === 100", 30)
    chunks = manifest(base)["chunks"]
    assert all(c["status"] == "done" for c in chunks if c["page"] == 3)
    assert all(c["status"] != "done" for c in chunks if c["page"] == 1)
