"""Fixtures for the server tests: an app on the fake provider, in a temporary home; an
OpenAI-protocol server (``speech``) and an app whose engine chain starts with it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from serverkit import fake_voice_settings, quiet_options
from starlette.testclient import TestClient

from openai_server import SpeechServer
from preread.server import create_app
from preread.settings import Settings
from preread.tts.fake import FakeProvider


@pytest.fixture
def settings(home: Path) -> Settings:
    return Settings(home=home, voice=fake_voice_settings())


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def client(settings: Settings, provider: FakeProvider) -> Iterator[TestClient]:
    app = create_app(settings, provider=provider, options=quiet_options())
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def speech() -> Iterator[SpeechServer]:
    with SpeechServer() as running:
        yield running


@pytest.fixture
def chain_client(home: Path, speech: SpeechServer) -> Iterator[TestClient]:
    """An app whose engine chain is ``speech`` (OpenAI's protocol), then the fake voice;
    the breaker cools down in 0.2 s."""
    env = {
        "PREREAD_PROVIDER": "openai,fake",
        "OPENAI_BASE_URL": speech.base_url,
        "PREREAD_BREAKER_COOLDOWN": "0.2",
    }
    app = create_app(Settings.load(env, home=str(home)), options=quiet_options())
    with TestClient(app) as test_client:
        yield test_client
