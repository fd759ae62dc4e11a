"""The reader's start-up path in headless Chromium against a real ``preread serve``: the
document comes in the page (no request) and its first stored chunk from the ``<audio>``
js/boot.js loads from the page's head, which the player adopts (one request); Play works
before the modules run (boot.js plays that element, the player takes it over playing);
with the remembered position elsewhere that chunk is loaded so, not the first; the modules
the first audio does not need load after its chunk was asked for, a chunk asked for
twice while on its way is fetched once, and the service worker is still registered."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from readerkit import wait_js

from liveserver import running_server
from preread.cli import main
from preread.ids import document_id_of_bytes

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "sample.pdf"
DOC = document_id_of_bytes(SAMPLE.read_bytes())

pytestmark = pytest.mark.slow


def test_start_up_requests(browser: Any, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    assert main(["--home", str(home), "preprocess", str(SAMPLE), "--provider", "fake", "-q"]) == 0
    with running_server(home) as (base, _process):
        context = browser.new_context()
        page = context.new_page()
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url.replace(base, "")))
        response = page.goto(f"{base}/read/{DOC}")
        assert response is not None
        page.wait_for_selector("body[data-ready]")
        wait_js(page, "await navigator.serviceWorker.getRegistration()", 10)
        first = page.evaluate(
            "async () => (await import('/static/js/api.js'))"
            ".chunkUrl(window.prereadReader.doc.documentId, window.prereadReader.doc.chunks[0])"
        )
        # the document came in the page (no preload, no request), the first chunk once,
        # by the page's own <audio id="first-chunk">
        assert "link" not in response.headers
        assert page.inner_text("#doc-name") == "A Short Walk to the Lighthouse"
        assert requests.count(f"/api/documents/{DOC}") == 0
        assert requests.count(first) == 1
        kinds = page.evaluate(
            "(first) => performance.getEntriesByType('resource').filter((e) =>"
            " e.name.includes('/api/documents/') || e.name.endsWith(first))"
            ".map((e) => e.initiatorType)",
            first,
        )
        assert kinds == ["audio"]
        # the player plays boot.js's <audio>, which holds the first chunk
        assert page.evaluate("() => window.prereadReader.player.els[0] === window.prereadBoot.el")
        assert page.evaluate("() => window.prereadReader.player.slots[0].ci") == 0  # it is in
        chunks = [i for i, url in enumerate(requests) if url.startswith("/api/tts/chunk")]
        # the pre-generate dialog, offline copies and downloads load after the first chunk
        later = {"/static/js/pregen.js", "/static/js/offline.js", "/static/js/downloads.js"}
        assert chunks and later <= set(requests[chunks[0] :]), requests

        # chunk 3 asked for (as at page load), then played before it arrived: one fetch
        before = len(requests)
        page.evaluate(
            "() => { const p = window.prereadReader.player;"
            " p.start(3, 0, { play: false }); p.start(3, 0); }"
        )
        wait_js(page, "window.prereadReader.player.playing", 10)
        assert page.evaluate("() => window.prereadReader.player.ci") == 3
        where = page.evaluate(
            "() => { const c = window.prereadReader.doc.chunks[3];"
            " return `page=${c.page}&blockIndex=${c.blockIndex}&`; }"
        )
        asked = [url for url in requests[before:] if where in url]
        assert len(asked) == 1, requests[before:]
        context.close()

        play_before_the_modules_run(browser, base)
        position_elsewhere(browser, base, httpx.get(f"{base}/api/documents/{DOC}").json())


def play_before_the_modules_run(browser: Any, base: str) -> None:
    """reader.js held back: Play (from the first frame that shows it) plays the first
    chunk through boot.js; once the modules run, the player has it, playing."""
    context = browser.new_context()
    # the rate chosen before (js/reader.js's cookie): Play plays at it from the start
    context.add_cookies([{"name": "preread-rate", "value": "1.5", "url": base}])
    page = context.new_page()
    held: list[Any] = []
    page.route("**/static/js/reader.js", lambda route: held.append(route))
    page.goto(f"{base}/read/{DOC}", wait_until="commit")
    wait_js(page, "document.body && document.body.dataset.playable", 10)
    assert held and page.evaluate("() => window.prereadReader") is None  # no module yet
    assert page.evaluate("() => window.prereadBoot.el.playbackRate") == 1.5
    page.click("#play")
    wait_js(
        page, "window.prereadBoot.playingAt !== null && window.prereadBoot.el.currentTime > 0", 10
    )
    assert page.get_attribute("#play", "aria-label") == "Pause"
    held[0].continue_()
    page.wait_for_selector("body[data-ready]")
    assert page.evaluate(
        "() => { const p = window.prereadReader.player, b = window.prereadBoot;"
        " return p.playing && p.els[0] === b.el && p.ci === 0 && p.wantPlay"
        " && p.stats.requestedAt === b.requestedAt && p.stats.firstAudioAt === b.playingAt; }"
    )
    assert page.input_value("#rate") == "1.5"  # and the player keeps it
    assert page.evaluate("() => window.prereadReader.player.el.playbackRate") == 1.5
    wait_js(page, "window.prereadReader.si > 0 || window.prereadReader.player.ci > 0", 15)
    page.click("#play")  # the player's Play now: it pauses
    wait_js(page, "!window.prereadReader.player.playing", 10)
    assert page.get_attribute("#play", "aria-label") == "Play"
    context.close()


def position_elsewhere(browser: Any, base: str, doc: dict[str, Any]) -> None:
    """Paused in chunk 3: the reader remembers it (localStorage, and a cookie the server
    reads); opened again in a new browser with both, chunk 0 is not downloaded, chunk 3
    is, once, by boot.js's <audio>, and plays from where it stopped."""
    chunks = doc["chunks"]
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{base}/read/{DOC}")
    page.wait_for_selector("body[data-ready]")
    page.evaluate("() => window.prereadReader.player.start(3, 0.5)")
    # (past 0.8 s: the cookie keeps tenths, and a pause at 0.52 s would be saved as 0.5)
    wait_js(page, "window.prereadReader.player.playing && window.prereadReader.player.time > 0.8")
    page.click("#play")  # pause: the position is saved
    wait_js(page, "!window.prereadReader.player.playing")
    (cookie,) = [c for c in context.cookies() if c["name"] == "preread-at"]
    assert cookie["path"] == f"/read/{DOC}" and cookie["sameSite"] == "Strict"
    page_no, block, time = cookie["value"].split(".", 2)
    assert (int(page_no), int(block)) == (chunks[3]["page"], chunks[3]["blockIndex"])
    assert float(time) > 0.5
    stored = page.evaluate(f"() => localStorage.getItem('preread.pos.{DOC}')")
    context.close()

    context = browser.new_context()  # (no HTTP cache: every request is seen)
    context.add_cookies([cookie])
    context.add_init_script(f"localStorage.setItem('preread.pos.{DOC}', {json.dumps(stored)})")
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url.replace(base, "")))
    page.goto(f"{base}/read/{DOC}")
    page.wait_for_selector("body[data-ready]")
    assert page.evaluate(
        "() => window.prereadReader.player.els[0] === window.prereadBoot.el"
        " && window.prereadReader.player.ci === 3"
    )
    page.click("#play")
    wait_js(page, "window.prereadReader.player.playing", 10)
    assert page.evaluate("() => window.prereadReader.player.ci") == 3
    assert page.evaluate("() => window.prereadReader.player.time") >= float(time) - 0.05
    asked = [url for url in requests if url.startswith("/api/tts/chunk")]
    first = f"&page={chunks[0]['page']}&blockIndex={chunks[0]['blockIndex']}&"
    third = f"&page={chunks[3]['page']}&blockIndex={chunks[3]['blockIndex']}&"
    assert not [url for url in asked if first in url], asked
    assert len([url for url in asked if third in url]) == 1, asked
    context.close()
