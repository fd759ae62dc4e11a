"""The EPUB walk compiled by mypyc, used only while it matches the ``.py`` it was built from.

``make`` (``build_compiled.py``) compiles ``MODULES`` with mypyc into extension modules
beside their sources, and writes ``DIGEST_FILE``: the SHA-256 of those sources at build
time. Python would import an extension before the ``.py`` of the same name, so a source
edited after the build would silently run the old code; ``prefer_source()`` (run when
this module is imported, which ``preread.readers`` does before any of these modules)
loads the ``.py`` files instead when the digest no longer matches (one log warning),
or when ``PREREAD_PURE=1``. The ``.py`` files stay the source of truth: without a
compiler nothing is built and Python imports them as usual. This module imports nothing
from preread, so the build script can load it on its own. (Compiled, a module's
``__file__`` may name a directory that does not exist: mypyc derives it from its group
library's. None of these modules uses it.)
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import logging
import os
import sys
from pathlib import Path
from typing import Literal

PACKAGE = "preread.readers"
# dependency order: each module only imports those before it (and uncompiled ones)
MODULES = ("tree", "notes", "walk", "archive", "epub")
DIGEST_FILE = "_compiled.sha256"
HERE = Path(__file__).resolve().parent

State = Literal["compiled", "stale", "pure"]
log = logging.getLogger(__name__)


def source_digest(directory: Path = HERE) -> str:
    """SHA-256 over the sources of ``MODULES``, in order."""
    digest = hashlib.sha256()
    for name in MODULES:
        digest.update((directory / f"{name}.py").read_bytes())
    return digest.hexdigest()


def extensions(directory: Path = HERE) -> list[Path]:
    """The built extension modules of ``MODULES`` found in ``directory``."""
    found = []
    for name in MODULES:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            if (directory / f"{name}{suffix}").exists():
                found.append(directory / f"{name}{suffix}")
    return found


def state(directory: Path = HERE) -> State:
    """``compiled`` if built from the current sources, ``stale`` if built from others."""
    if not extensions(directory):
        return "pure"
    recorded = directory / DIGEST_FILE
    if recorded.exists() and recorded.read_text().strip() == source_digest(directory):
        return "compiled"
    return "stale"


def _load_source(name: str) -> None:
    qualified = f"{PACKAGE}.{name}"
    loader = importlib.machinery.SourceFileLoader(qualified, str(HERE / f"{name}.py"))
    spec = importlib.util.spec_from_loader(qualified, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[qualified] = module
    loader.exec_module(module)
    setattr(sys.modules[PACKAGE], name, module)


def prefer_source() -> State:
    """Make ``MODULES`` import from their ``.py`` unless the extensions are current.

    All or none: compiled modules call each other's native code directly, so one stale
    module means all are loaded from source. Returns what is in use.
    """
    current = state()
    pure = os.environ.get("PREREAD_PURE") == "1"
    if current == "pure" or (current == "compiled" and not pure):
        return current
    if current == "stale":
        log.warning(
            "preread.readers: the compiled EPUB walk is older than its sources; "
            "using the .py files (run `make` to rebuild)"
        )
    for name in MODULES:
        _load_source(name)
    return "pure"


# not when build_compiled.py loads this file on its own (under another name)
IN_USE: State = prefer_source() if __name__ == f"{PACKAGE}.compiled" else "pure"
