"""A real ``preread serve`` process on 127.0.0.1 for tests that need one (not the ASGI app)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

LAUNCH = "import sys; from preread.cli import main; sys.exit(main())"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(process: subprocess.Popen[bytes]) -> tuple[bytes, bytes]:
    """Terminate the server; what it printed (stdout, stderr)."""
    process.terminate()
    try:
        return process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()


@contextlib.contextmanager
def running_server(
    home: Path,
    *,
    stdout: int = subprocess.PIPE,
    args: Sequence[str] = (),
    startup: float = 30.0,
    **env: str,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``(base URL, process)`` once ``/healthz`` answers; the fake provider unless ``env`` says;
    ``args``: more options for ``serve`` (``--workers 2``); ``startup``: seconds it may take.

    The access log goes to a pipe read when the server stops: a test making more than a
    few hundred requests passes ``stdout=subprocess.DEVNULL`` (a full pipe blocks writes).
    """
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, "--home", str(home), "serve", "--port", str(port), *args],
        env={**os.environ, "PREREAD_PROVIDER": "fake", **env},
        stdout=stdout,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                _, err = stop(process)
                raise AssertionError(f"the server did not start: {err.decode(errors='replace')}")
            time.sleep(0.1)
        yield base, process
    finally:
        if process.poll() is None:
            stop(process)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def wait(what: str, check: Any, timeout: float = 40.0, every: float = 0.1) -> Any:
    """``check()``'s first truthy value, polled every ``every`` s; AssertionError after
    ``timeout`` s naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)
