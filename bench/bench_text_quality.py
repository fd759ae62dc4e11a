"""What a listener hears, per category, against exact ground truth; and the corpus.

    .venv/bin/python bench/bench_text_quality.py [--corpus DIR]

1. Generated books (``tests/text/books.py``: alternating running heads, chapter-title
   heads, footnotes across page breaks, a contents page, headings without full stops,
   superscripts, figure labels, French and German chapters), each read by preread and,
   as the baseline measured in the same run, by bare pypdf ``extract_text()`` split with
   the English splitter. Per category: leaks (heads, page numbers, leaders, labels),
   leaders and footnote markers heard, true sentences not heard whole, sentences a
   footnote interrupts, word recall/precision, sentence-boundary precision/recall per
   language.
2. The labelled sentence sets in ``tests/data`` (English, French, German; tuned and
   held-out): boundary precision/recall with each language's rules and, as baseline,
   with the English rules.
3. Every PDF of the shared corpus: blocks, "sentences" under 4 characters, dot
   leaders and glued footnote markers heard, language, against bare pypdf text split the
   same way.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import tempfile
import time
from pathlib import Path

from pypdf import PdfReader

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "text"))

from books import BOOKS, Book  # noqa: E402
from quality import Score, score  # noqa: E402
from test_pdf_sentences import DATA  # noqa: E402
from test_pdf_sentences import score as boundary_score  # noqa: E402

from preread.errors import BadDocument  # noqa: E402
from preread.model import Block, DocumentText  # noqa: E402
from preread.pdf import read_document, split_sentences  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
_LEADER = re.compile(r"(?:\.\s?){4,}")
_GLUED = re.compile(r"[^\W\d_]{2,}[.,;:]\d{1,2}\b")


def bare(path: Path) -> DocumentText:
    """The baseline: pypdf's plain text per page, lines joined, English sentences."""
    reader = PdfReader(path)
    blocks = []
    for number, page in enumerate(reader.pages, start=1):
        text = " ".join(page.extract_text().split())
        sentences = tuple(split_sentences(text)) if text else ()
        if sentences:
            block = Block(len(blocks), number, 0, " ".join(sentences), sentences, "en")
            blocks.append(block)
    return DocumentText("", path.name, "", len(reader.pages), blocks=tuple(blocks))


def _boundaries(result: Score) -> str:
    parts = []
    for language, (tp, found, true) in sorted(result.boundaries.items()):
        parts.append(f"{language} P{tp / max(1, found):.3f}/R{tp / max(1, true):.3f}")
    return " ".join(parts)


def _row(name: str, result: Score) -> str:
    return (
        f"  {name:8} leaks {result.leaks:3}  leaders {result.leaders:3}  markers "
        f"{result.markers:3}  split {result.split:3}/{result.sentences:<4} interrupted "
        f"{result.interrupted:2}  notes missing {result.notes_missing:2}  words R "
        f"{result.recall:.4f} P {result.precision:.4f}  boundaries {_boundaries(result)}"
    )


def books(folder: Path) -> None:
    print("## generated books (exact ground truth); baseline: bare extract_text + English")
    for category, build in BOOKS.items():
        book: Book = build(folder)
        started = time.perf_counter()
        ours = score(book, read_document(book.path))
        elapsed = time.perf_counter() - started
        base = score(book, bare(book.path))
        pages = len(PdfReader(book.path).pages)
        print(f"{category} ({pages} pages, {len(book.sentences)} sentences, {elapsed:.2f} s)")
        print(_row("preread", ours))
        print(_row("baseline", base))


def labelled() -> None:
    print("\n## labelled sentence sets: boundary precision/recall (baseline: English rules)")
    for language in ("en", "fr", "de"):
        for part in ("", "_heldout"):
            stem = "tricky_sentences" if language == "en" else f"tricky_sentences_{language}"
            path = DATA.with_name(f"{stem}{part}.txt")
            p, r, _ = boundary_score(lambda t, lang=language: split_sentences(t, lang), path)
            bp, br, _ = boundary_score(split_sentences, path)
            kind = "held out" if part else "tuned"
            print(
                f"  {language} {kind:8}: preread P {p:.3f} R {r:.3f}   "
                f"English rules P {bp:.3f} R {br:.3f}"
            )


def _corpus_row(document: DocumentText) -> str:
    sentences = [s for b in document.blocks for s in b.sentences]
    text = " ".join(sentences)
    short = sum(1 for s in sentences if len(s) < 4)
    return (
        f"{len(document.blocks):4} blocks {len(sentences):5} sentences, {short:4} under 4 chars, "
        f"{len(_LEADER.findall(text)):4} leaders, {len(_GLUED.findall(text)):3} glued markers"
    )


def corpus(folder: Path) -> None:
    print(f"\n## corpus {folder} (baseline: bare extract_text + English)")
    for pdf in sorted(folder.glob("*.pdf")):
        try:
            started = time.perf_counter()
            document = read_document(pdf)
            elapsed = time.perf_counter() - started
        except BadDocument as exc:
            print(f"{pdf.name}: {exc}")
            continue
        print(f"{pdf.name} ({document.pages} pages, {elapsed:.1f} s, language {document.language})")
        print(f"  preread  {_corpus_row(document)}")
        print(f"  baseline {_corpus_row(bare(pdf))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        books(Path(tmp))
    labelled()
    if args.corpus.is_dir():
        corpus(args.corpus)


if __name__ == "__main__":
    main()
