"""Benchmark: an engine chain (openai,piper) with a primary failing 30 % of requests,
against a healthy primary, on the same document in the same run.

The primary is the test suite's local OpenAI-protocol server (``tests/openai_server.py``,
real HTTP through the ``openai`` SDK) answering each request after ``--latency`` seconds
(a fast TTS server's synthesis time). Its failing requests are split evenly between a
429 with ``Retry-After: 1``, a 500 and a hang (no answer: the request times out after
``PREREAD_OPENAI_TIMEOUT``, 2 s here). The fallback is the embedded Piper voice.

Runs, each in a fresh store: the healthy primary (baseline); the failing primary with
the default retries (4: a chunk rarely falls through); the failing primary with
``PREREAD_OPENAI_RETRIES=1`` (fails over sooner). For each: wall time, chunks done,
chunks the fallback made, requests sent, and P50/P95 synthesis time per provider (from
the store's synthesis journal, what ``preread stats`` prints).

Usage: ``python bench/bench_engine_chain.py [--blocks 24] [--fail 0.3] [--fallback piper]``.
Figures are noisy on a shared 2-core machine.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from openai_server import SpeechServer
from preread.library import Library
from preread.model import Block, DocumentText
from preread.settings import Settings, VoiceSettings

PROSE = (
    "the keeper climbed narrow stairs while evening light faded over grey water and a "
    "distant ship turned slowly toward the harbour where lamps were burning"
)
WORDS = PROSE.split()


def document(blocks: int) -> DocumentText:
    rng = random.Random(11)
    items = []
    for n in range(blocks):
        sentences = tuple(
            " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 16))).capitalize() + "."
            for _ in range(3)
        )
        items.append(Block(n, n // 4 + 1, n % 4, " ".join(sentences), sentences))
    doc_id = hashlib.sha256(f"bench engine chain {blocks}".encode()).hexdigest()
    return DocumentText(doc_id, "bench.pdf", "Bench", blocks // 4 + 1, blocks=tuple(items))


class Flaky:
    """Picks each answer: ``fail`` of them a 429, a 500 or a hang, in turn at random."""

    def __init__(self, fail: float, seed: int = 7) -> None:
        self.fail = fail
        self.rng = random.Random(seed)
        self.lock = threading.Lock()

    def __call__(self, text: str) -> str:
        with self.lock:
            if self.rng.random() >= self.fail:
                return "ok"
            return self.rng.choice(("429", "500", "hang"))


def run(
    label: str, doc: DocumentText, fail: float, fallback: str, latency: float, **env: str
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, SpeechServer() as server:
        server.delay = latency
        server.retry_after = "1"
        if fail:
            server.choose = Flaky(fail)
        settings = Settings.load(
            {
                "PREREAD_PROVIDER": f"openai,{fallback}",
                "OPENAI_BASE_URL": server.base_url,
                "PREREAD_OPENAI_TIMEOUT": "2",
                **env,
            },
            home=tmp,
        )
        library = Library(settings)
        try:
            if fallback == "piper":  # load the voice before the clock starts
                piper = library.provider_for("piper")
                warm = piper.resolve(VoiceSettings(provider="piper"))
                for _ in piper.synthesize(["Ready."], warm):
                    pass
            started = time.perf_counter()
            summary = library.pregenerate(doc)
            wall = time.perf_counter() - started
            manifest = library.manifest(doc.document_id)
            assert manifest is not None
            answers = [r.answer for r in server.requests if r.path.endswith("/audio/speech")]
            return {
                "label": label,
                "wall": wall,
                "done": summary.progress.done,
                "total": summary.progress.total,
                "fallback": sum(1 for c in manifest.chunks if c.spoken_by is not None),
                "requests": len(answers),
                "failed requests": sum(1 for a in answers if a != "ok"),
                "latency": library.synthesis_summary(),
            }
        finally:
            library.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=24)
    parser.add_argument("--fail", type=float, default=0.3)
    parser.add_argument("--latency", type=float, default=0.3)
    parser.add_argument("--fallback", default="piper", choices=("piper", "fake"))
    args = parser.parse_args()
    doc = document(args.blocks)
    chars = sum(len(b.text) for b in doc.blocks)
    print(
        f"engine chain openai,{args.fallback}: {args.blocks} blocks ({chars} characters); primary"
        f" answers after {args.latency:g} s; failing: {args.fail:.0%} of requests"
        " (429 Retry-After 1 s | 500 | hang, timeout 2 s)"
    )
    runs = [
        run("healthy primary (baseline)", doc, 0.0, args.fallback, args.latency),
        run(f"{args.fail:.0%} failing, 4 retries", doc, args.fail, args.fallback, args.latency),
        run(
            f"{args.fail:.0%} failing, 1 retry",
            doc,
            args.fail,
            args.fallback,
            args.latency,
            PREREAD_OPENAI_RETRIES="1",
        ),
    ]
    base = runs[0]["wall"]
    print(
        f"{'run':<30} {'wall s':>7} {'x base':>7} {'done':>7} {'fallback':>9}"
        f" {'requests':>9} {'failed':>7}  P50/P95 s per provider"
    )
    for r in runs:
        latency = "  ".join(
            f"{name} {v['p50']:.2f}/{v['p95']:.2f} (n={v['count']})"
            for name, v in r["latency"].items()
        )
        share = r["fallback"] / r["total"] if r["total"] else 0.0
        print(
            f"{r['label']:<30} {r['wall']:>7.1f} {r['wall'] / base:>7.2f}"
            f" {r['done']:>3}/{r['total']:<3} {r['fallback']:>3} {share:>4.0%}"
            f" {r['requests']:>9} {r['failed requests']:>7}  {latency}"
        )


if __name__ == "__main__":
    main()
