"""Shared fixtures. Tests run offline; the store lives in a temporary home."""

from __future__ import annotations

import ast
import os
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from preread.settings import Settings, VoiceSettings
from preread.store import Store

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
SAMPLE_PDF = ROOT / "examples" / "sample.pdf"

if sys.version_info < (3, 13):
    # CPython 3.11 and 3.12 keep ``ast.parse``'s recursion counter in state shared by
    # every thread (gh-106905): two threads building ASTs at once (the GIL changes hands
    # when a garbage collection inside one runs a finalizer) make one of them raise
    # ``SystemError: AST constructor recursion depth mismatch``. The test process parses
    # in more than one thread (hypothesis pretty-prints by parsing reprs; libraries
    # ``literal_eval``): once seen in the OpenAPI fuzz test. One AST at a time here.
    _parse, _ast_lock = ast.parse, threading.RLock()

    def _one_ast_at_a_time(*args: Any, **kwargs: Any) -> Any:
        with _ast_lock:
            return _parse(*args, **kwargs)

    ast.parse = _one_ast_at_a_time


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's own settings or keys."""
    for name in (
        "PREREAD_HOME",
        "PREREAD_PROVIDER",
        "PREREAD_BREAKER_FAILURES",
        "PREREAD_BREAKER_COOLDOWN",
        "PREREAD_VOICE",
        "PREREAD_SPEED",
        "PREREAD_FORMAT",
        "PREREAD_MODEL",
        "PREREAD_MAX_BYTES",
        "PREREAD_PIN_MINUTES",
        "PREREAD_GRACE_MINUTES",
        "PREREAD_API_TOKEN",
        "PREREAD_CORS_ORIGINS",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "PREREAD_READ_CODE",
        "PREREAD_READ_ALT_TEXT",
        "PREREAD_S3_URL",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
    ):
        monkeypatch.delenv(name, raising=False)
    limits = (
        "TIMEOUT", "RETRIES", "RETRY_BUDGET", "BREAKER_FAILURES", "BREAKER_WINDOW",
        "BREAKER_RATE_FAILURES", "BREAKER_COOLDOWN",
    )  # fmt: skip
    for name in list(os.environ):  # the engine chain's limits, per provider or for all
        if name.startswith("PREREAD_") and name.endswith(limits):
            monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("PREREAD_VOICE_"):  # a voice per language
            monkeypatch.delenv(name)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def store(home: Path) -> Store:
    return Store(home)


@pytest.fixture
def fake_settings(home: Path) -> Settings:
    """Settings using the fake (tone) provider: fast, real audio, no model."""
    return Settings(home=home, voice=VoiceSettings(provider="fake"))


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is not present")
    return CORPUS
