"""Peak memory (VmHWM) of the pieces the 512 MB Fly VM must hold, each in a fresh process.

    .venv/bin/python bench/bench_deploy_memory.py

Baseline: a process that imports the server's libraries (Starlette, uvicorn) and preread
and does nothing. Then the same plus the embedded Piper voice synthesizing one 450-char
block (what a live chunk generation costs) on the one-thread ONNX session, the same
block alone on the two-thread session (a synthesis running alone with a core idle: both
sessions loaded, the second one's cost), a few blocks in a row (does it grow?), and two
blocks at once (two generations overlapping). Then the real thing: a ``preread
serve`` process (Piper provider, empty store), idle after 200 ``/healthz``, after one live
``POST /v1/audio/speech`` and after two at once. Figures are noisy when other work
shares the CPUs; memory much less so than time.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

VM_MB = 512
BLOCK = (
    "The reader ran out of memory on the small machine, so the audio is now prepared "
    "ahead of time. Each block is at most four hundred and fifty characters long, and it "
    "always ends at a sentence end. A server then streams the stored chunks from disk, "
    "which needs very little memory at all. Only a missing chunk is generated live, once, "
    "however many listeners ask for it at the same time, and then it is kept on disk for "
    "every next listener who asks."
)
MODES = ("baseline", "one", "solo", "sequential", "concurrent")


def peak_mb() -> float:
    """This process's peak resident set size (VmHWM) in MB."""
    with open("/proc/self/status") as status:
        match = re.search(r"VmHWM:\s+(\d+)\s+kB", status.read())
    assert match is not None
    return int(match.group(1)) / 1024


def child(mode: str) -> None:
    import starlette.applications  # noqa: F401  (what the server imports)
    import uvicorn  # noqa: F401

    from preread.settings import VoiceSettings
    from preread.tts.piper import PiperProvider

    sentences = [s if s.endswith(".") else s + "." for s in BLOCK.split(". ")]
    started = time.perf_counter()
    if mode != "baseline":
        provider = PiperProvider()
        # "one": the one-thread session only (as with PREREAD_SYNTH_WORKERS=1, and every
        # synthesis before the two-thread one); the others: an idle core whatever the
        # machine's load, so a synthesis alone takes the two-thread session (worst case)
        provider.spare_core = lambda: mode != "one"
        voice = provider.resolve(VoiceSettings())

        def run(blocks: int) -> None:
            for _ in range(blocks):
                for _chunk in provider.synthesize(sentences, voice):
                    pass

        if mode in ("one", "solo"):
            run(1)
        elif mode == "sequential":
            run(5)
        else:
            threads = [threading.Thread(target=run, args=(3,)) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    print(f"{peak_mb():.0f} {time.perf_counter() - started:.1f}")


def measure(mode: str) -> tuple[float, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return float(out[0]), float(out[1])


def server_peaks() -> list[tuple[str, float, float]]:
    """Peak RSS of a real ``preread serve``: idle, after 1 live speech, after 2 at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    preread = str(Path(sys.executable).parent / "preread")
    with tempfile.TemporaryDirectory() as home:
        proc = subprocess.Popen(
            [preread, "--home", home, "serve", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            return list(_drive_server(base, proc.pid))
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def _drive_server(base: str, pid: int) -> Iterator[tuple[str, float, float]]:
    def hwm() -> float:
        text = Path(f"/proc/{pid}/status").read_text()
        match = re.search(r"VmHWM:\s+(\d+)\s+kB", text)
        assert match is not None
        return int(match.group(1)) / 1024

    def speech(text: str) -> None:
        body = json.dumps({"input": text, "model": "tts-1", "voice": "alloy"}).encode()
        request = urllib.request.Request(
            f"{base}/v1/audio/speech", body, {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            response.read()

    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2):
                break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    started = time.perf_counter()
    for _ in range(200):
        with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:
            response.read()
    yield "serve: idle, after 200 GET /healthz", hwm(), time.perf_counter() - started
    started = time.perf_counter()
    speech(BLOCK)
    yield "serve: after 1 live POST /v1/audio/speech", hwm(), time.perf_counter() - started
    started = time.perf_counter()
    threads = [threading.Thread(target=speech, args=(f"{n}. {BLOCK}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    yield "serve: after 2 live speeches at once", hwm(), time.perf_counter() - started


def main() -> None:
    print(f"block: {len(BLOCK)} chars; VM size in fly.toml: {VM_MB} MB")
    print(f"{'process':<44} {'peak RSS':>9} {'vs VM':>7} {'time':>7}")
    labels = {
        "baseline": "baseline: starlette, uvicorn, preread.tts",
        "one": "1 live Piper block, 1-thread session",
        "solo": "1 block alone, 2-thread session (+1-thread)",
        "sequential": "5 Piper blocks in a row",
        "concurrent": "2 threads, 3 Piper blocks each, at once",
    }
    base = 0.0
    for mode in MODES:
        peak, seconds = measure(mode)
        base = peak if mode == "baseline" else base
        extra = "" if mode == "baseline" else f"  (+{peak - base:.0f} MB over baseline)"
        print(
            f"{labels[mode]:<44} {peak:>6.0f} MB {100 * peak / VM_MB:>6.0f}% {seconds:>6.1f}s"
            + extra
        )
    for label, peak, seconds in server_peaks():
        print(f"{label:<44} {peak:>6.0f} MB {100 * peak / VM_MB:>6.0f}% {seconds:>6.1f}s")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child" and sys.argv[2] in MODES:
        child(sys.argv[2])
    else:
        main()
