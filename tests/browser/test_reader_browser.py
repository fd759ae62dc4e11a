"""The web reader end to end in headless Chromium against a real ``preread serve``.

The path a person takes: upload a PDF in the library, pre-generate page 1 (the
progress bar reaches 100 %), play (the audio time advances, the highlighted
sentence changes), cross a chunk boundary (gap measured in the page), a chunk
deleted from the store plays live, keep the document for offline, cut the network
(the server is stopped and the browser set offline), playback goes on from the
browser's copy, and a reload restores the position. Then the same by keyboard.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from readerkit import wait_js

from liveserver import running_server, stop
from preread.ids import document_id_of_bytes

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "sample.pdf"
DOC = document_id_of_bytes(SAMPLE.read_bytes())

pytestmark = pytest.mark.slow


def shot(page: Any, shots: Path | None, name: str) -> None:
    if shots is None:
        return
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900 if width > 400 else 844})
        page.wait_for_timeout(150)
        page.screenshot(path=str(shots / f"{name}-{width}.png"), full_page=False)
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=str(shots / f"{name}-390-dark.png"), full_page=False)
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 1280, "height": 900})


# What the page showed when the player first said it was playing: [highlighted chunk,
# sentence, the player's chunk, its time], seen in the page (a short sentence can be over
# before a poll from the test would see it).
STARTED = """() => {
  const p = window.prereadReader.player;
  window.__started = null;
  const on = () => {
    if (!p.playing) return;
    p.removeEventListener("state", on);
    const e = document.querySelector(".s.now");
    window.__started = [Number(e.dataset.ci), Number(e.dataset.si), p.ci, p.time];
  };
  p.addEventListener("state", on);
}"""


def now_sentence(page: Any) -> tuple[int, int]:
    value = page.eval_on_selector(".s.now", "e => [Number(e.dataset.ci), Number(e.dataset.si)]")
    return int(value[0]), int(value[1])


def audio_time(page: Any) -> float:
    return float(page.evaluate("() => window.prereadReader.player.time"))


def chunk_file(home: Path, page_no: int, block: int) -> Path:
    folder = home / "tts_cache_v1" / DOC / "chunks"
    return next(folder.glob(f"*__page-{page_no:03d}__block-{block:03d}.*"))


def upload(page: Any, base: str) -> None:
    page.goto(base + "/")
    page.set_input_files("#file", str(SAMPLE))
    page.wait_for_selector(f'li[data-id="{DOC}"]')
    assert "Added" in page.inner_text("#upload-text")
    assert page.eval_on_selector("#upload-bar", "e => e.value") == 100
    badge = page.inner_text(f'li[data-id="{DOC}"] [data-role="audio-state"]')
    assert badge == "not generated"


def pregenerate_page_one(page: Any) -> None:
    page.wait_for_selector("body[data-ready]")
    page.click("#open-pregen")
    page.check('input[name="scope"][value="page"]')
    # the estimate for page 1: its two blocks' characters
    wait_js(page, "document.getElementById('est-chars').textContent === '622'", 10)
    assert page.inner_text("#est-disk") != "–"
    page.click("#pg-start")
    wait_js(page, "document.getElementById('pg-bar').value === 100", 20)
    assert "100 %" in page.inner_text("#pg-text")
    # the bar is full before the page has read the new manifest (times, "done"): a
    # click before that would seek with the old, estimated sentence times
    wait_js(page, "window.prereadReader.doc.chunks[0].status === 'done'", 10)


def test_upload_pregenerate_play_live_offline_reload(
    browser: Any, tmp_path: Path, shots: Path | None
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    with running_server(home) as (base, process):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        upload(page, base)
        shot(page, shots, "library")

        page.click(f'li[data-id="{DOC}"] a.doc-title')
        page.wait_for_url(f"**/read/{DOC}")
        pregenerate_page_one(page)
        shot(page, shots, "dialog")
        page.click("#pg-close")

        # The stored chunk of page 1, block 1 goes missing: it must be played live.
        chunk_file(home, 1, 1).unlink()

        # Play from the last sentence of block 0: the boundary comes within seconds.
        last = page.eval_on_selector_all('.s[data-ci="0"]', "els => els.length") - 1
        page.evaluate(STARTED)
        page.click(f'.s[data-ci="0"][data-si="{last}"]')
        wait_js(page, "window.__started", 10)
        started = page.evaluate("window.__started")
        assert started[:3] == [0, last, 0]  # playing starts at the clicked sentence
        # the audio time advances (or, under load, the short sentence is over already)
        wait_js(page, f"window.prereadReader.player.time > {started[3]} "
                      "|| window.prereadReader.player.ci > 0", 10)
        wait_js(page, "window.prereadReader.ci === 1", 15)
        first_of_block_1 = now_sentence(page)
        wait_js(page, "window.prereadReader.si > 0 && window.prereadReader.ci === 1", 15)
        assert now_sentence(page) != first_of_block_1  # the highlight follows the voice
        wait_js(page, "document.querySelector('.s.now .w.now') !== null", 10)  # and the word
        stats = page.evaluate("() => window.prereadReader.player.stats")
        assert stats["gaps"], "no chunk boundary was crossed"
        assert max(stats["gaps"]) < 100, stats["gaps"]
        assert stats["live"] >= 1  # the deleted chunk came from live generation
        assert page.is_visible("#live-badge")
        shot(page, shots, "reader")
        page.click("#play")  # pause
        wait_js(page, "!window.prereadReader.player.playing", 10)

        # The live chunk was stored again; keep the document for offline listening.
        wait_js(page, "window.prereadReader.doc.chunks[1].status === 'done'", 10)
        page.click("#offline")
        pressed = "document.getElementById('offline').getAttribute('aria-pressed') === 'true'"
        wait_js(page, pressed, 10)
        # page 1's two chunks, and any later one the prefetch had generated live
        assert re.search(r"Kept for offline: [2-5] chunks", page.inner_text("#doc-state"))
        wait_js(page, "navigator.serviceWorker.controller !== null", 10)

        # Cut the network: the server goes away and the browser is offline.
        stop(process)
        context.set_offline(True)
        page.click('.s[data-ci="0"][data-si="1"]')
        wait_js(page, "window.prereadReader.player.playing", 10)
        t1 = audio_time(page)
        page.wait_for_timeout(400)
        assert audio_time(page) > t1
        page.click("#play")
        position = now_sentence(page)
        saved = json.loads(page.evaluate(f"() => localStorage.getItem('preread.pos.{DOC}')"))
        assert saved["page"] == 1

        page.reload()
        page.wait_for_selector("body[data-ready]")
        assert now_sentence(page) == position
        assert errors == []
        context.close()


def test_keyboard_only(browser: Any, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    with running_server(home) as (base, _process):
        context = browser.new_context(viewport={"width": 390, "height": 844})
        page = context.new_page()
        page.goto(base + "/")
        # The file picker is a labelled input reached by Tab; files are set on it.
        page.set_input_files("#file", str(SAMPLE))
        page.wait_for_selector(f'li[data-id="{DOC}"]')
        page.focus("body")
        for _ in range(12):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.classList.contains('doc-title')"):
                break
        assert page.evaluate("document.activeElement.classList.contains('doc-title')")
        page.keyboard.press("Enter")
        page.wait_for_selector("body[data-ready]")

        # Tab to the pre-generate button, open it, choose "this page", start.
        for _ in range(15):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.id") == "open-pregen":
                break
        page.keyboard.press("Enter")
        page.wait_for_selector("#pregen[open]")
        page.focus('input[name="scope"][value="all"]')
        page.keyboard.press("ArrowDown")  # radio group: the next choice, "this page"
        assert page.is_checked('input[name="scope"][value="page"]')
        for _ in range(20):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.id") == "pg-start":
                break
        page.keyboard.press("Enter")
        wait_js(page, "document.getElementById('pg-bar').value === 100", 20)
        page.keyboard.press("Escape")
        wait_js(page, "!document.getElementById('pregen').open", 10)

        # Space plays, arrows move by sentence and block.
        page.focus("#text")
        page.keyboard.press("Space")
        wait_js(page, "window.prereadReader.player.playing", 10)
        page.keyboard.press("ArrowRight")
        wait_js(page, "window.prereadReader.si === 1", 10)
        page.keyboard.press("ArrowDown")
        wait_js(page, "window.prereadReader.ci === 1 && window.prereadReader.si === 0", 10)
        wait_js(page, "window.prereadReader.player.playing", 10)
        page.keyboard.press("Space")
        wait_js(page, "!window.prereadReader.player.playing", 10)
        assert page.get_attribute("#play", "aria-label") == "Play"
        context.close()


def test_token_is_asked_once_and_sent_as_bearer(browser: Any, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    with running_server(home, PREREAD_API_TOKEN="s3cret-token") as (base, _process):
        context = browser.new_context()
        page = context.new_page()
        page.goto(base + "/")
        page.set_input_files("#file", str(SAMPLE))
        page.wait_for_selector("#token-dialog[open]")  # the upload was refused: 401
        page.fill("#token-input", "s3cret-token")
        page.click('#token-dialog button[value="ok"]')
        page.wait_for_selector(f'li[data-id="{DOC}"]')  # sent again, with the token
        assert page.evaluate("sessionStorage.getItem('preread.token')") == "s3cret-token"
        page.click(f'li[data-id="{DOC}"] a.doc-title')
        page.wait_for_selector("body[data-ready]")
        page.click("#open-pregen")
        page.check('input[name="scope"][value="page"]')
        page.click("#pg-start")  # a POST: the kept token goes with it, no second prompt
        wait_js(page, "document.getElementById('pg-bar').value === 100", 20)
        assert not page.is_visible("#token-dialog")
        assert page.evaluate("localStorage.getItem('preread.token')") is None
        context.close()
