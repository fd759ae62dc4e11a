"""The reader's download buttons in headless Chromium against a real ``preread serve``:
the chapter at the reading position is exported as a job (a progress bar that reaches
100 %) and downloads as an M4B whose chapter mark mutagen reads; asked again, the kept
file downloads at once; with a page's audio gone, the buttons give way to what is
missing and a button that opens the pre-generate dialog; an export cancelled from the
reader while it runs keeps no file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from mutagen.mp4 import MP4

from liveserver import running_server
from preread.cli import main
from preread.ids import document_id_of_bytes

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "sample.pdf"
DOC = document_id_of_bytes(SAMPLE.read_bytes())

pytestmark = pytest.mark.slow


def test_download_a_chapter_as_m4b_and_see_what_is_missing(
    browser: Any, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    args = ["--home", str(home), "preprocess", str(SAMPLE), "--provider", "fake", "-q"]
    assert main([*args, "--pages", "1-2"]) == 0  # page 3 (end of chapter 2) not generated
    with running_server(home) as (base, _process):
        viewport = {"width": 1280, "height": 900}
        context = browser.new_context(viewport=viewport, accept_downloads=True)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/read/{DOC}")
        page.wait_for_selector("body[data-ready]")
        rows = page.locator("#downloads .download-row")
        # the document: what is missing; chapter 1 (page 1, at the position): its files
        assert rows.count() == 2
        assert "needs stored audio: 1 of 3 pages has none yet" in rows.nth(0).inner_text()
        assert rows.nth(1).locator("a").all_inner_texts() == ["M4B", "MP3", "WebVTT", "SRT"]
        with page.expect_download() as info:
            page.click('#downloads a[aria-label="Download this chapter as M4B"]')
        download = info.value
        assert download.suggested_filename == "sample - chapter 1.m4b"
        saved = tmp_path / download.suggested_filename
        download.save_as(str(saved))
        book = MP4(str(saved))
        assert [(c.title, c.start) for c in book.chapters] == [("1 The Path Along the Cliffs", 0)]
        assert book.info.length > 1
        job = page.locator("#downloads .export-job")
        assert job.locator("progress").evaluate("p => p.value") == 1
        assert "sample - chapter 1.m4b" in job.inner_text() and "is ready" in job.inner_text()
        kept = list(home.glob("blobs/*/*.m4b"))
        assert len(kept) == 1 and kept[0].read_bytes() == saved.read_bytes()
        with page.expect_download() as again:  # the kept export: no second file is made
            page.click('#downloads a[aria-label="Download this chapter as M4B"]')
        assert again.value.suggested_filename == "sample - chapter 1.m4b"
        assert list(home.glob("blobs/*/*.m4b")) == kept

        # A chunk gone from the store that the manifest still lists: the click says so.
        next((home / "tts_cache_v1" / DOC / "chunks").glob("*__page-001__*")).unlink()
        page.click('#downloads a[aria-label="Download this chapter as MP3"]')
        alert = page.wait_for_selector("#downloads .download-problem")
        assert alert.inner_text() == "Not downloaded: no stored audio for page 1."
        page.click('#downloads button:has-text("Pre-generate…")')
        assert page.is_visible("#pregen")
        page.click("#pg-close")
        page.click('#downloads button:has-text("Pre-generate the rest")')
        assert page.is_visible("#pregen")
        assert errors == []
        context.close()


PARAGRAPH = (
    "The keeper walked along the cliffs and watched the grey sea roll towards the rocks"
    " below. Gulls circled over the tower while the light turned slowly."
)
# one paragraph said again and again: synthesized once, a long export all the same
BOOK = "\n".join(f"# Part {n}\n\n" + f"{PARAGRAPH}\n\n" * 8 for n in (1, 2)).encode()


def test_cancel_an_export_keeps_no_file(browser: Any, tmp_path: Path) -> None:
    """The whole book as M4B, cancelled from the reader while it runs: the row says so,
    the job is cancelled, nothing downloads and no file (nor temp file) is kept."""
    home = tmp_path / "home"
    home.mkdir()
    book = tmp_path / "book.md"
    book.write_bytes(BOOK)
    doc = document_id_of_bytes(BOOK)
    assert main(["--home", str(home), "preprocess", str(book), "--provider", "fake", "-q"]) == 0
    with running_server(home) as (base, _process):
        context = browser.new_context(accept_downloads=True)
        page = context.new_page()
        errors: list[str] = []
        downloads: list[Any] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("download", lambda d: downloads.append(d))
        page.goto(f"{base}/read/{doc}")
        page.wait_for_selector("body[data-ready]")
        started = page.expect_response(
            lambda r: r.url == f"{base}/api/exports" and r.request.method == "POST"
        )
        with started as answer:
            page.click('#downloads a[aria-label="Download the document as M4B"]')
        job_id = answer.value.json()["jobId"]
        job = page.locator("#downloads .export-job")
        job.locator("text=/Exporting the document as M4B: \\d+ %/").wait_for()
        page.click("#downloads .export-cancel")
        job.locator("text=Export cancelled.").wait_for()
        assert job.locator(".export-cancel").count() == 0
        assert httpx.get(f"{base}/api/exports/{job_id}").json()["state"] == "cancelled"
        assert httpx.get(f"{base}/api/exports/{job_id}/file").status_code == 404
        page.wait_for_timeout(300)  # (a download the page would start has started by now)
        assert downloads == []
        assert not list(home.glob("blobs/*/*.m4b"))
        assert not [p.name for p in (home / "exports").glob("tmp-*")]
        assert not [p.name for p in home.rglob("*.tmp")]
        assert errors == []
        context.close()
