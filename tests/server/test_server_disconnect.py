"""A client that goes away mid-body, against a real ``preread serve`` process over TCP.

The server must log such a request as 499 (client closed request), print no
traceback, and never count it among the 5xx answers of ``/metrics``.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import httpx
import pytest

from liveserver import running_server, stop
from promtext import by_label

pytestmark = pytest.mark.slow

PARTIAL_PDF = (
    b"POST /api/documents HTTP/1.1\r\nHost: t\r\nContent-Type: application/pdf\r\n"
    b"Content-Length: 100000\r\n\r\n" + b"%PDF-1.4\n" + b"x" * 2000
)
PARTIAL_JSON = (
    b"POST /v1/audio/speech HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
    b'Content-Length: 500\r\n\r\n{"model": "tts-1", "input": "Hello'
)
PARTIAL_MULTIPART = (
    b"POST /api/documents HTTP/1.1\r\nHost: t\r\n"
    b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 50000\r\n\r\n"
    b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n\r\n%PDF-1.4'
)
BAD_CHUNKED = (
    b"POST /api/documents HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5\r\n%PDF-\r\nZZ-not-a-size\r\n"
)


def send_and_close(port: int, raw: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(raw)
        time.sleep(0.2)  # the server is reading the body when the client goes


def statuses(metrics: str, route: str) -> dict[int, int]:
    found = by_label(metrics, "preread_requests_total", "status", route=route, method="POST")
    return {int(status): int(count) for status, count in found.items()}


def test_a_client_gone_mid_body_is_a_499_without_traceback(home: Path) -> None:
    with running_server(home) as (base, process):
        port = int(base.rsplit(":", 1)[1])
        for raw in (PARTIAL_PDF, PARTIAL_JSON, PARTIAL_MULTIPART, BAD_CHUNKED):
            send_and_close(port, raw)
        deadline = time.monotonic() + 10
        while True:
            metrics = httpx.get(f"{base}/metrics").text
            documents = statuses(metrics, "/api/documents")
            speech = statuses(metrics, "/v1/audio/speech")
            if sum(documents.values()) >= 3 and sum(speech.values()) >= 1:
                break
            assert time.monotonic() < deadline, metrics
            time.sleep(0.1)
        # the server still works for the next client
        assert httpx.get(f"{base}/api/documents").status_code == 200
        out, err = stop(process)
    assert documents == {499: 3} and speech == {499: 1}
    assert not any(s >= 500 for s in documents) and not any(s >= 500 for s in speech)
    logged = [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
    posts = [entry for entry in logged if entry["method"] == "POST"]
    assert [entry["status"] for entry in posts] == [499, 499, 499, 499]
    text = err.decode()
    assert "Traceback" not in text and "internal error" not in text, text
