"""How the pages look and how a screen reader or keyboard user meets them, in headless
Chromium against a real ``preread serve``: light and dark themes (the system's and the
toggle), every control named in the accessibility tree, a sane focus order, live
status regions, and nothing wider than a 390-pixel phone. With ``PREREAD_SCREENSHOTS=DIR``
it saves the library, the reader and the dialog at 1280 and 390 pixels for a person.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from readerkit import DOC, Served, ensure_stored, wait_js

pytestmark = pytest.mark.slow

LIGHT_BG, DARK_BG = "rgb(247, 244, 238)", "rgb(22, 26, 25)"
ROLES_NEEDING_NAMES = "button|link|combobox|spinbutton|radio|checkbox|textbox|slider"


def background(page: Any) -> str:
    return str(page.evaluate("getComputedStyle(document.body).backgroundColor"))


def test_themes_follow_the_system_and_the_toggle(sample_server: Served, browser: Any) -> None:
    context = browser.new_context(color_scheme="dark")
    page = context.new_page()
    page.goto(sample_server.base + "/")
    assert background(page) == DARK_BG
    assert page.get_attribute("#theme", "aria-pressed") == "true"
    page.get_by_role("button", name="Dark theme").click()  # to light, remembered
    assert background(page) == LIGHT_BG
    assert page.get_attribute("#theme", "aria-pressed") == "false"
    page.goto(f"{sample_server.base}/read/{DOC}")
    page.wait_for_selector("body[data-ready]")
    assert background(page) == LIGHT_BG  # the choice holds on every page
    page.emulate_media(color_scheme="light")
    page.click("#theme")
    assert background(page) == DARK_BG
    # the server puts the choice in its pages (a cookie): it holds before any script runs
    context.add_init_script(
        "document.addEventListener('DOMContentLoaded', () => {"
        " window.parsedBackground = getComputedStyle(document.body).backgroundColor; })"
    )
    for path in ("/", f"/read/{DOC}"):
        page.goto(sample_server.base + path)
        assert page.evaluate("window.parsedBackground") == DARK_BG, path
    page.wait_for_selector("body[data-ready]")
    # no choice (the site's data cleared): the system's
    page.evaluate(
        "localStorage.removeItem('preread.theme');"
        " document.cookie = 'preread-theme=; path=/; max-age=0'"
    )
    page.reload()
    page.wait_for_selector("body[data-ready]")
    assert background(page) == LIGHT_BG
    assert page.get_attribute("#theme", "aria-pressed") == "false"
    context.close()


def unnamed(page: Any, selector: str = "body") -> list[str]:
    """Controls without an accessible name in the page's accessibility tree."""
    tree = page.locator(selector).aria_snapshot()
    pattern = re.compile(rf"^\s*- ({ROLES_NEEDING_NAMES})(:.*)?$")
    return [line for line in tree.splitlines() if pattern.match(line)]


def focus_order(page: Any, last: str) -> list[str]:
    """From the page's first tab stop (its skip link), where Tab goes until ``last``; the
    download row's links and buttons (as many as the store's state makes) as "download"."""
    page.focus(".skip")
    order: list[str] = []
    while len(order) < 40 and (not order or order[-1] != last):
        page.keyboard.press("Tab")
        order.append(
            page.evaluate(
                "(() => { const e = document.activeElement;"
                " if (e.closest('#downloads')) return 'download';"
                " return e.id || e.getAttribute('aria-label') || e.textContent.trim(); })()"
            )
        )
    return order


def test_named_controls_focus_order_and_live_regions(sample_server: Served, browser: Any) -> None:
    ensure_stored(sample_server.base)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(sample_server.base + "/")
    page.wait_for_selector(f'li[data-id="{DOC}"]')
    assert unnamed(page) == []
    for name in (
        "API token",
        "Dark theme",
        "Choose a file…",
        "Delete the audio of A Short Walk to the Lighthouse",
    ):
        assert page.get_by_role("button", name=name, exact=True).count() == 1, name
    assert page.get_attribute("#message", "role") == "status"
    assert page.get_attribute("#upload-text", "role") == "status"

    page.goto(f"{sample_server.base}/read/{DOC}")
    page.wait_for_selector("body[data-ready]")
    assert unnamed(page) == []
    for name in (
        "Previous block",
        "Previous sentence",
        "Play",
        "Next sentence",
        "Next block",
        "Pre-generate…",
        "Keep for offline",
        "Go",
    ):
        assert page.get_by_role("button", name=name, exact=True).count() == 1, name
    for name in ("Rate", "Voice", "Chapter"):
        assert page.get_by_role("combobox", name=name, exact=True).count() == 1, name
    assert page.get_by_role("spinbutton", name="Page", exact=True).count() == 1
    for selector in ("#doc-state", "#player-message"):
        assert page.get_attribute(selector, "role") == "status", selector
    # The page's tools, then (the text is not a tab stop) the player, in reading order.
    order = focus_order(page, "voice")
    assert order.index("download") > order.index("offline")
    assert [name for name in order if name != "download"] == [
        "preread library",
        "token-button",
        "theme",
        "jump-page",
        "Go",
        "chapter",
        "open-pregen",
        "offline",
        "prev-block",
        "prev-sentence",
        "play",
        "next-sentence",
        "next-block",
        "rate",
        "voice",
    ]

    page.click("#open-pregen")
    page.wait_for_selector("#pregen[open]")
    assert unnamed(page, "#pregen") == []
    assert page.get_by_role("dialog", name="Pre-generate audio").is_visible()
    for name in ("Whole document (3 pages)", "This page (page 1)", "A page range"):
        assert page.get_by_role("radio", name=name, exact=True).count() == 1, name
    for name in ("First page", "Last page", "Speed"):
        assert page.get_by_role("spinbutton", name=name, exact=True).count() == 1, name
    assert page.get_attribute("#pg-text", "aria-live") == "polite"
    assert page.evaluate("document.activeElement.closest('dialog') !== null")  # focus moved in
    page.keyboard.press("Escape")
    wait_js(page, "!document.getElementById('pregen').open")
    assert page.evaluate("document.activeElement.id") == "open-pregen"  # and came back
    context.close()


def overflowing(page: Any) -> list[str]:
    """Visible elements reaching past the right edge of the viewport."""
    return list(
        page.evaluate("""() => {
      const out = [];
      for (const e of document.querySelectorAll("body *")) {
        const r = e.getBoundingClientRect();
        if (r.width && r.height && r.right > innerWidth + 0.5 && !e.closest(".visually-hidden"))
          out.push(`${e.tagName}#${e.id}.${e.className} right=${Math.round(r.right)}`);
      }
      if (document.documentElement.scrollWidth > innerWidth) out.push("page scrolls sideways");
      return out;
    }""")
    )


def save(page: Any, shots: Path | None, name: str) -> None:
    if shots is not None:
        width = page.viewport_size["width"]
        page.screenshot(path=str(shots / f"{name}-{width}.png"))


@pytest.fixture
def phone_and_desktop(browser: Any) -> Iterator[list[Any]]:
    contexts = [
        browser.new_context(viewport={"width": w, "height": h}, service_workers="block")
        for w, h in ((390, 844), (1280, 900))
    ]
    yield contexts
    for context in contexts:
        context.close()


def test_phone_width_nothing_overflows(
    sample_server: Served, phone_and_desktop: list[Any], shots: Path | None
) -> None:
    ensure_stored(sample_server.base)
    for context in phone_and_desktop:
        page = context.new_page()
        page.goto(sample_server.base + "/")
        page.wait_for_selector(f'li[data-id="{DOC}"]')
        assert overflowing(page) == []
        save(page, shots, "library")

        page.goto(f"{sample_server.base}/read/{DOC}")
        page.wait_for_selector("body[data-ready]")
        # (the chunk fetched on open is in: its "live" flag no longer changes the badge)
        wait_js(page, "window.prereadReader.player.slots.some((s) => s && s.ready)")
        # The player's line at its fullest: where, the live badge and a retry message.
        page.evaluate("""() => {
          document.getElementById('live-badge').hidden = false;
          document.getElementById('player-message').textContent =
            'server busy: retrying chunk 12 in 15 s (attempt 6)';
        }""")
        assert overflowing(page) == [], overflowing(page)
        for selector in ("#where", "#live-badge", "#player-message"):
            box = page.locator(selector).bounding_box()
            assert box and box["width"] > 40, selector  # each still shown
        save(page, shots, "reader")

        page.click("#open-pregen")
        page.wait_for_selector("#pregen[open]")
        page.wait_for_selector("#store-text:not(:empty)")
        assert overflowing(page) == []
        range_box = [page.locator(s).bounding_box() for s in ("#pg-from", "#pg-to")]
        assert range_box[0] and range_box[1] and range_box[0]["y"] == range_box[1]["y"]
        page.locator("#pg-start").scroll_into_view_if_needed()
        assert page.locator("#pg-start").is_visible()
        save(page, shots, "dialog")
        page.close()
