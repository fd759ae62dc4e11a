"""Characters/s extracting a 1 MB EPUB against bare zipfile + lxml text, same file, same run.

    .venv/bin/python bench/bench_inputs.py [--rounds N] [--size BYTES] [--against SRC]

The book is generated here (deterministic): EPUB 3, a navigation document, ~40 chapters
of paragraphs with headings, emphasis, note references to an endnotes file, images and
code blocks, zipped to about ``--size`` bytes. Each round times, alternating so all see
the same machine load:

* bare: what zipfile + lxml give with no care: the container, the package, then every
  spine document parsed and its body's ``itertext()`` joined (the chosen library's
  bare text extraction);
* extract: ``preread.readers.epub.extract_epub`` — the same reading plus DRM and
  kind checks, bounded reads, notes moved after their paragraphs, TOC pages and code
  skipped, paragraphs and headings (everything before sentences);
* bare, per block: the same, but each top-level block of a body taken apart (its text
  serialised by lxml, whitespace collapsed): not a goal, the floor of any reader that
  keeps paragraphs apart, for scale;
* read_document: extract plus sentences and blocks (Punkt), for scale (first round only:
  it is slow);
* ebooklib (if installed; it is not a dependency): ``read_epub`` + lxml
  ``text_content()`` of every document item — what choosing ebooklib would cost.

The best round of each is compared, by wall time and by this process's CPU time (the
machine may be shared: CPU time is what the code costs, wall time what a user waits);
the goal is extract ≤ 1.25× bare.

``--against SRC`` (the ``src`` directory of another checkout, e.g. ``git archive main``
unpacked, compiled with its ``build_compiled.py`` or not) times that code and this one
alike, each in a child process of its own (``PYTHONPATH``), a round of bare and extract
from each after each round here: before and after a change, on the same machine load
and in the same position (a process's first run after another's is slower: the table's
own bare runs after the children are not comparable with a run without them). Each
side also gives the median of its per-round ratios.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "inputs"))
from epubmaker import epub, xhtml

from preread.model import DocumentText
from preread.pdf.sentences import tokenizer
from preread.readers import ReadOptions, read_document
from preread.readers.epub import Extracted, extract_epub

SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ne",
    "ru",
    "sa",
    "te",
    "vo",
    "zi",
    "pa",
    "de",
    "gu",
    "ha",
    "ri",
    "so",
    "tu",
    "be",
    "la",
    "mo",
    "ni",
]


def _words(rng: random.Random, count: int) -> list[str]:
    vocabulary = [
        "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4))) for _ in range(6000)
    ]
    return [rng.choice(vocabulary) for _ in range(count)]


def _sentence(rng: random.Random, words: list[str]) -> str:
    picked = [rng.choice(words) for _ in range(rng.randint(6, 22))]
    if rng.random() < 0.2:
        picked[2] = f"<em>{picked[2]}</em>"
    return " ".join(picked).capitalize() + rng.choice(".....?!")


def build_book(size: int) -> bytes:
    rng = random.Random(7)
    words = _words(rng, 50_000)
    documents: dict[str, str] = {}
    notes: list[str] = []
    chapters = 0
    book = b""
    while len(book) < size:
        chapters += 1
        body = [f"<h1>Chapter {chapters}</h1>"]
        for section in range(3):
            body.append(f"<h2>Part {section + 1}</h2>")
            for _ in range(12):
                sentences = [_sentence(rng, words) for _ in range(rng.randint(3, 7))]
                if rng.random() < 0.2:
                    notes.append(_sentence(rng, words))
                    n = len(notes)
                    ref = f'<a epub:type="noteref" id="r{n}" href="notes.xhtml#n{n}">{n}</a>'
                    sentences[0] += ref
                body.append(f"<p>{' '.join(sentences)}</p>")
            body.append('<img src="cover.jpg" alt="An illustration"/>')
            body.append("<pre><code>for x in range(3):\n    print(x)</code></pre>")
        documents[f"ch{chapters}.xhtml"] = xhtml("\n".join(body))
        items = "".join(
            f'<li id="n{i}" epub:type="endnote"><p>{t}</p></li>' for i, t in enumerate(notes, 1)
        )
        documents["notes.xhtml"] = xhtml(f"<h1>Notes</h1><ol>{items}</ol>")
        links = "".join(
            f'<li><a href="ch{i}.xhtml">Chapter {i}</a></li>' for i in range(1, chapters + 1)
        )
        nav = xhtml(f'<nav epub:type="toc"><ol>{links}</ol></nav>')
        spine = ["nav.xhtml", *(f"ch{i}.xhtml" for i in range(1, chapters + 1)), "notes.xhtml"]
        book = epub({"nav.xhtml": nav, **documents}, spine, nav="nav.xhtml")
    return book


def bare(data: bytes) -> list[str]:
    """zipfile + lxml, no care: every spine document's body text."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        container = etree.fromstring(archive.read("META-INF/container.xml"), parser)
        opf_path = next(container.iter("{*}rootfile")).get("full-path")
        opf = etree.fromstring(archive.read(opf_path), parser)
        base = opf_path.rpartition("/")[0]
        hrefs = {i.get("id"): i.get("href") for i in opf.iter("{*}item")}
        texts = []
        for ref in opf.iter("{*}itemref"):
            root = etree.fromstring(archive.read(f"{base}/{hrefs[ref.get('idref')]}"), parser)
            body = next(root.iter("{*}body"))
            texts.append(" ".join("".join(body.itertext()).split()))
    return texts


def bare_blocks(data: bytes) -> int:
    """zipfile + lxml, each top-level block of every spine document's body on its own."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        container = etree.fromstring(archive.read("META-INF/container.xml"), parser)
        opf_path = next(container.iter("{*}rootfile")).get("full-path")
        opf = etree.fromstring(archive.read(opf_path), parser)
        base = opf_path.rpartition("/")[0]
        hrefs = {i.get("id"): i.get("href") for i in opf.iter("{*}item")}
        chars = 0
        for ref in opf.iter("{*}itemref"):
            root = etree.fromstring(archive.read(f"{base}/{hrefs[ref.get('idref')]}"), parser)
            for block in next(root.iter("{*}body")):
                text = etree.tostring(block, method="text", encoding="unicode", with_tail=False)
                chars += len(" ".join(text.split()))
    return chars


def extract(data: bytes) -> Extracted:
    return extract_epub(data, "bench.epub", ReadOptions())


def extracted_chars(book: Extracted) -> int:
    return sum(
        len(p.text) + sum(len(n.text) for n in p.notes) for s in book.sections for p in s.pieces
    )


def full(data: bytes) -> DocumentText:
    return read_document(data, name="bench.epub")


def document_chars(document: DocumentText) -> int:
    return sum(len(b.text) for b in document.blocks)


COUNTS: dict[str, Callable[[Any], int]] = {
    "bare zipfile + lxml": lambda texts: sum(map(len, texts)),
    "preread extract": extracted_chars,
    "preread read_document": document_chars,
}


def with_ebooklib(data: bytes) -> int:
    import ebooklib  # type: ignore[import-untyped]
    from ebooklib import epub as ebooklib_epub
    from lxml import html

    book = ebooklib_epub.read_epub(io.BytesIO(data), options={"ignore_ncx": True})
    chars = 0
    for item in book.get_items_of_type(ebooklib.ITEM_DOCUMENT):
        chars += len(" ".join(html.fromstring(item.get_content()).text_content().split()))
    return chars


def _timed(run: Callable[[bytes], Any], data: bytes) -> tuple[float, float, Any]:
    started, started_cpu = time.perf_counter(), time.process_time()
    result = run(data)
    return time.perf_counter() - started, time.process_time() - started_cpu, result


def _serve(size: int) -> None:
    """``--serve``: the other side of ``--against``: per line read, a round of bare and
    extract; their wall and CPU times written."""
    from preread.readers import COMPILED

    data = build_book(size)
    print(f"{COMPILED} {Path(__import__('preread').__file__).parent}", flush=True)
    for _ in sys.stdin:
        times: list[float] = []
        for run in (bare, extract):
            wall, cpu, result = _timed(run, data)
            times += [wall, cpu]
            del result
        print(*times, flush=True)


class _Against:
    """A child process running another checkout's code (``--against``)."""

    def __init__(self, src: str, size: int) -> None:
        environment = {**os.environ, "PYTHONPATH": str(Path(src).resolve())}
        command = [sys.executable, __file__, "--serve", "--size", str(size)]
        self.child = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=environment
        )
        assert self.child.stdin is not None and self.child.stdout is not None
        self.stdin, self.stdout = self.child.stdin, self.child.stdout
        self.what = self.stdout.readline().strip()
        self.rounds: list[list[float]] = []  # bare wall, bare CPU, extract wall, extract CPU

    def round(self) -> None:
        self.stdin.write("round\n")
        self.stdin.flush()
        self.rounds.append([float(t) for t in self.stdout.readline().split()])

    def report(self) -> None:
        self.stdin.close()
        self.child.wait()
        best = [min(r[i] for r in self.rounds) for i in range(4)]
        print(f"child process, {self.what}, same rounds:")
        print(f"  bare {best[0] * 1000:.1f} ms wall / {best[1] * 1000:.1f} ms CPU, extract "
              f"{best[2] * 1000:.1f} / {best[3] * 1000:.1f} ms: {best[2] / best[0]:.2f}× wall, "
              f"{best[3] / best[1]:.2f}× CPU; median per round "
              f"{statistics.median(r[2] / r[0] for r in self.rounds):.2f}× wall, "
              f"{statistics.median(r[3] / r[1] for r in self.rounds):.2f}× CPU")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--extract-only", action="store_true", help="skip read_document")
    parser.add_argument("--against", metavar="SRC", help="another checkout's src, timed too")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return _serve(args.size)
    data = build_book(args.size)
    tokenizer()  # Punkt's parameters, loaded once per process
    sides = (
        [_Against(str(Path(__file__).resolve().parents[1] / "src"), args.size),
         _Against(args.against, args.size)]
        if args.against
        else []
    )  # fmt: skip
    runs: dict[str, Callable[[bytes], Any]] = {
        "bare zipfile + lxml": bare,
        "preread extract": extract,
        "bare, per block": bare_blocks,
        "preread read_document": full,
    }
    if args.extract_only:
        del runs["preread read_document"]
    try:
        import ebooklib  # noqa: F401

        runs["ebooklib + lxml"] = with_ebooklib
    except ImportError:
        print("ebooklib is not installed: its figures are left out (pip install ebooklib)")
    wall = {name: float("inf") for name in runs}
    cpu = {name: float("inf") for name in runs}
    chars = dict.fromkeys(runs, 0)
    paired: list[tuple[float, float]] = []  # this round's extract / bare, wall and CPU
    for round_ in range(args.rounds):
        times: dict[str, tuple[float, float]] = {}
        for name, run in runs.items():
            if name == "preread read_document" and round_:
                continue
            spent_wall, spent_cpu, result = _timed(run, data)
            times[name] = spent_wall, spent_cpu
            cpu[name] = min(cpu[name], spent_cpu)
            wall[name] = min(wall[name], spent_wall)
            chars[name] = COUNTS.get(name, int)(result)  # counted (and freed) outside the timing
            del result
        (bare_wall, bare_cpu), (extract_wall, extract_cpu) = (
            times["bare zipfile + lxml"],
            times["preread extract"],
        )
        paired.append((extract_wall / bare_wall, extract_cpu / bare_cpu))
        for side in sides:
            side.round()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        chapters = sum(1 for n in archive.namelist() if n.startswith("OEBPS/ch"))
    print(f"book: {len(data):,} bytes zipped, {chapters} chapters, best of {args.rounds} rounds")
    print(f"  {'':24s} {'wall':>9s} {'CPU':>9s} {'chars':>10s} {'chars/s (CPU)':>14s}  × bare")
    base = "bare zipfile + lxml"
    for name in runs:
        print(
            f"  {name:24s} {wall[name] * 1000:6.1f} ms {cpu[name] * 1000:6.1f} ms "
            f"{chars[name]:>10,} {chars[name] / cpu[name]:>14,.0f}  "
            f"{wall[name] / wall[base]:5.2f} wall, {cpu[name] / cpu[base]:5.2f} CPU"
        )
    for index, (what, best) in enumerate((("wall", wall), ("CPU", cpu))):
        ratio = best["preread extract"] / best[base]
        verdict = "met" if ratio <= 1.25 else "NOT met"
        median = statistics.median(p[index] for p in paired)
        print(
            f"extract / bare ({what} time) = {ratio:.2f}× (goal ≤ 1.25×): {verdict}; "
            f"median per round {median:.2f}×"
        )
    for side in sides:
        side.report()


if __name__ == "__main__":
    main()
