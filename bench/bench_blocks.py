"""Pages/s of ``read_document`` against bare pypdf ``extract_text()``, same file, same run.

    .venv/bin/python bench/bench_blocks.py [PDF] [--rounds N]

Default PDF: ../shared/corpus/GeoTopo-komprimiert.pdf (117 pages). Each round times
bare extraction (PdfReader over the bytes + extract_text() of every page) and then
read_document (the same extraction plus cleaning, headers, hyphenation, sentences,
blocks), alternating so both see the same machine load; the best round of each is
compared, in wall time and in this process's CPU time (steadier when other work
shares the machine). The word list, the language model, the hyphenation dictionaries
and Punkt parameters are loaded once before timing (a process-wide cost, reported
separately).
"""

from __future__ import annotations

import argparse
import io
import logging
import time
from pathlib import Path

from pypdf import PdfReader

from preread.pdf import read_document
from preread.pdf.hyphenation import _dictionary, word_list
from preread.pdf.language import _identifier
from preread.pdf.sentences import tokenizer

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "GeoTopo-komprimiert.pdf"


def bare(data: bytes) -> int:
    reader = PdfReader(io.BytesIO(data))
    chars = 0
    for page in reader.pages:
        chars += len(page.extract_text())
    return chars


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pdf", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    data = args.pdf.read_bytes()
    pages = len(PdfReader(io.BytesIO(data)).pages)

    started = time.perf_counter()
    word_list()
    _identifier()
    for language in ("en", "fr", "de"):
        tokenizer(language)
        _dictionary(language)
    warmup = time.perf_counter() - started

    bare_times: list[float] = []
    ours_times: list[float] = []
    bare_cpu: list[float] = []
    ours_cpu: list[float] = []
    blocks = 0
    for _ in range(args.rounds):
        started, cpu = time.perf_counter(), time.process_time()
        bare(data)
        bare_times.append(time.perf_counter() - started)
        bare_cpu.append(time.process_time() - cpu)
        started, cpu = time.perf_counter(), time.process_time()
        blocks = len(read_document(data, name=args.pdf.name).blocks)
        ours_times.append(time.perf_counter() - started)
        ours_cpu.append(time.process_time() - cpu)

    best_bare, best_ours = min(bare_times), min(ours_times)
    print(f"file: {args.pdf.name}, {pages} pages, {len(data)} bytes, {blocks} blocks")
    print(f"one-time load of word list, language model, dictionaries, Punkt: {warmup:.2f} s")
    print(
        f"bare pypdf extract_text : {pages / best_bare:7.1f} pages/s  (best of {args.rounds}: "
        f"{best_bare:.2f} s; all: {', '.join(f'{t:.2f}' for t in bare_times)})"
    )
    print(
        f"preread read_document   : {pages / best_ours:7.1f} pages/s  (best of {args.rounds}: "
        f"{best_ours:.2f} s; all: {', '.join(f'{t:.2f}' for t in ours_times)})"
    )
    print(
        f"overhead of cleaning    : {100 * (best_ours - best_bare) / best_bare:+.1f} % wall, "
        f"{100 * (min(ours_cpu) - min(bare_cpu)) / min(bare_cpu):+.1f} % CPU "
        f"(CPU best: bare {min(bare_cpu):.2f} s, preread {min(ours_cpu):.2f} s; goal ≤ 25 %)"
    )


if __name__ == "__main__":
    main()
