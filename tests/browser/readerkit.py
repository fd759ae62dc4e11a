"""Helpers shared by the browser tests: a served library with the sample PDF in it,
polling the page for a condition, and a page that records what the page logs.

The store is set up through the HTTP API (upload, pre-generate page 1): the browser
tests then exercise the pages, not the API again.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from liveserver import running_server
from preread.ids import document_id_of_bytes

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "sample.pdf"
DOC = document_id_of_bytes(SAMPLE.read_bytes())
CHAPTERS = ("1 The Path Along the Cliffs", "2 Inside the Tower")
TITLE = "A Short Walk to the Lighthouse"


def wait_js(page: Any, expression: str, timeout: float = 15.0) -> None:
    """Poll a JS expression (it may ``await``) until truthy. (``page.wait_for_function``
    evaluates strings with ``eval`` in the page, which the reader's content security
    policy forbids.)"""
    deadline = time.monotonic() + timeout
    while not page.evaluate(f"async () => Boolean({expression})"):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {expression}")
        page.wait_for_timeout(40)


def text_of(page: Any, selector: str) -> str:
    return str(page.eval_on_selector(selector, "e => e.textContent"))


def wait_text(page: Any, selector: str, needle: str, timeout: float = 15.0) -> str:
    """Wait until the element's text contains ``needle``; the text."""
    deadline = time.monotonic() + timeout
    while True:
        text = text_of(page, selector)
        if needle in text:
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"{selector} says {text!r}, not {needle!r}, after {timeout} s")
        page.wait_for_timeout(40)


def job_status(base: str, doc: str = DOC) -> dict[str, Any]:
    answer = httpx.get(f"{base}/api/tts/preprocess/status?documentId={doc}", timeout=30)
    return dict(answer.json())


def pregenerate(base: str, pages: str | None = "1", **settings: Any) -> dict[str, Any]:
    """Pre-generate through the API and wait for the job to end; its last status."""
    body: dict[str, Any] = {"documentId": DOC, **settings}
    if pages:
        body["pages"] = pages
    answer = httpx.post(f"{base}/api/tts/preprocess", json=body, timeout=30)
    assert answer.status_code in (200, 202), answer.text
    deadline = time.monotonic() + 60
    while True:
        status = job_status(base)
        if status["state"] not in ("queued", "running"):
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.1)


def ensure_stored(base: str, pages: str = "1") -> None:
    """Page 1 (or ``pages``) stored with the default voice and speed, nothing else: what a
    test that changed the store (cleared, regenerated) leaves is put back."""
    manifest = httpx.get(f"{base}/api/documents/{DOC}", timeout=30).json()
    wanted = {int(p) for p in pages.split(",")}
    chunks = manifest.get("chunks", [])
    if (
        manifest.get("voice") == "tone"
        and manifest.get("nativeSpeed") == 1.0
        and all((c["status"] == "done") == (c["page"] in wanted) for c in chunks)
        and chunks
    ):
        return
    answer = httpx.delete(f"{base}/api/tts/preprocess?documentId={DOC}", timeout=30)
    assert answer.status_code in (204, 404), answer.text  # 404: no audio stored
    assert pregenerate(base, pages)["state"] in ("complete", "partial")


@dataclass
class Served:
    base: str
    home: Path
    process: Any


@contextlib.contextmanager
def served_sample(home: Path, *, pages: str | None = "1", **env: str) -> Iterator[Served]:
    """A ``preread serve`` with the sample PDF registered and ``pages`` pre-generated."""
    home.mkdir(parents=True, exist_ok=True)
    # (the access log to /dev/null: a pipe nobody reads fills up and blocks the server)
    with running_server(home, stdout=subprocess.DEVNULL, **env) as (base, process):
        files = {"file": ("sample.pdf", SAMPLE.read_bytes(), "application/pdf")}
        answer = httpx.post(f"{base}/api/documents", files=files, timeout=60)
        assert answer.status_code in (200, 201), answer.text
        if pages:
            assert pregenerate(base, pages)["state"] in ("complete", "partial")
        yield Served(base, home, process)


@dataclass
class Console:
    """What the page reported: uncaught errors and content-security-policy violations."""

    errors: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> Any:
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

        def on_console(message: Any) -> None:
            if message.type == "error" and "Content Security Policy" in message.text:
                self.errors.append(f"csp: {message.text}")

        page.on("console", on_console)
        return page


def open_reader(context: Any, base: str, console: Console | None = None) -> Any:
    page = context.new_page()
    if console is not None:
        console.attach(page)
    page.goto(f"{base}/read/{DOC}")
    page.wait_for_selector("body[data-ready]")
    return page


def now_sentence(page: Any) -> tuple[int, int]:
    value = page.eval_on_selector(".s.now", "e => [Number(e.dataset.ci), Number(e.dataset.si)]")
    return int(value[0]), int(value[1])
