"""The reader's playback in headless Chromium against a real ``preread serve``: a chunk
fetch answered 503 or cut retries with backoff and says so, then plays; Media Session
metadata and its action handlers; jumping by page and chapter, the step buttons, the
playback rate and the voice list.

The 503 and the network error come from Playwright's ``route()`` on the chunk's URL:
the thing under test is the page's handling of them (the server's own 503s are tested
in tests/server). A chunk asked for ahead and then waited for is requested once (the
server's counter of live chunks says so). Service workers are blocked in those contexts
so ``route()`` sees every request.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from readerkit import (
    CHAPTERS,
    TITLE,
    Console,
    Served,
    ensure_stored,
    now_sentence,
    open_reader,
    text_of,
    wait_js,
    wait_text,
)

pytestmark = pytest.mark.slow

# Every text the player's status line shows, in order (a MutationObserver, set up before
# the page's scripts run), and the Media Session's action handlers as the page sets them.
RECORD_MESSAGES = """
window.__said = [];
new MutationObserver(() => {
  const el = document.getElementById("player-message");
  const said = window.__said;
  if (el && el.textContent && said[said.length - 1] !== el.textContent) said.push(el.textContent);
}).observe(document, { subtree: true, childList: true, characterData: true });
"""
RECORD_MEDIA_HANDLERS = """
window.__media = {};
if (navigator.mediaSession) {
  const set = navigator.mediaSession.setActionHandler.bind(navigator.mediaSession);
  navigator.mediaSession.setActionHandler = (action, handler) => {
    window.__media[action] = handler;
    return set(action, handler);
  };
}
"""


@pytest.fixture
def served(sample_server: Served) -> Served:
    """The session's server, page 1 stored (and only it)."""
    ensure_stored(sample_server.base)
    return sample_server


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
    context.add_init_script(RECORD_MESSAGES)
    context.add_init_script(RECORD_MEDIA_HANDLERS)
    yield context
    context.close()


def said(page: Any) -> list[str]:
    return list(page.evaluate("() => window.__said"))


def chunk_route(page_no: int, block: int) -> re.Pattern[str]:
    return re.compile(rf"/api/tts/chunk\?documentId=\w+&page={page_no}&blockIndex={block}(&|$)")


def test_503_and_network_error_retry_with_backoff_then_play(served: Served, context: Any) -> None:
    console = Console()
    page = open_reader(context, served.base, console)
    calls = {"p1b1": 0, "p2b0": 0}

    def block_1(route: Any) -> None:  # page 1, block 1 (stored): 503, then cut, then served
        calls["p1b1"] += 1
        if calls["p1b1"] == 1:
            route.fulfill(
                status=503,
                content_type="application/json",
                body='{"error": {"code": "busy", "message": "busy"}}',
            )
        elif calls["p1b1"] == 2:
            route.abort("connectionreset")
        else:
            route.continue_()

    def page_2(route: Any) -> None:  # the next chunk, fetched ahead: one 503
        calls["p2b0"] += 1
        if calls["p2b0"] == 1:
            route.fulfill(status=503, body="busy")
        else:
            route.continue_()

    page.route(chunk_route(1, 1), block_1)
    page.route(chunk_route(2, 0), page_2)
    assert page.get_attribute("#player-message", "role") == "status"
    assert page.get_attribute("#player-message", "aria-live") == "polite"

    page.click('.s[data-ci="1"][data-si="0"]')
    wait_js(page, "window.prereadReader.player.playing && window.prereadReader.player.ci === 1")
    messages = said(page)
    # said so, with a growing delay, then played and the message went away
    assert "server busy: retrying chunk 2 in 0.5 s (attempt 1)" in messages, messages
    assert "network error: retrying chunk 2 in 1 s (attempt 2)" in messages, messages
    assert calls["p1b1"] == 3
    assert now_sentence(page)[0] == 1
    wait_js(page, "document.getElementById('player-message').textContent === ''")

    # The chunk after it (page 2, not stored: generated live) was fetched ahead and its
    # 503 retried while block 1 played; from the last sentence the boundary comes soon.
    last = page.eval_on_selector_all('.s[data-ci="1"]', "els => els.length") - 1
    page.click(f'.s[data-ci="1"][data-si="{last}"]')
    wait_js(page, "window.prereadReader.player.ci === 2 && window.prereadReader.player.playing")
    assert calls["p2b0"] >= 2  # (once more if block 1 ended before the retry was in)
    assert any(m.startswith("server busy: retrying chunk 3 in 0.5 s") for m in said(page))
    assert page.is_visible("#live-badge")  # page 2 had no stored audio: played live
    wait_js(page, "document.getElementById('player-message').textContent === ''")
    page.click("#play")
    assert console.errors == []


def test_media_session_metadata_and_actions(served: Served, context: Any) -> None:
    page = open_reader(context, served.base)
    metadata = "() => { const m = navigator.mediaSession.metadata; return [m.title, m.album]; }"
    assert page.evaluate(metadata) == [CHAPTERS[0], TITLE]
    handlers = set(page.evaluate("() => Object.keys(window.__media)"))
    assert {"play", "pause", "nexttrack", "previoustrack"} <= handlers

    page.evaluate("() => window.__media.play({action: 'play'})")
    wait_js(page, "window.prereadReader.player.playing")
    wait_js(page, "navigator.mediaSession.playbackState === 'playing'")
    page.evaluate("() => window.__media.pause({action: 'pause'})")
    wait_js(page, "!window.prereadReader.player.playing")
    wait_js(page, "navigator.mediaSession.playbackState === 'paused'")
    assert page.get_attribute("#play", "aria-label") == "Play"

    # next track: the next block; into page 2 the title is chapter 2's
    page.evaluate("() => window.__media.nexttrack({action: 'nexttrack'})")
    assert now_sentence(page) == (1, 0)
    page.evaluate("() => window.__media.nexttrack({action: 'nexttrack'})")
    assert now_sentence(page) == (2, 0)
    assert page.evaluate(metadata) == [CHAPTERS[1], TITLE]
    page.evaluate("() => window.__media.previoustrack({action: 'previoustrack'})")
    assert now_sentence(page) == (1, 0)
    assert page.evaluate(metadata) == [CHAPTERS[0], TITLE]
    assert not page.evaluate("window.prereadReader.player.playing")  # paused stays paused


def test_jump_page_chapter_steps_rate_and_voices(served: Served, context: Any) -> None:
    page = open_reader(context, served.base)
    voices = httpx.get(f"{served.base}/v1/audio/voices", timeout=30).json()["voices"]
    assert page.eval_on_selector_all("#voice option", "os => os.map(o => o.value)") == voices

    page.fill("#jump-page", "3")
    page.click("#jump-form button[type=submit]")
    assert now_sentence(page) == (4, 0)
    assert text_of(page, "#where").startswith("Page 3 · " + CHAPTERS[1])
    wait_js(page, "document.getElementById('page-3').getBoundingClientRect().top < innerHeight")

    page.select_option("#chapter", label=f"{CHAPTERS[0]} (p. 1)")
    assert now_sentence(page) == (0, 0)
    page.click("#next-sentence")
    page.click("#next-sentence")
    assert now_sentence(page) == (0, 2)
    page.click("#prev-sentence")
    assert now_sentence(page) == (0, 1)
    page.click("#next-block")
    assert now_sentence(page) == (1, 0)
    page.click("#prev-block")
    assert now_sentence(page) == (0, 0)
    page.click("#prev-sentence")  # at the start: stays
    assert now_sentence(page) == (0, 0)

    page.select_option("#rate", "1.5")
    page.click("#play")
    wait_js(page, "window.prereadReader.player.playing")
    assert page.evaluate("window.prereadReader.player.el.playbackRate") == 1.5
    wait_text(page, "#play", "❚❚")
    page.click("#play")
    wait_js(page, "!window.prereadReader.player.playing")
    page.reload()
    page.wait_for_selector("body[data-ready]")
    assert page.input_value("#rate") == "1.5"  # remembered
    assert page.evaluate("window.prereadReader.player.rate") == 1.5


def chunk_misses(base: str) -> float:
    """Chunk requests the server answered live (``X-Cache: MISS``), from its /metrics."""
    for line in httpx.get(f"{base}/metrics", timeout=30).text.splitlines():
        if line.startswith('preread_chunk_cache_total{result="miss"}'):
            return float(line.split()[-1])
    return 0.0


def test_a_chunk_is_requested_once_when_playback_catches_up_with_its_prefetch(
    served: Served, context: Any
) -> None:
    """Page 2 is not stored: its first chunk, fetched ahead while block 1 plays, is held
    on its way to the server until block 1 has ended (the player waits for it) and the
    person paused and played meanwhile. The waiting player adopts the request in flight:
    the server is asked for that chunk once (its live-chunk counter), not once per wait."""
    page = open_reader(context, served.base)
    held: dict[str, list[Any]] = {"next": [], "after": []}
    page.route(chunk_route(2, 0), lambda route: held["next"].append(route))
    page.route(chunk_route(2, 1), lambda route: held["after"].append(route))  # kept back
    before = chunk_misses(served.base)

    last = page.eval_on_selector_all('.s[data-ci="1"]', "els => els.length") - 1
    page.click(f'.s[data-ci="1"][data-si="{last}"]')
    wait_js(page, "window.prereadReader.player.playing && window.prereadReader.player.ci === 1")
    while not held["next"]:  # the prefetch is on its way
        page.wait_for_timeout(20)
    page.click("#play")  # pause and play while it is
    wait_js(page, "!window.prereadReader.player.playing")
    page.click("#play")
    # block 1 ends; the player waits for chunk 3 and says so
    wait_js(page, "window.prereadReader.player.ci === 2 && !window.prereadReader.player.playing")
    wait_text(page, "#player-message", "loading chunk 3")
    page.wait_for_timeout(300)  # time for any second request to leave
    for route in list(held["next"]):
        route.continue_()
    wait_js(page, "window.prereadReader.player.ci === 2 && window.prereadReader.player.playing")
    assert page.is_visible("#live-badge")
    assert now_sentence(page)[0] == 2
    assert chunk_misses(served.base) - before == 1  # the server made and sent it once
    assert len(held["next"]) == 1
    page.click("#play")
    for route in held["after"]:
        route.abort()
    page.unroute_all(behavior="ignoreErrors")
