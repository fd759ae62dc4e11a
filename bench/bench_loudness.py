"""Benchmark: loudness spread across every chunk of a 20-page document, before and after.

The document (bench_preprocess's generated 20-page PDF) is spoken by an engine chain
``openai,piper``: a local server speaking OpenAI's protocol (``tests/openai_server.py``,
a tone at its own level) that fails a share of requests (``--fail``, default 30 %), so
Piper (the embedded neural voice) speaks those chunks, as after a real outage.

* after: the chunk files ``preprocess`` wrote (one gain per voice, fixed dynamics,
  −16 LUFS target, −1.5 dBTP ceiling), decoded;
* before: the same chunks' audio as the engines gave it (captured at the providers,
  encoded and decoded the same way), i.e. what preread stored before levelling.

Integrated loudness of each chunk with pyloudnorm (ITU-R BS.1770-4): spread (max − min)
and standard deviation over all chunks, per engine and together; the largest step
between consecutive chunks (any engines; and of one engine: neighbours in the document
both spoken by it, and that engine's chunks one after the other); true peaks (4×
oversampled) after. CPU: each chunk's synthesis (the engine), its levelling, and the
gain and limiter alone (the levelling before the fixed dynamics) on the same PCM.

    .venv/bin/python bench/bench_loudness.py [--pages 20] [--fail 0.3]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))


def lufs(samples: np.ndarray, rate: int) -> float:
    import pyloudnorm

    return float(pyloudnorm.Meter(rate).integrated_loudness(samples / 32768.0))


def true_peak(samples: np.ndarray) -> float:
    from scipy.signal import resample_poly

    return float(20 * np.log10(np.abs(resample_poly(samples / 32768.0, 4, 1)).max()))


def spread(values: list[float]) -> str:
    if not values:
        return "—"
    sd = statistics.pstdev(values)
    return (
        f"{max(values) - min(values):5.2f} LU (sd {sd:4.2f}, mean {statistics.mean(values):6.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--fail", type=float, default=0.3, help="share of requests failing")
    args = parser.parse_args()

    from bench_preprocess import make_pdf

    from openai_server import SpeechServer
    from preread.audio import decode, encode
    from preread.library import Library
    from preread.settings import Settings
    from preread.tts import dynamics, loudness
    from preread.tts.openai import OpenAIProvider
    from preread.tts.piper import PiperProvider

    raw: dict[str, list[tuple[bytes, int]]] = {}  # sentence text → PCM as the engine gave it
    engine_cpu: dict[str, float] = {}  # provider → CPU seconds in its synthesize (this thread)

    def capture(cls: type) -> None:
        original = cls.synthesize

        def synthesize(self, sentences, voice):  # type: ignore[no-untyped-def]
            spoken = original(self, sentences, voice)
            while True:
                started = time.thread_time()
                chunk = next(spoken, None)
                engine_cpu[cls.name] = engine_cpu.get(cls.name, 0.0) + time.thread_time() - started
                if chunk is None:
                    return
                raw.setdefault(chunk.text, []).append((chunk.pcm, chunk.sample_rate))
                yield chunk

        cls.synthesize = synthesize

    capture(OpenAIProvider)
    capture(PiperProvider)
    levelling: list[float] = []  # seconds per sentence in loudness.level
    original_level = loudness.level

    def timed_level(pcm: bytes, rate: int, gain_db: float) -> bytes:
        started = time.thread_time()  # this thread's CPU: other workers run meanwhile
        out = original_level(pcm, rate, gain_db)
        levelling.append(time.thread_time() - started)
        return out

    loudness.level = timed_level  # type: ignore[assignment]

    def gain_and_limiter(pcm: bytes, gain_db: float, rate: int) -> None:
        x = np.frombuffer(pcm, dtype="<i2") * (10 ** (gain_db / 20) / 32768.0)
        x *= dynamics.limit(x, rate, 10 ** ((loudness.CEILING_DBTP - loudness.MARGIN_DB) / 20))

    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp, SpeechServer() as server:
        server.retry_after_on_500 = "0"
        server.amplitude = 0.12
        failing: dict[str, bool] = {}

        def fails(text: str) -> bool:  # the same answer for a text's every retry
            return failing.setdefault(text, rng.random() < args.fail)

        server.fail_when = fails
        pdf = Path(tmp) / "doc.pdf"
        make_pdf(pdf, args.pages)
        settings = Settings.load(
            {
                "PREREAD_PROVIDER": "openai,piper",
                "OPENAI_API_KEY": "sk-bench",
                "OPENAI_BASE_URL": server.base_url,
                "PREREAD_BREAKER_FAILURES": "1000",  # every chunk asks the primary first
            },
            home=str(Path(tmp) / "home"),
        )
        library = Library(settings)
        try:
            document = library.read(pdf)
            started = time.perf_counter()
            summary = library.pregenerate(document, source=pdf)
            elapsed = time.perf_counter() - started
            manifest = library.manifest(document.document_id)
            assert manifest is not None
            before: dict[str, list[float]] = {}
            after: dict[str, list[float]] = {}
            order: list[tuple[float, float]] = []
            engines: list[str] = []
            peaks: list[float] = []
            for entry in manifest.chunks:
                engine = entry.spoken_by[0] if entry.spoken_by else "openai"
                data = library.chunk_path(document.document_id, entry).read_bytes()
                samples, rate = decode(data)
                level_after = lufs(samples, rate)
                peaks.append(true_peak(samples))
                pieces = [raw[s.text][-1] for s in entry.sentences]
                pcm = b"".join(p for p, _ in pieces)
                unlevelled, rate0 = decode(encode(pcm, pieces[0][1], manifest.format).data)
                level_before = lufs(unlevelled, rate0)
                before.setdefault(engine, []).append(level_before)
                after.setdefault(engine, []).append(level_after)
                order.append((level_before, level_after))
                engines.append(engine)
            gains = [
                json.loads(path.read_text("utf-8"))
                for path in sorted((Path(tmp) / "home" / "voices").glob("*.loudness.json"))
            ]
            by_voice = {g["provider"]: g["gainDb"] for g in gains}
            old_cpu = 0.0
            for entry, engine in zip(manifest.chunks, engines, strict=True):
                for sentence in entry.sentences:
                    pcm, rate = raw[sentence.text][-1]
                    started = time.thread_time()
                    gain_and_limiter(pcm, by_voice[engine], rate)
                    old_cpu += time.thread_time() - started
        finally:
            library.close()
    chunks = len(order)
    print(
        f"{args.pages} pages, {chunks} chunks ({summary.progress.state}, {elapsed:.1f} s): "
        + ", ".join(f"{name} {len(v)}" for name, v in sorted(after.items()))
    )
    print(f"{'integrated loudness':<28} {'before (as the engines speak)':<40} after (preread)")
    for name in sorted(after):
        print(f"  {name:<26} {spread(before[name]):<40} {spread(after[name])}")
    everything_before = [b for b, _ in order]
    everything_after = [a for _, a in order]
    print(f"  {'all chunks':<26} {spread(everything_before):<40} {spread(everything_after)}")
    pairs = list(itertools.pairwise(zip(engines, order, strict=True)))
    for name, wanted in [("any engines", None), *((n, n) for n in sorted(after))]:
        chosen = [(a, b) for (e, a), (f, b) in pairs if wanted is None or e == f == wanted]
        if chosen:
            before_step = max(abs(a[0] - b[0]) for a, b in chosen)
            after_step = max(abs(a[1] - b[1]) for a, b in chosen)
            label = f"largest step, {name}"
            print(
                f"  {label:<26} {before_step:5.2f} LU ({len(chosen)} pairs){'':<21} "
                f"{after_step:5.2f} LU"
            )
    for name in sorted(after):
        sequence = after[name]
        if len(sequence) > 1:
            step = max(abs(a - b) for a, b in itertools.pairwise(sequence))
            seq_before = max(abs(a - b) for a, b in itertools.pairwise(before[name]))
            label = f"  {name}'s chunks in a row"
            print(f"{label:<28} {seq_before:5.2f} LU{'':<32} {step:5.2f} LU")
    for g in gains:
        print(
            f"voice {g['provider']}/{g['voice']}: reference {g['measuredLufs']} LUFS, gain "
            f"{g['gainDb']:+.1f} dB, reference levelled {g['levelledLufs']} LUFS"
        )
    print(f"true peak after: max {max(peaks):.2f} dBTP (ceiling −1.5 dBTP); target −16 LUFS")
    piper_chunks = len(after.get("piper", []))
    if piper_chunks:
        print(f"CPU per Piper chunk: synthesis {engine_cpu.get('piper', 0) / piper_chunks:.2f} s")
    print(
        f"CPU per chunk (all, this thread): levelling {sum(levelling) / chunks * 1000:.0f} ms; "
        f"gain and limiter alone (the levelling before) {old_cpu / chunks * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
