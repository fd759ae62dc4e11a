"""The chunk GET answered in uvicorn's HTTP protocol (``preread.server.chunk_protocol``),
on a real ``preread serve`` over raw sockets: the same bytes as the full stack, in order
on a keep-alive connection with pipelined requests, through a full send buffer, and
counted and logged once."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
from pathlib import Path
from typing import Any

import httpx
from serverkit import write_synthetic

from liveserver import running_server, stop
from preread.server.pagecache import in_page_cache
from preread.store import Store

FULL = "&via=stack"  # a parameter the handler ignores: declined below, the full stack answers


class Reply:
    def __init__(self, status_line: bytes, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status_line = status_line
        self.headers = headers
        self.body = body

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name), None)

    def without(self, *names: str) -> list[tuple[str, str]]:
        return [(k, v) for k, v in self.headers if k not in names]


class Connection:
    """One keep-alive HTTP/1.1 connection, written and read by hand."""

    def __init__(self, base: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=20)
        self.buffer = b""

    def send(self, *requests: bytes) -> None:
        self.sock.sendall(b"".join(requests))

    def _fill(self) -> bool:
        data = self.sock.recv(1 << 20)
        self.buffer += data
        return bool(data)

    def read(self, method: str = "GET") -> Reply:
        while b"\r\n\r\n" not in self.buffer:
            assert self._fill(), f"connection closed mid-headers: {self.buffer[:200]!r}"
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status_line, *lines = head.split(b"\r\n")
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in (line.split(b": ", 1) for line in lines)
        ]
        reply = Reply(status_line, headers, b"")
        length = int(reply.header("content-length") or 0)
        if method == "HEAD" or status_line.split()[1] in (b"304", b"204"):
            length = 0
        while len(self.buffer) < length:
            assert self._fill(), "connection closed mid-body"
        reply.body, self.buffer = self.buffer[:length], self.buffer[length:]
        return reply

    def closed(self) -> bool:
        """Whether the server closed the connection (nothing more to read)."""
        self.sock.settimeout(2)  # well before uvicorn's keep-alive timeout (5 s) would
        return self.buffer == b"" and not self._fill()

    def close(self) -> None:
        self.sock.close()


def request(path: str, method: str = "GET", **headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def fast_answers(base: str) -> dict[str, int]:
    answers: dict[str, int] = httpx.get(f"{base}/healthz").json()["fastAnswers"]
    return answers


def log_lines(process: subprocess.Popen[bytes]) -> list[dict[str, Any]]:
    """Stop the server: its access log lines."""
    out, _ = stop(process)
    lines = [json.loads(x) for x in out.decode().splitlines() if x.startswith("{")]
    return [x for x in lines if "requestId" in x]


def test_protocol_answers_are_the_full_stacks_byte_for_byte(home: Path, store: Store) -> None:
    doc = write_synthetic(store, [150_000, 1000, 2000])
    chunk = f"/api/tts/chunk?documentId={doc.document_id}"
    with running_server(home) as (base, process):
        conn = Connection(base)
        conn.send(request(f"{chunk}&index=0"))  # loads the manifest: the full stack
        etag = conn.read().header("etag")
        before = fast_answers(base)
        cases: list[tuple[str, str, dict[str, str]]] = [
            ("index=0", "GET", {}),
            ("page=1&blockIndex=1", "GET", {"Accept": "*/*"}),
            ("index=2", "HEAD", {}),
            ("index=0", "GET", {"If-None-Match": f'W/"x", {etag}'}),
            ("index=0", "HEAD", {"If-None-Match": '"something-else"'}),
        ]
        for number, (query, method, headers) in enumerate(cases):
            replies = []
            for suffix in ("", FULL):
                rid = f"case-{number}{suffix and '-full'}"
                conn.send(request(f"{chunk}&{query}{suffix}", method, X_Request_ID=rid, **headers))
                reply = conn.read(method)
                assert reply.header("x-request-id") == rid
                replies.append(reply)
            fast, full = replies
            assert fast.status_line == full.status_line
            assert fast.without("date", "x-request-id") == full.without("date", "x-request-id")
            assert [k for k, _ in fast.headers] == [k for k, _ in full.headers]
            assert fast.body == full.body
            index = {"index=0": 0, "page=1&blockIndex=1": 1, "index=2": 2}[query]
            if fast.status_line.endswith(b"200 OK"):
                assert fast.header("content-length") == str(len(doc.files[index]))
                assert fast.body == (b"" if method == "HEAD" else doc.files[index])
            else:
                assert fast.status_line == b"HTTP/1.1 304 Not Modified" and fast.body == b""
        after = fast_answers(base)
        conn.close()
        lines = log_lines(process)
    # each fast request was answered by the protocol, each full one by Starlette
    assert after["protocol"] - before["protocol"] == len(cases)
    assert after["asgi"] == before["asgi"] == 0
    for number in range(len(cases)):
        ids = (f"case-{number}", f"case-{number}-full")
        fast_line, full_line = (next(x for x in lines if x.get("requestId") == i) for i in ids)
        for line in (fast_line, full_line):
            del line["ts"], line["durationMs"], line["requestId"]
        assert fast_line == full_line
        assert fast_line["route"] == "/api/tts/chunk" and fast_line["cache"] == "HIT"


def test_pipelined_requests_are_answered_in_order(home: Path, store: Store) -> None:
    doc = write_synthetic(store, [150_000, 3000])
    chunk = f"/api/tts/chunk?documentId={doc.document_id}"
    with running_server(home, PREREAD_API_TOKEN="s3cret") as (base, _):
        httpx.get(f"{base}{chunk}&index=0")  # the manifest is cached
        plan: list[tuple[bytes, str, int, bytes | None]] = [
            (request(f"{chunk}&index=0", X_Request_ID="p0"), "GET", 200, doc.files[0]),
            (request(f"{chunk}&index=1{FULL}", X_Request_ID="p1"), "GET", 200, doc.files[1]),
            (request(f"{chunk}&index=1", X_Request_ID="p2"), "GET", 200, doc.files[1]),
            (request(f"{chunk}&index=9", X_Request_ID="p3"), "GET", 404, None),
            (request(f"{chunk}&index=0", "HEAD", X_Request_ID="p4"), "HEAD", 200, b""),
            (request("/healthz", X_Request_ID="p5"), "GET", 200, None),
            (request(f"{chunk}&index=1", X_Request_ID="p6"), "GET", 200, doc.files[1]),
            (request("/api/tts/preprocess", "POST", X_Request_ID="p7"), "POST", 401, None),
            (request(f"{chunk}&index=0", X_Request_ID="p8"), "GET", 200, doc.files[0]),
            (request(f"{chunk}&index=1", Connection="close", X_Request_ID="p9"), "GET", 200,
             doc.files[1]),
        ]  # fmt: skip
        before = fast_answers(base)
        conn = Connection(base)
        conn.send(*(raw for raw, *_ in plan[:-1]))  # at once: one read may hold them all
        for number, (raw, method, status, body) in enumerate(plan):
            if number == len(plan) - 1:
                conn.send(raw)  # alone: answered by the protocol, which ends the connection
            reply = conn.read(method)
            assert reply.header("x-request-id") == f"p{number}"
            assert reply.status_line.split()[1] == str(status).encode()
            if body is not None:
                assert reply.body == body
        assert reply.header("connection") == "close"
        assert conn.closed()
        conn.close()
        after = fast_answers(base)
    # p0, p2, p4, p6, p8, p9: answered once each, by the protocol while nothing is being
    # answered before them, else (waiting in the pipeline behind p1, p3...) by the ASGI path
    answered = (after["protocol"] - before["protocol"]) + (after["asgi"] - before["asgi"])
    assert answered == 6 and after["protocol"] >= before["protocol"] + 2  # p0 and p9


def test_a_full_send_buffer_and_http_1_0(home: Path, store: Store) -> None:
    doc = write_synthetic(store, [400_000])
    chunk = f"/api/tts/chunk?documentId={doc.document_id}&index=0"
    with running_server(home, stdout=subprocess.DEVNULL) as (base, _):
        httpx.get(f"{base}{chunk}")
        before = fast_answers(base)
        conn = Connection(base)
        count = 60  # 24 MB asked for before a byte is read: the server's writes pause
        conn.send(*(request(chunk, X_Request_ID=f"b{i}") for i in range(count)))
        for i in range(count):
            reply = conn.read()
            assert reply.header("x-request-id") == f"b{i}" and reply.body == doc.files[0]
        conn.close()
        after = fast_answers(base)
        old = Connection(base)
        old.send(f"GET {chunk} HTTP/1.0\r\n\r\n".encode())
        reply = old.read()
        assert reply.status_line == b"HTTP/1.1 200 OK" and reply.body == doc.files[0]
        assert reply.header("connection") == "close" and old.closed()
        old.close()
    answered = (after["protocol"] - before["protocol"]) + (after["asgi"] - before["asgi"])
    assert answered == count and after["protocol"] > before["protocol"]


def test_a_chunk_not_in_the_page_cache_is_left_to_the_asgi_path(home: Path, store: Store) -> None:
    doc = write_synthetic(store, [200_000])
    path = store.chunks_dir(doc.document_id) / doc.manifest.chunks[0].file_name
    chunk = f"/api/tts/chunk?documentId={doc.document_id}&index=0"
    with running_server(home) as (base, _):
        httpx.get(f"{base}{chunk}")
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            evicted = in_page_cache(fd, len(doc.files[0])) is False
        finally:
            os.close(fd)
        before = fast_answers(base)
        response = httpx.get(f"{base}{chunk}")
        after = fast_answers(base)
    assert response.status_code == 200 and response.content == doc.files[0]
    if evicted:  # the kernel let the pages go: the event loop must not read the disk
        assert (after["protocol"], after["asgi"]) == (before["protocol"], before["asgi"] + 1)
    else:
        assert after["protocol"] == before["protocol"] + 1


def test_two_workers_count_and_log_each_request_once(home: Path, store: Store) -> None:
    doc = write_synthetic(store, [20_000, 30_000])
    chunk = f"/api/tts/chunk?documentId={doc.document_id}"
    with running_server(home, args=["--workers", "2"]) as (base, process):
        connections = [Connection(base) for _ in range(8)]
        asked = 0
        for _ in range(5):
            for number, conn in enumerate(connections):
                conn.send(request(f"{chunk}&index={number % 2}", X_Request_ID=f"w{asked}"))
                assert conn.read().body == doc.files[number % 2]
                asked += 1
        for conn in connections:
            conn.close()
        answered = [fast_answers(base)["protocol"] for _ in range(6)]  # by either worker
        metrics = httpx.get(f"{base}/metrics").text
        lines = log_lines(process)
    assert max(answered) > 0
    served = sum(len(doc.files[n % 2]) for n in range(8)) * 5
    assert re.search(
        rf'preread_requests_total{{method="GET",route="/api/tts/chunk",status="200"}} {asked}\.0',
        metrics,
    )
    assert f'preread_chunk_cache_total{{result="hit"}} {asked}.0' in metrics
    chunks = [x for x in lines if x["route"] == "/api/tts/chunk"]
    assert sorted(x["requestId"] for x in chunks) == sorted(f"w{i}" for i in range(asked))
    assert sum(x["bytes"] for x in chunks) == served
    before_scrape = sum(x["bytes"] for x in lines if x["route"] != "/metrics")
    counted = re.search(r"^preread_bytes_served_total (\S+)$", metrics, re.M)
    assert counted is not None and float(counted.group(1)) == before_scrape
