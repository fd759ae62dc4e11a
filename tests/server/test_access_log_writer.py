"""The access log never stalls the server: lines go through a bounded queue to a thread."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path

import httpx
import pytest

from liveserver import running_server, stop
from preread.server.log_writer import LineWriter


def test_lines_past_the_queue_are_dropped_counted_and_never_block() -> None:
    read_end, write_end = os.pipe()
    with open(write_end, "w", encoding="utf-8") as stream:
        writer = LineWriter(stream, limit=5)
        line = json.dumps({"n": "x" * 90}) + "\n"
        for _ in range(2000):  # ≈ 200 KB: three times what the unread pipe holds
            writer.write(line)  # returns at once, the pipe full or not
        assert writer.dropped > 0
        chunks: list[bytes] = []

        def drain() -> None:
            while piece := os.read(read_end, 65536):
                chunks.append(piece)

        reader = threading.Thread(target=drain)
        reader.start()
        writer.close()
    reader.join(10)
    os.close(read_end)
    lines = b"".join(chunks).decode().splitlines()
    notes = [json.loads(x) for x in lines if "logLinesDropped" in x]
    assert len(lines) - len(notes) + sum(n["lines"] for n in notes) == 2000  # none lost silently
    assert all(x == line.rstrip("\n") for x in lines if "logLinesDropped" not in x)


@pytest.mark.slow
def test_a_server_whose_stdout_nobody_reads_keeps_answering(home: Path) -> None:
    with running_server(home, stdout=subprocess.PIPE) as (base, process):
        with httpx.Client(timeout=10) as client:  # ≈ 150 KB of log: more than a pipe holds
            statuses = {client.get(f"{base}/healthz").status_code for _ in range(600)}
        assert statuses == {200}
        out, _ = stop(process)  # the queued lines are written as the server stops
    lines = [json.loads(x) for x in out.decode().splitlines() if x.startswith("{")]
    assert len(lines) == 600 + 1 and all(x["route"] == "/healthz" for x in lines)


@pytest.mark.parametrize(
    ("path", "method", "cache", "client"),
    [
        ("/api/tts/chunk", "GET", "HIT", "127.0.0.1"),
        ('/a "quoted"\\path\u00e9\u2028\x01/\U0001f600', "M\u00e9THOD", None, None),
        ("/x" * 150, "HEAD", "MISS", "::1"),
    ],
)
def test_a_line_is_what_json_dumps_writes(
    path: str, method: str, cache: str | None, client: str | None
) -> None:
    import io
    import time

    from preread.server.access_log import AccessRecorder
    from preread.server.metrics import Metrics

    stream = io.StringIO()
    writer = LineWriter(stream)
    AccessRecorder(Metrics(multiprocess=False), True, writer).record_parts(
        client, path, "rid-1", "/api/{x}", method, 404, 12345, cache, time.perf_counter()
    )
    writer.close()
    text = stream.getvalue()
    line = json.loads(text)
    expected = {"ts": line["ts"], "requestId": "rid-1", "method": method, "route": "/api/{x}",
                "path": path[:200], "status": 404, "durationMs": line["durationMs"],
                "bytes": 12345, "cache": cache, "client": client}  # fmt: skip
    assert text == json.dumps(expected, separators=(",", ":")) + "\n"
    assert isinstance(line["ts"], float) and 0 <= line["durationMs"] < 5000
