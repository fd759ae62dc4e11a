"""Benchmark: an OpenReader-style reader replayed against `preread serve` on a pre-generated store.

Run: .venv/bin/python bench/bench_reader_requests.py [--provider piper|fake] [--pages 4]

1. Pre-generates the first ``--pages`` pages of each PDF (`preread preprocess`, the
   embedded Piper voice by default) into a temporary store: three PDFs of
   ``../shared/corpus`` and one generated here with a running header and page numbers
   on every page and sentences running over page breaks.
2. Starts a real `preread serve` on that store and replays, per PDF, the request stream
   of a reader that does its own text extraction, written from reading OpenReader's
   public source (v3 splitter and v4 planning), not copied from it:
   * page text from pypdf, every line kept (running headers, page numbers), joined
     with spaces, line-end hyphens joined (``exam- ple`` → ``example``);
   * the pages' texts are one stream: sentences split at ``.!?`` + space + capital,
     packed greedily into blocks of at most 450 characters (a longer sentence cut at
     punctuation, else a space) over page breaks, so blocks carry context from one
     page into the next and rarely start where preread's do;
   * when playback reaches a page it preloads the next page's first two blocks as
     that page packs alone (another starting point than when they are played);
   * each request is ``{"model": "kokoro", "voice": "af_sky", "input": …, "speed": 1,
     "response_format": "mp3", "language": "en"}``, OpenReader's default for a
     custom server.
3. Replays the last PDF's first ``--baseline`` played blocks at speeds 1.10, 1.11, …,
   which the store has no audio for: the time a reader waits when every request is synthesized
   (the server before assembly, on a miss).
4. Prints, per PDF and in total: requests answered with no synthesis (HIT or ASSEMBLED
   with ``X-Preread-Synthesized-Chars: 0``), the share of characters synthesized,
   median and p95 time to first byte and to the whole answer for ASSEMBLED and MISS,
   and the server's RSS (peak before its first synthesis, and overall). Baseline from
   the same run: the requests an exact-text cache (the server before assembly) would
   have answered, i.e. whose text was stored verbatim before the request.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pypdf import PdfReader

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
LAUNCH = "import sys; from preread.cli import main; sys.exit(main())"
CORPUS_PDFS = ("pdflatex-4-pages.pdf", "google-doc-document.pdf", "multicolumn.pdf")
MAX_BLOCK = 450
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’)\]]*\s+(?=[\"“‘(\[]?[A-Z0-9])")
_HYPHEN = re.compile(r"(\w+)-\s+(\w+)")


# -- the reader's side ---------------------------------------------------------------------
def page_texts(pdf: Path, pages: int) -> list[str]:
    reader = PdfReader(pdf)
    texts = []
    for page in reader.pages[:pages]:
        raw = page.extract_text() or ""
        text = " ".join(raw.split())
        texts.append(_HYPHEN.sub(r"\1\2", text))
    return texts


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def _cut_long(sentence: str) -> list[str]:
    parts = []
    while len(sentence) > MAX_BLOCK:
        window = sentence[:MAX_BLOCK]
        cut = max(window.rfind(c) for c in ";:,")
        if cut < MAX_BLOCK // 3:
            cut = window.rfind(" ")
        cut = cut + 1 if cut > 0 else MAX_BLOCK
        parts.append(sentence[:cut].strip())
        sentence = sentence[cut:].strip()
    return [*parts, sentence] if sentence else parts


def pack(text: str) -> list[str]:
    blocks: list[str] = []
    current = ""
    for sentence in sentences(text):
        for part in _cut_long(sentence):
            if current and len(current) + 1 + len(part) > MAX_BLOCK:
                blocks.append(current)
                current = part
            else:
                current = f"{current} {part}" if current else part
    if current:
        blocks.append(current)
    return blocks


def reading_plan(texts: list[str]) -> list[tuple[str, str]]:
    """(kind, input) requests in order: ``play`` and ``preload``.

    Played blocks are packed over the text of all pages as one stream (so a block runs
    over a page break, and block starts drift away from page starts). When playback
    reaches a page, the next page's first two blocks are preloaded as that page packs
    alone (another starting point, no carried context).
    """
    joined, starts = "", []
    for text in texts:
        starts.append(len(joined) + (1 if joined else 0))
        joined = f"{joined} {text}" if joined else text
    requests: list[tuple[str, str]] = []
    position, page = 0, -1
    for block in pack(joined):
        found = joined.find(block[:40], position)
        position = found if found >= 0 else position
        on = max(i for i, start in enumerate(starts) if start <= position) if starts else 0
        while page < on:
            page += 1
            if page + 1 < len(texts):
                requests.extend(("preload", b) for b in pack(texts[page + 1])[:2])
        requests.append(("play", block))
    return requests


# -- the server's side ---------------------------------------------------------------------
def make_header_pdf(path: Path) -> None:
    """Six pages, a running header and a page number on each, sentences over page breaks."""
    import random

    from reportlab.lib.pagesizes import A5
    from reportlab.pdfgen import canvas

    rng = random.Random(7)
    subjects = ("the keeper", "his daughter", "a clerk", "the pilot", "an old sailor", "the cook")
    verbs = ("wrote down", "carried", "counted", "painted", "mended", "read aloud", "found")
    objects = ("the weather", "a lantern", "the names of ships", "every log", "the nets",
               "a letter from the mainland", "the broken glass", "the tide tables")  # fmt: skip
    tails = ("before dawn", "in the winter months", "while the wind pressed on the glass",
             "after the storm", "twice a day", "without a word", "by the lamp")  # fmt: skip
    sentences = []
    for _ in range(140):
        sentence = f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(objects)}"
        sentences.append(f"{sentence[0].upper()}{sentence[1:]} {rng.choice(tails)}.")
    body = " ".join(sentences).split()
    pdf = canvas.Canvas(str(path), pagesize=A5)
    width, height = A5
    position = 0
    for page in range(1, 7):
        pdf.setFont("Helvetica", 8)
        pdf.drawString(40, height - 30, "The Northern Light: A Keeper's Log")
        pdf.drawString(width / 2, 25, str(page))
        pdf.setFont("Helvetica", 10)
        y = height - 60
        while y > 50 and position < len(body):
            line = []
            while position < len(body) and len(" ".join([*line, body[position]])) < 62:
                line.append(body[position])
                position += 1
            pdf.drawString(40, y, " ".join(line))
            y -= 14
        pdf.showPage()
    pdf.save()


def cpu_seconds(pid: int) -> float:
    """The process's CPU time so far (user + system): the server's cost of a request,
    which a loaded machine's wall clock hides."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@dataclass
class Result:
    pdf: str
    kind: str
    chars: int
    cache: str
    synthesized: int
    first_byte: float
    total: float
    verbatim_before: bool
    cpu: float = 0.0  # the server's CPU seconds for this request


@dataclass
class Watch:
    pid: int
    peak_clean: float = 0.0  # before the first synthesis
    peak: float = 0.0
    synthesized: bool = False
    stop: threading.Event = field(default_factory=threading.Event)

    before: float = 0.0

    def run(self) -> None:
        while not self.stop.wait(0.02):
            value = rss_mb(self.pid)
            self.peak = max(self.peak, value)
            if not self.synthesized:
                self.peak_clean = max(self.peak_clean, value)


def replay(
    base: str,
    home: Path,
    provider: str,
    pdf: str,
    plan: list[tuple[str, str]],
    watch: Watch,
    explain: bool,
    speed: float = 1.0,
) -> list[Result]:
    from preread.blobs import blob_key
    from preread.settings import Settings, VoiceSettings
    from preread.store import Store
    from preread.tts import make_provider

    settings = Settings.load(home=str(home), provider=provider)
    voice = make_provider(settings).resolve(
        VoiceSettings(provider=settings.voice.provider, speed=speed)
    )
    store = Store(home)
    results = []
    with httpx.Client(timeout=120) as client:
        for kind, text in plan:
            verbatim = store.blob_path(blob_key(text, voice), "mp3").is_file()
            body = {
                "model": "kokoro", "voice": "af_sky", "input": text, "speed": speed,
                "response_format": "mp3", "language": "en",
            }  # fmt: skip
            watch.before = watch.peak_clean
            cpu = cpu_seconds(watch.pid)
            started = time.perf_counter()
            with client.stream("POST", f"{base}/v1/audio/speech", json=body) as response:
                first = None
                for _ in response.iter_bytes():
                    if first is None:
                        first = time.perf_counter() - started
                total = time.perf_counter() - started
                if response.status_code != 200:
                    raise SystemExit(f"{response.status_code}: {response.read()[:200]!r}")
            time.sleep(0.02)  # the server closes the stream (stores it) after the last byte
            cpu = cpu_seconds(watch.pid) - cpu
            cache = response.headers["x-cache"]
            synthesized = int(response.headers["x-preread-synthesized-chars"])
            if synthesized and not watch.synthesized:
                watch.synthesized = True
                watch.peak_clean = watch.before  # it may have loaded the voice
                if explain:
                    _explain(store, voice, text, cache, synthesized)
            results.append(
                Result(
                    pdf, kind, len(text), cache, synthesized, first or total, total, verbatim, cpu
                )
            )
    return results


def forget_answers(home: Path, env: dict[str, str]) -> None:
    """A reused store loses the answers an earlier run stored (blobs no document links
    to: speech answers), so every run starts from the pre-generated chunks alone."""
    removed = 0
    for path in (home / "blobs").glob("*/*.mp3"):
        if path.stat().st_nlink == 1:
            path.unlink()
            path.with_suffix(".json").unlink(missing_ok=True)
            removed += 1
    subprocess.run(
        [sys.executable, "-c", LAUNCH, "index", "rebuild"], env=env, check=True,
        capture_output=True,
    )  # fmt: skip
    print(f"  removed {removed} answers stored by an earlier run; index rebuilt")


def _explain(store: Any, voice: Any, text: str, cache: str, synthesized: int) -> None:
    """What was synthesized for one request: the plan's gaps, as this process sees them."""
    from preread.speech.index import SpeechIndex, index_path, voice_id
    from preread.speech.plan import plan, registered_furniture

    index = SpeechIndex(index_path(store))
    index.refresh()
    found = plan(text, index, voice_id(voice), registered_furniture(store.documents_dir))
    print(f"  {cache} {synthesized} chars of {len(text)}: {text[:70]!r}…")
    for gap in found.gaps:
        print(f"      synthesized: {gap.text[:100]!r}")


def _ms(values: list[float], q: float) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return f"{1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]:.0f}"


def report(title: str, results: list[Result]) -> None:
    n = len(results)
    free = sum(1 for r in results if r.synthesized == 0)
    chars = sum(r.chars for r in results)
    synth = sum(r.synthesized for r in results)
    verbatim = sum(1 for r in results if r.verbatim_before)
    print(
        f"{title:28s} {n:4d} requests  no synthesis {100 * free / n:5.1f} %"
        f" (exact-text baseline {100 * verbatim / n:5.1f} %)"
        f"  chars synthesized {100 * synth / max(1, chars):5.1f} %"
    )
    groups = [(c, [r for r in results if r.cache == c]) for c in ("HIT", "ASSEMBLED", "MISS")]
    clean = [r for r in results if r.cache == "ASSEMBLED" and r.synthesized == 0]
    groups.insert(2, ("  of which nothing synthesized", clean))
    for cache, group in groups:
        if group:
            first = [r.first_byte for r in group]
            print(
                f"    {cache:9s} {len(group):4d}  first byte p50 {_ms(first, 0.5)} ms"
                f" p95 {_ms(first, 0.95)} ms"
                f"   whole p50 {_ms([r.total for r in group], 0.5)} ms"
                f" p95 {_ms([r.total for r in group], 0.95)} ms"
                f"   server CPU p50 {_ms([r.cpu for r in group], 0.5)} ms"
                f" p95 {_ms([r.cpu for r in group], 0.95)} ms"
                f"   mean input {statistics.mean(r.chars for r in group):.0f} chars"
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--provider", default="piper", choices=["piper", "fake"])
    parser.add_argument("--pages", type=int, default=4)
    parser.add_argument("--keep", action="store_true", help="keep the temporary store")
    parser.add_argument(
        "--home", help="use (and keep) this store; pre-generation resumes what it has"
    )
    parser.add_argument(
        "--baseline", type=int, default=6, help="requests synthesized live for the baseline"
    )
    parser.add_argument(
        "--explain", action="store_true", help="print what was synthesized for each request"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-reader-"))
    home = Path(args.home) if args.home else work / "home"
    header_pdf = work / "northern-light.pdf"
    make_header_pdf(header_pdf)
    pdfs = [CORPUS / name for name in CORPUS_PDFS if (CORPUS / name).is_file()] + [header_pdf]
    env = {**os.environ, "PREREAD_PROVIDER": args.provider, "PREREAD_HOME": str(home)}
    print(f"provider {args.provider}, first {args.pages} pages of {len(pdfs)} PDFs, store {home}")
    for pdf in pdfs:
        pages = min(args.pages, len(PdfReader(pdf).pages))
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", LAUNCH, "preprocess", str(pdf), "--pages", f"1-{pages}"],
            env=env, capture_output=True, text=True,
        )  # fmt: skip
        if done.returncode not in (0,):
            raise SystemExit(f"preprocess {pdf.name} failed: {done.stderr.strip()}")
        print(f"  pre-generated {pdf.name} in {time.perf_counter() - started:.1f} s")
    if args.home:
        forget_answers(home, env)
    port = 8765 + os.getpid() % 1000
    server = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, "serve", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.1)
        watch = Watch(server.pid)
        watcher = threading.Thread(target=watch.run, daemon=True)
        watcher.start()
        print(f"server RSS at start {rss_mb(server.pid):.0f} MB")
        everything: list[Result] = []
        for pdf in pdfs:
            plan = reading_plan(page_texts(pdf, args.pages))
            everything += replay(base, home, args.provider, pdf.name, plan, watch, args.explain)
        print()
        for pdf in pdfs:
            report(pdf.name, [r for r in everything if r.pdf == pdf.name])
        report("all", everything)
        report("all, played (no preloads)", [r for r in everything if r.kind == "play"])
        # baseline: the same kind of requests with nothing stored for them (a speed the
        # store has no audio for), i.e. what every request cost before assembly
        played = list(dict.fromkeys((k, t) for k, t in plan if k == "play"))[: args.baseline]
        live = [  # each at its own speed: nothing stored, nothing reused
            result
            for number, request in enumerate(played)
            for result in replay(
                base, home, args.provider, "baseline", [request], watch, False, 1.1 + number / 100
            )
        ]
        report("baseline: synthesized", live)
        watch.stop.set()
        print(
            f"server RSS: peak before its first synthesis {watch.peak_clean:.0f} MB,"
            f" peak overall {watch.peak:.0f} MB"
        )
    finally:
        server.terminate()
        server.wait(timeout=15)
        if not args.keep:
            import shutil

            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
