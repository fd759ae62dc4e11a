"""Browser tests: Debian's Chromium driven by Playwright, against a real ``preread serve``.

Chromium comes from ``tests/browser/install_chromium.sh`` (``make test`` runs it);
nothing downloads a browser. Without Chromium (or Playwright) the tests skip and say why.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("PREREAD_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--autoplay-policy=no-user-gesture-required",
]


def _why_no_browser() -> str | None:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)) and not shutil.which(
        CHROMIUM
    ):
        return (
            f"no Chromium at {CHROMIUM}: tests/browser/install_chromium.sh could not install"
            " Debian's chromium here (set PREREAD_CHROMIUM to another binary)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium per module: Playwright's sync API runs an event loop while it is open,
    which later tests' ``asyncio.run`` would trip over."""
    why = _why_no_browser()
    if why:
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def shots() -> Path | None:
    """Where to save screenshots (``PREREAD_SCREENSHOTS=DIR``), for a person to look at."""
    value = os.environ.get("PREREAD_SCREENSHOTS")
    if not value:
        return None
    path = Path(value)
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def sample_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One ``preread serve`` for the reader's feature tests (readerkit.Served), with the
    sample PDF registered and page 1 pre-generated. Tests put back what they change
    (``readerkit.ensure_stored``). A 50 MB store limit, so the store panel has a limit."""
    if _why_no_browser():
        pytest.skip(str(_why_no_browser()))
    from readerkit import served_sample

    home = tmp_path_factory.mktemp("reader-features") / "home"
    with served_sample(home, PREREAD_MAX_BYTES="50MB") as served:
        yield served
