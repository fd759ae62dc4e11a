"""Against a real ``preread serve`` process on 127.0.0.1, with the official openai SDK."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openai import OpenAI
from serverkit import write_synthetic

from liveserver import running_server, stop
from preread.store import Store

pytestmark = pytest.mark.slow


@pytest.fixture
def server(home: Path) -> Iterator[str]:
    with running_server(home, PREREAD_API_TOKEN="tok") as (base, _):
        yield base


def logged_clients(process: subprocess.Popen[bytes]) -> list[str]:
    out, _ = stop(process)
    return [
        json.loads(line)["client"] for line in out.decode().splitlines() if line.startswith("{")
    ]


@pytest.mark.parametrize(
    ("trusted", "expected"), [(None, "127.0.0.1"), ("127.0.0.1", "203.0.113.7")]
)
def test_client_address_behind_a_trusted_proxy(
    home: Path, trusted: str | None, expected: str
) -> None:
    """Rate limits and logs see the real client only when the proxy is trusted."""
    extra = {"PREREAD_TRUSTED_PROXIES": trusted} if trusted else {}
    extra["PREREAD_API_TOKEN"] = "tok"
    with running_server(home, **extra) as (base, process):
        response = httpx.get(f"{base}/healthz", headers={"X-Forwarded-For": "203.0.113.7"})
        assert response.status_code == 200
        assert expected in logged_clients(process)


def test_openai_sdk_gets_speech_from_the_real_server(server: str) -> None:
    client = OpenAI(base_url=f"{server}/v1", api_key="tok", max_retries=0)
    first = client.audio.speech.create(model="tts-1", voice="alloy", input="Hello from preread.")
    audio = first.read()
    assert audio[:2] in (b"\xff\xf3", b"\xff\xfb", b"ID") and len(audio) > 1000
    again = client.audio.speech.create(model="tts-1", voice="alloy", input="Hello from preread.")
    assert again.read() == audio  # the same stored blob
    assert "tts-1" in {m.id for m in client.models.list()}
    denied = OpenAI(base_url=f"{server}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(Exception) as info:
        denied.audio.speech.create(model="tts-1", voice="alloy", input="No.")
    assert getattr(info.value, "status_code", None) == 401


def test_chunks_and_ranges_over_tcp(server: str, home: Path) -> None:
    doc = write_synthetic(Store(home), [200_000, 3000])
    url = f"{server}/api/tts/chunk?documentId={doc.document_id}&index=0"
    with httpx.Client() as client:
        full = client.get(url)
        assert full.status_code == 200 and full.content == doc.files[0]
        ranged = client.get(url, headers={"Range": "bytes=100-199"})
        assert ranged.status_code == 206 and ranged.content == doc.files[0][100:200]
        cached = client.get(url, headers={"If-None-Match": full.headers["etag"]})
        assert cached.status_code == 304
        assert "x-request-id" in full.headers
