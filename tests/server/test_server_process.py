"""Against a real ``preread serve`` process on 127.0.0.1, with the official openai SDK."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openai import OpenAI
from serverkit import write_synthetic

from preread.store import Store

pytestmark = pytest.mark.slow
LAUNCH = "import sys; from preread.cli import main; sys.exit(main())"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_server(home: Path, **extra_env: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    env = {**os.environ, "PREREAD_PROVIDER": "fake", "PREREAD_API_TOKEN": "tok", **extra_env}
    process = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, "--home", str(home), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"server did not start: {process.stderr.read()!r}")  # type: ignore[union-attr]
            time.sleep(0.1)
        yield base, process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def server(home: Path) -> Iterator[str]:
    with running_server(home) as (base, _):
        yield base


def logged_clients(process: subprocess.Popen[bytes]) -> list[str]:
    process.terminate()
    out, _ = process.communicate(timeout=10)
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
