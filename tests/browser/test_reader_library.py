"""The library page in headless Chromium against a real ``preread serve``: drag and drop
upload with its progress, the audio badges, deleting a document's audio, and the
offline copy (marked in the list, its removal frees the browser's storage, the
browser's storage estimate shown).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from readerkit import DOC, Console, Served, ensure_stored, pregenerate, text_of, wait_js, wait_text

pytestmark = pytest.mark.slow

RECORD_UPLOAD_TEXT = """
window.__upload = [];
new MutationObserver(() => {
  const el = document.getElementById("upload-text");
  const seen = window.__upload;
  if (el && el.textContent && seen[seen.length - 1] !== el.textContent) seen.push(el.textContent);
}).observe(document, { subtree: true, childList: true, characterData: true });
"""

# A real drop on the drop zone: a DataTransfer holding a File, as the browser makes one
# when a file is dragged from the desktop. Returns whether the zone showed it was a target.
DROP = """([name, type, b64]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const data = new DataTransfer();
  data.items.add(new File([bytes], name, { type }));
  const zone = document.getElementById("drop");
  const fire = (type) => zone.dispatchEvent(
    new DragEvent(type, { dataTransfer: data, bubbles: true, cancelable: true }));
  fire("dragenter");
  fire("dragover");
  const over = zone.classList.contains("over");
  fire("drop");
  return over && !zone.classList.contains("over");
}"""


def badge(page: Any, doc: str = DOC) -> str:
    return str(page.inner_text(f'li[data-id="{doc}"] [data-role="audio-state"]'))


def notes(paragraphs: int) -> bytes:
    """A Markdown document of about 1.7 KB a paragraph."""
    text = ["# Field notes", ""]
    for n in range(paragraphs):
        text.append(f"## Day {n + 1}")
        text.append(
            " ".join(
                f"On day {n + 1} the walkers counted {k} gulls over the bay and wrote it down."
                for k in range(22)
            )
        )
        text.append("")
    return "\n".join(text).encode()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context
    context.close()


def test_drag_and_drop_upload_shows_progress(sample_server: Served, context: Any) -> None:
    context.add_init_script(RECORD_UPLOAD_TEXT)
    console = Console()
    page = console.attach(context.new_page())
    page.goto(sample_server.base + "/")
    page.wait_for_selector(f'li[data-id="{DOC}"]')
    body = notes(90)  # ≈ 150 KB, sent at 100 KB/s: the upload takes over a second
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 100_000},
    )
    payload = ["field-notes.md", "text/markdown", base64.b64encode(body).decode()]
    assert page.evaluate(DROP, payload)  # highlighted while dragged over, not after
    wait_text(page, "#upload-text", "Added “Field notes”", 60)
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    seen = page.evaluate("() => window.__upload")
    percents = [int(m.group(1)) for t in seen if (m := re.search(r"field-notes\.md: (\d+) %", t))]
    assert any(0 < p < 100 for p in percents), seen  # progress while it was being sent
    assert percents == sorted(percents)
    assert page.eval_on_selector("#upload-bar", "e => e.value") == 100
    new = [
        d
        for d in httpx.get(sample_server.base + "/api/documents").json()["documents"]
        if d["title"] == "Field notes"
    ]
    assert len(new) == 1
    assert badge(page, new[0]["documentId"]) == "not generated"
    # the new document has the focus, so a keyboard user goes on from it
    assert page.evaluate("document.activeElement.textContent") == "Field notes"
    assert console.errors == []


def test_badges_and_deleting_a_documents_audio(sample_server: Served, context: Any) -> None:
    base = sample_server.base
    ensure_stored(base)
    page = context.new_page()
    page.goto(base + "/")
    row = f'li[data-id="{DOC}"]'
    page.wait_for_selector(row)
    assert badge(page) == "1 of 3 pages"
    meta = page.inner_text(f"{row} .doc-meta")
    assert re.search(r"3 pages\s+\d+ KB\s+used (just now|\d+ min ago)", meta), meta

    pregenerate(base, None)  # the whole document
    page.reload()
    page.wait_for_selector(row)
    assert badge(page) == "pre-generated ✓"

    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Delete the audio of A Short Walk to the Lighthouse").click()
    wait_text(page, "#message", "Deleted the audio of A Short Walk to the Lighthouse.")
    wait_js(
        page,
        f"document.querySelector('{row} [data-role=audio-state]').textContent === 'not generated'",
    )
    assert page.locator(f"{row} .doc-meta").inner_text().count("–") == 1  # no size
    assert httpx.get(f"{base}/api/tts/preprocess/status?documentId={DOC}").json()["done"] == 0
    ensure_stored(base)


def usage(page: Any) -> int:
    return int(page.evaluate("async () => (await navigator.storage.estimate()).usage"))


def test_offline_copy_marked_in_library_and_removal_frees_space(
    sample_server: Served, context: Any
) -> None:
    base = sample_server.base
    ensure_stored(base)
    page = context.new_page()
    page.goto(f"{base}/read/{DOC}")
    page.wait_for_selector("body[data-ready]")
    page.click("#offline")
    wait_js(page, "document.getElementById('offline').getAttribute('aria-pressed') === 'true'")
    state = text_of(page, "#doc-state")
    assert re.search(
        r"Kept for offline: 2 chunks, 3 not generated .* This browser stores "
        r"[\d.]+ [KM]B of [\d.]+ [MGT]B available\.",
        state,
    ), state

    page.goto(base + "/")
    row = f'li[data-id="{DOC}"]'
    page.wait_for_selector(f"{row} .badge.offline")
    assert page.inner_text(f"{row} .badge.offline") == "offline ✓"
    storage = wait_text(page, "#storage-line", "This browser stores")
    assert re.fullmatch(r"This browser stores [\d.]+ [KM]B of [\d.]+ [MGT]B available\.", storage)
    kept = usage(page)

    remove = "Remove the offline copy of A Short Walk to the Lighthouse"
    page.get_by_role("button", name=remove).click()
    wait_text(page, "#message", "Removed the offline copy")
    wait_js(page, f"!document.querySelector('{row} .badge.offline')")
    names = page.evaluate("async () => await caches.keys()")
    assert not any(n.startswith("preread-doc-") for n in names), names
    # the chunks (≈ 90 KB) no longer count against the browser's storage
    for _ in range(100):
        if usage(page) < kept - 50_000:
            break
        page.wait_for_timeout(100)
    assert usage(page) < kept - 50_000, (kept, usage(page))
