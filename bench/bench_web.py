"""Benchmark: the web reader in headless Chromium against a real `preread serve`.

Run: .venv/bin/python bench/bench_web.py [--rounds 5] [--boundaries 20] [--trace]
     [--against OTHER_CHECKOUT/src]

A document (examples/sample.pdf, 5 chunks) is pre-generated with the fake voice, then:
1. Time to first audio: from opening /read/{id} (navigation start) to the first
   `playing` event, for a person who presses Play the moment it works: an init script
   clicks Play as soon as the page marks itself playable. Beside it, the measure printed
   before 2026-12-01 ("old measure"; other browser contexts, same run): the bench clicked
   when its polling saw Play usable and took the whole wait out, playable + (playing -
   click); when the first chunk was still being fetched or decoded after Play became
   usable, and done before the late click, that time was not counted. Baseline, same
   run: a bare <audio> element given the first chunk's URL on an otherwise empty page
   (network + decode, no app). The floor no page can go under, same run, new profiles:
   an empty page with the reader's headers (served by a small server in this process),
   when its one classic script runs; and the same page with the first chunk's bytes in
   an <audio> of its HTML, which that script plays: its first `playing`.
   --trace prints one new-profile opening's timeline
   (resource timing: queued, request, first byte, end; the page's marks and paints).
2. Gap at chunk boundaries: the reader's two-element prefetch, `ended` of one chunk to
   `playing` of the next, p50/p95 over many boundaries. Baseline, same run: one
   <audio> element that loads the next chunk's URL when the current one ends.
3. Page weight: HTML, JS and CSS the library and reader pages load (uncompressed).
Goals from issue 12: first audio <= 300 ms, gap p95 <= 50 ms, weight <= 150 KB.
Medians, with the best round beside them: on a loaded machine the best round shows what
the page itself costs, the median what the load adds.
Debian's chromium is needed (tests/browser/install_chromium.sh installs it).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from conftest import ARGS, CHROMIUM  # noqa: E402  (tests/browser/conftest.py)
from liveserver import running_server  # noqa: E402
from preread.ids import document_id_of_bytes  # noqa: E402
from preread.server.web import SECURITY_HEADERS  # noqa: E402

SAMPLE = ROOT / "examples" / "sample.pdf"
DOC = document_id_of_bytes(SAMPLE.read_bytes())

BARE_FIRST_AUDIO = """async (url) => {
  const a = new Audio();
  const t0 = performance.now();
  a.src = url;
  const playing = new Promise((r) => a.addEventListener("playing", r, { once: true }));
  await a.play();
  await playing;
  const t = performance.now() - t0;
  a.pause();
  return t;
}"""

NAIVE_GAPS = """async ([urls, n]) => {
  const a = new Audio();
  const gaps = [];
  const once = (type) => new Promise((r) => a.addEventListener(type, r, { once: true }));
  for (let k = 0; k < n; k++) {
    const i = k % (urls.length - 1);
    a.src = urls[i];
    const started = once("playing");
    await a.play();
    await started;
    a.currentTime = Math.max(0, a.duration - 0.2);
    await once("ended");
    const t = performance.now();
    a.src = urls[i + 1];
    const playing = once("playing");
    await a.play();
    await playing;
    gaps.push(performance.now() - t);
  }
  a.pause();
  return gaps;
}"""


def wait_js(page: Any, expression: str, timeout: float = 15.0) -> None:
    from playwright.sync_api import Error

    deadline = time.monotonic() + timeout
    while True:
        try:
            if page.evaluate(f"() => Boolean({expression})"):
                return
        except Error:  # a navigation replaced the page under us: ask the new one
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out: {expression}")
        page.wait_for_timeout(10)


# The floor: what a new browser profile costs any page with the reader's headers.
FLOOR_PAGES = {
    "/empty": '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>empty</title>'
    '<script src="/ran.js"></script></head><body><p>empty</p></body></html>',
    "/audio": '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>audio</title>'
    '</head><body><audio id="a" src="/chunk" preload="auto"></audio><p>audio</p>'
    '<script src="/play.js"></script></body></html>',
    "/ran.js": "window.ran = performance.now();",
    "/play.js": 'window.ran = performance.now(); const a = document.getElementById("a");'
    ' a.addEventListener("playing", () => { window.playing = performance.now(); }, { once: true });'
    " a.play();",
}


@contextlib.contextmanager
def floor_server(chunk: bytes, chunk_type: str) -> Iterator[str]:
    """FLOOR_PAGES and the first chunk's bytes (``/chunk``) with the reader's headers."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            if self.path == "/chunk":
                body, kind = chunk, chunk_type
            elif self.path in FLOOR_PAGES:
                body = FLOOR_PAGES[self.path].encode()
                kind = "text/javascript" if self.path.endswith(".js") else "text/html"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            for name, value in {**SECURITY_HEADERS, "Cache-Control": "no-cache"}.items():
                self.send_header(name, value)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def floor(browser: Any, base: str) -> dict[str, float]:
    """ms from navigation, new profiles: the empty page's script runs; the <audio> plays."""
    found = {}
    for path, key, expression in (
        ("/empty", "floor_script", "window.ran"),
        ("/audio", "floor_audio", "window.playing"),
    ):
        context = browser.new_context()
        page = context.new_page()
        page.goto(base + path)
        wait_js(page, f"{expression} !== undefined")
        found[key] = float(page.evaluate(f"() => {expression}"))
        context.close()
    return found


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


TIMELINE = """() => {
  const rows = [];
  const nav = performance.getEntriesByType("navigation")[0];
  rows.push(["page " + new URL(nav.name).pathname.slice(0, 14) + "…", nav.startTime,
             nav.requestStart, nav.responseStart, nav.responseEnd]);
  for (const r of performance.getEntriesByType("resource")) {
    const u = new URL(r.name);
    rows.push([(u.pathname + u.search).slice(0, 28), r.startTime, r.requestStart,
               r.responseStart, r.responseEnd]);
  }
  rows.push(["HTML parsed (domInteractive)", nav.domInteractive]);
  rows.push(["load event", nav.loadEventStart]);
  for (const e of performance.getEntriesByType("paint")) rows.push([e.name, e.startTime]);
  for (const m of performance.getEntriesByType("mark")) rows.push([m.name, m.startTime]);
  const app = window.prereadReader;
  rows.push(["Play usable", app.playableAt], ["click", app.player.stats.requestedAt],
            ["first audio (playing)", app.player.stats.firstAudioAt]);
  return rows.sort((a, b) => a[1] - b[1]);
}"""


# Presses Play the moment the reader says it works (body[data-playable]), as a person
# whose finger is already on the button: no polling delay in the measurement.
CLICK_WHEN_PLAYABLE = """
new MutationObserver((_, observer) => {
  if (document.body && document.body.dataset.playable) {
    observer.disconnect();
    document.getElementById("play").click();
  }
}).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-playable"] });
"""


def open_and_play(page: Any, base: str, auto: bool, trace: bool = False) -> tuple[float, float]:
    """(first audio, Play usable), ms from navigation start. In a context with
    CLICK_WHEN_PLAYABLE (auto), first audio is the first `playing` event itself; else (the
    old measure) the bench clicks when it sees Play usable and the time between the two is
    taken out: playable + (playing - click)."""
    page.goto(f"{base}/read/{DOC}")
    wait_js(page, "document.body.dataset.playable")
    if not auto:
        page.click("#play")
    wait_js(page, "window.prereadReader.player.stats.firstAudioAt !== null")
    wait_js(page, "document.body.dataset.ready")
    ready, asked, played = page.evaluate(
        "() => { const p = window.prereadReader.player;"
        " return [window.prereadReader.playableAt, p.stats.requestedAt, p.stats.firstAudioAt]; }"
    )
    if trace:
        print("timeline of one opening (ms from navigation: start, request, first byte, end):")
        for row in page.evaluate(TIMELINE):
            times = "".join(f"{t:8.1f}" for t in row[1:])
            print(f"  {row[0]:<30}{times}")
    page.click("#play")  # pause
    return (played if auto else ready + (played - asked)), ready


def first_audio(browser: Any, base: str, trace: bool = False) -> dict[str, float]:
    """Cold: a new browser profile; warm: the same reader opened again (HTTP cache);
    *_old: the measure printed before 2026-12-01; bare: a bare <audio> element given the
    chunk's URL. Milliseconds."""
    found: dict[str, float] = {}
    for suffix in ("", "_old"):
        context = browser.new_context()
        if not suffix:
            context.add_init_script(CLICK_WHEN_PLAYABLE)
        page = context.new_page()
        found["cold" + suffix], found["ready" + suffix] = open_and_play(
            page, base, not suffix, trace and not suffix
        )
        found["warm" + suffix], _ = open_and_play(page, base, not suffix)
        context.close()
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{base}/healthz")
    url = f"{base}/api/tts/chunk?documentId={DOC}&page=1&blockIndex=0"
    found["bare"] = float(page.evaluate(BARE_FIRST_AUDIO, url))
    context.close()
    return found


def reader_gaps(browser: Any, base: str, n: int) -> list[float]:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{base}/read/{DOC}")
    wait_js(page, "document.body.dataset.ready")
    chunks = int(page.evaluate("() => window.prereadReader.doc.chunks.length"))
    for k in range(n):
        ci = k % (chunks - 1)
        page.evaluate(f"() => window.prereadReader.player.start({ci}, 0)")
        wait_js(
            page, f"window.prereadReader.player.playing && window.prereadReader.player.ci === {ci}"
        )
        wait_js(page, "window.prereadReader.player.slots.every((s) => s && s.ready)")
        page.evaluate("() => { const p = window.prereadReader.player;"
                      " p.el.currentTime = p.el.duration - 0.2; }")  # fmt: skip
        wait_js(page, f"window.prereadReader.player.stats.gaps.length === {k + 1}")
    gaps = [float(g) for g in page.evaluate("() => window.prereadReader.player.stats.gaps")]
    context.close()
    return gaps


def naive_gaps(browser: Any, base: str, n: int) -> list[float]:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{base}/healthz")
    urls = [f"{base}/api/tts/chunk?documentId={DOC}&index={i}" for i in range(5)]
    gaps = [float(g) for g in page.evaluate(NAIVE_GAPS, [urls, n])]
    context.close()
    return gaps


def page_weight(browser: Any, base: str) -> dict[str, int]:
    sizes: dict[str, int] = {}
    context = browser.new_context()
    page = context.new_page()

    def record(response: Any) -> None:
        from playwright.sync_api import Error

        kind = response.headers.get("content-type", "")
        if any(k in kind for k in ("html", "javascript", "css", "svg")):
            try:
                size = len(response.body())
            except Error:  # answered after the next navigation: the header says its size
                size = int(response.headers.get("content-length", 0))
            sizes[response.url.replace(base, "")] = size

    page.on("response", record)
    page.goto(f"{base}/")
    wait_js(page, "document.querySelector('#documents li')")
    page.goto(f"{base}/read/{DOC}")
    wait_js(page, "document.body.dataset.ready")
    context.close()
    return sizes


def paired(ours: list[dict[str, float]], theirs: list[dict[str, float]], key: str) -> float:
    """Median of the round-by-round differences (rounds run back to back share the load)."""
    return statistics.median(a[key] - b[key] for a, b in zip(ours, theirs, strict=True))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--boundaries", type=int, default=20)
    parser.add_argument("--trace", action="store_true", help="print one opening's timeline")
    parser.add_argument(
        "--against",
        metavar="SRC",
        help="also time another checkout's reader (its src/ directory, e.g. main's) in"
        " alternating rounds: on a busy machine the paired difference is what shows",
    )
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        print(f"skipped: no Chromium at {CHROMIUM} (tests/browser/install_chromium.sh)")
        return 0
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        subprocess.run(
            [sys.executable, "-m", "preread", "--home", str(home), "preprocess", str(SAMPLE),
             "--provider", "fake", "--quiet"],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        with contextlib.ExitStack() as stack:
            # (the access log to /dev/null: a full pipe blocks the server)
            base, _ = stack.enter_context(running_server(home, stdout=subprocess.DEVNULL))
            other = ""
            if args.against:  # the same store, served by the other checkout's code
                other, _ = stack.enter_context(
                    running_server(home, stdout=subprocess.DEVNULL, PYTHONPATH=args.against)
                )
            p = stack.enter_context(sync_playwright())
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            answer = httpx.get(f"{base}/api/tts/chunk?documentId={DOC}&index=0")
            bare = stack.enter_context(floor_server(answer.content, answer.headers["content-type"]))
            first, against = [], []
            for k in range(args.rounds):
                if other and k % 2:
                    against.append(first_audio(browser, other))
                first.append({**first_audio(browser, base, args.trace and k == 0),
                              **floor(browser, bare)})  # fmt: skip
                if other and not k % 2:
                    against.append(first_audio(browser, other))
            gaps = reader_gaps(browser, base, args.boundaries)
            naive = naive_gaps(browser, base, args.boundaries)
            weight = page_weight(browser, base)
            browser.close()

    def med(key: str) -> float:
        return statistics.median(f[key] for f in first)

    def best(key: str) -> float:
        return min(f[key] for f in first)

    print(f"time to first audio (median of {args.rounds}; Play pressed the moment it works):")
    print(f"  reader      {med('cold'):7.1f} ms  new profile (Play usable at {med('ready'):.1f} ms;"
          f" best {best('cold'):.1f} ms)   goal <= 300 ms")  # fmt: skip
    print(f"  reader      {med('warm'):7.1f} ms  opened again (best {best('warm'):.1f} ms)")
    print(f"  old measure {med('cold_old'):7.1f} ms  new profile (best {best('cold_old'):.1f} ms),"
          f" {med('warm_old'):.1f} ms opened again (best {best('warm_old'):.1f} ms)")  # fmt: skip
    print(f"  baseline    {med('bare'):7.1f} ms  (bare <audio>, chunk URL, no app)")
    print(f"  floor       {med('floor_audio'):7.1f} ms  new profile, an empty page's <audio> of the"
          f" first chunk played by its script (best {best('floor_audio'):.1f} ms); its script"
          f" runs at {med('floor_script'):.1f} ms without the <audio> (best"
          f" {best('floor_script'):.1f} ms): what any page with these headers costs")  # fmt: skip
    if against:
        print(f"  --against   {statistics.median(f['cold'] for f in against):7.1f} ms  new profile,"
              f" {statistics.median(f['warm'] for f in against):.1f} ms opened again"
              f" ({args.against}'s reader, alternating rounds); paired difference, this"
              f" tree's minus it: new profile {paired(first, against, 'cold'):+.1f} ms,"
              f" opened again {paired(first, against, 'warm'):+.1f} ms")  # fmt: skip
    print(f"gap at chunk boundaries ({len(gaps)} boundaries, ended -> playing):")
    print(f"  reader      p50 {percentile(gaps, 0.5):6.1f} ms  p95 {percentile(gaps, 0.95):6.1f} ms"
          f"  max {max(gaps):6.1f} ms   goal p95 <= 50 ms")  # fmt: skip
    print(f"  baseline    p50 {percentile(naive, 0.5):6.1f} ms"
          f"  p95 {percentile(naive, 0.95):6.1f} ms"
          f"  max {max(naive):6.1f} ms   (one <audio>, next URL on ended)")  # fmt: skip
    total = sum(weight.values())
    print(
        f"page weight (HTML, JS, CSS, icon; uncompressed): {total / 1000:.1f} KB   goal <= 150 KB"
    )
    for url, size in sorted(weight.items(), key=lambda kv: -kv[1]):
        print(f"  {size / 1000:6.1f} KB  {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
