"""Fixtures for the server tests: an app on the fake provider, in a temporary home."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from serverkit import fake_voice_settings, quiet_options
from starlette.testclient import TestClient

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
