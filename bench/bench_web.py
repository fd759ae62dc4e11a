"""Benchmark: the web reader in headless Chromium against a real `preread serve`.

Run: .venv/bin/python bench/bench_web.py [--rounds 5] [--boundaries 20]

A document (examples/sample.pdf, 5 chunks) is pre-generated with the fake voice, then:
1. Time to first audio: from opening /read/{id} (navigation start) to the first
   `playing` event, less the time between the moment Play works and the click (no
   person is that fast, so it is taken out). Baseline, same run: a bare <audio> element given the
   first chunk's URL on an otherwise empty page (network + decode, no app).
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
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from conftest import ARGS, CHROMIUM  # noqa: E402  (tests/browser/conftest.py)
from liveserver import running_server  # noqa: E402
from preread.ids import document_id_of_bytes  # noqa: E402

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


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def open_and_play(page: Any, base: str) -> tuple[float, float]:
    """(navigation start to first sound, less the wait for the click; page playable), ms."""
    page.goto(f"{base}/read/{DOC}")
    wait_js(page, "document.body.dataset.playable")
    page.click("#play")
    wait_js(page, "window.prereadReader.player.stats.firstAudioAt !== null")
    wait_js(page, "document.body.dataset.ready")
    ready, asked, played = page.evaluate(
        "() => [window.prereadReader.playableAt, window.prereadReader.player.stats.requestedAt,"
        " window.prereadReader.player.stats.firstAudioAt]"
    )
    page.click("#play")  # pause
    return ready + (played - asked), ready


def first_audio(browser: Any, base: str) -> tuple[float, float, float, float]:
    """(cold total, cold page ready, warm total, bare <audio> baseline), milliseconds.
    Cold: a new browser profile; warm: the same reader opened again (HTTP cache)."""
    context = browser.new_context()
    page = context.new_page()
    cold, ready = open_and_play(page, base)
    warm, _ = open_and_play(page, base)
    context.close()
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{base}/healthz")
    url = f"{base}/api/tts/chunk?documentId={DOC}&page=1&blockIndex=0"
    bare = float(page.evaluate(BARE_FIRST_AUDIO, url))
    context.close()
    return cold, ready, warm, bare


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
        kind = response.headers.get("content-type", "")
        if any(k in kind for k in ("html", "javascript", "css", "svg")):
            sizes[response.url.replace(base, "")] = len(response.body())

    page.on("response", record)
    page.goto(f"{base}/")
    wait_js(page, "document.querySelector('#documents li')")
    page.goto(f"{base}/read/{DOC}")
    wait_js(page, "document.body.dataset.ready")
    context.close()
    return sizes


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--boundaries", type=int, default=20)
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
        with (
            running_server(home, stdout=subprocess.DEVNULL) as (base, _),  # a full pipe blocks
            sync_playwright() as p,
        ):
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            first = [first_audio(browser, base) for _ in range(args.rounds)]
            gaps = reader_gaps(browser, base, args.boundaries)
            naive = naive_gaps(browser, base, args.boundaries)
            weight = page_weight(browser, base)
            browser.close()

    app_ms = [f[0] for f in first]
    print(f"time to first audio (median of {args.rounds}, cold browser context):")
    cold_ready = statistics.median(f[1] for f in first)
    print(f"  reader      {statistics.median(app_ms):7.1f} ms  new profile"
          f" (Play usable at {cold_ready:.1f} ms + play; best {min(app_ms):.1f} ms)"
          "   goal <= 300 ms")  # fmt: skip
    warm = [f[2] for f in first]
    print(f"  reader      {statistics.median(warm):7.1f} ms  opened again"
          f" (best {min(warm):.1f} ms)")  # fmt: skip
    print(f"  baseline    {statistics.median(f[3] for f in first):7.1f} ms"
          "  (bare <audio>, chunk URL, no app)")  # fmt: skip
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
