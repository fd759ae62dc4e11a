"""Generated books with exact ground truth, one per category a listener trips over.

``BOOKS`` maps a category to a builder ``(folder) -> Book``; a ``Book`` is a PDF made by
``pdfmaker`` plus what a listener should hear: the body sentences in order (with their
language), the footnotes (each to be heard whole, after the sentence that cites it
and never inside one), and the strings that must never be heard (running heads, page
numbers, contents leaders, footnote markers, figure labels). Used by the tests and by
``bench/bench_text_quality.py``. Deterministic: the same text every run.
"""

from __future__ import annotations

import random
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pdfmaker import Page, make_pdf

LINES_PER_PAGE = 40
WIDTH = 84


@dataclass
class Book:
    category: str
    path: Path
    sentences: list[tuple[str, str]]  # (sentence, language) in reading order
    notes: list[str] = field(default_factory=list)  # "Note: …" as heard
    forbidden: list[str] = field(default_factory=list)  # never heard, as whole words


def _list(text: str) -> list[str]:
    return text.split()


_EN = _list(
    "keeper sailor harbour lamp cliff village baker storm letter garden river bridge "
    "teacher window market engine island forest doctor library"
)
_EN_VERBS = _list("watched repaired painted visited described carried opened measured")
_EN_ADJ = _list("old quiet narrow bright distant wooden heavy gentle small famous")
_FR = _list(
    "gardien marin port phare falaise village boulanger orage lettre jardin fleuve pont "
    "professeur fenêtre marché moteur île forêt médecin bibliothèque"
)
_FR_VERBS = _list("regardait réparait peignait visitait décrivait portait ouvrait mesurait")
_FR_ADJ = _list("vieux calme étroit clair lointain lourd petit célèbre")
_DE = _list(
    "Wärter Seemann Hafen Leuchtturm Felsen Bäcker Sturm Brief Garten Fluss Lehrer "
    "Fenster Markt Motor Insel Wald Arzt Bibliothek Garten Turm"
)
_DE_VERBS = _list("beobachtete reparierte malte besuchte beschrieb trug öffnete vermaß")
_DE_ADJ = _list("alten ruhigen schmalen hellen fernen schweren kleinen berühmten")


def sentence(rng: random.Random, language: str = "en") -> str:
    """A plain sentence of 8–16 words in ``language``, different each call."""
    if language == "fr":
        a, b = rng.sample(_FR, 2)
        extra = rng.choice(["", " chaque matin", " avec soin", " près du port", " en silence"])
        return f"Le {rng.choice(_FR_ADJ)} {a} {rng.choice(_FR_VERBS)} le {b}{extra}."
    if language == "de":
        a, b = rng.sample(_DE, 2)
        extra = rng.choice(["", " jeden Morgen", " mit Sorgfalt", " am Hafen", " in Ruhe"])
        return f"Der {a} {rng.choice(_DE_VERBS)} den {rng.choice(_DE_ADJ)} {b}{extra}."
    a, b, c = rng.sample(_EN, 3)
    extra = rng.choice(["", " every morning", " with great care", " near the " + c, " at dusk"])
    return f"The {rng.choice(_EN_ADJ)} {a} {rng.choice(_EN_VERBS)} the {b}{extra}."


class Layout:
    """Lays paragraphs, headings and notes out on pages of ``LINES_PER_PAGE`` lines."""

    def __init__(self, header: Callable[[int], str | None] | None = None) -> None:
        self.pages: list[Page] = [Page()]
        self.header = header
        self.sentences: list[tuple[str, str]] = []
        self.notes: list[str] = []

    @property
    def page(self) -> Page:
        return self.pages[-1]

    def _room(self, lines: int = 1) -> None:
        used = len(self.page.lines) + 2 * len(self.page.notes)
        if used + lines > LINES_PER_PAGE:
            self.new_page()

    def new_page(self) -> None:
        self.pages.append(Page())

    def heading(self, text: str, language: str = "en", size: float = 15) -> None:
        self._room(3)
        self.page.sizes[len(self.page.lines)] = size
        self.page.gaps[len(self.page.lines)] = 8
        self.page.lines.append(text)
        self.sentences.append((text + ".", language))

    def paragraph(
        self, sentences: list[str], language: str = "en", notes: dict[int, str] | None = None
    ) -> None:
        """``notes``: sentence index → footnote text; its marker follows that sentence's
        third word."""
        printed = []
        for i, text in enumerate(sentences):
            if notes and i in notes:
                words = text.split(" ")
                words[2] += f"^{{{len(self.notes) + 1}}}"
                self.notes.append(f"Note: {notes[i]}")
                text = " ".join(words)
            printed.append(text)
        self.sentences.extend((s, language) for s in sentences)
        marker_notes = list(self.notes[len(self.notes) - len(notes or {}) :])
        for line in textwrap.wrap(" ".join(printed), WIDTH, break_on_hyphens=False):
            self._room()
            self.page.lines.append(line)
            for note in list(marker_notes):
                label = self.notes.index(note) + 1
                if f"^{{{label}}}" in line:
                    self.page.notes.append(f"^{{{label}}}{note.removeprefix('Note: ')}")
                    marker_notes.remove(note)

    def lines(self, lines: list[str]) -> None:
        for line in lines:
            self._room()
            self.page.lines.append(line)

    def build(self, path: Path, **kwargs: object) -> Path:
        for number, page in enumerate(self.pages, start=1):
            if self.header is not None:
                page.header = self.header(number)
        return make_pdf(path, self.pages, **kwargs)  # type: ignore[arg-type]


def _body(layout: Layout, rng: random.Random, paragraphs: int, language: str = "en") -> None:
    for _ in range(paragraphs):
        layout.paragraph([sentence(rng, language) for _ in range(rng.randint(3, 7))], language)


def alternating_heads(folder: Path) -> Book:
    rng = random.Random(1)
    heads = {0: "{n} A QUIET BOOK OF HARBOURS", 1: "THE LIGHTHOUSE AND ITS KEEPER {n}"}

    def header(n: int) -> str:
        return heads[n % 2].format(n=n)

    layout = Layout(header)
    _body(layout, rng, 40)
    path = layout.build(folder / "alternating.pdf")
    forbidden = ["A QUIET BOOK OF HARBOURS", "THE LIGHTHOUSE AND ITS KEEPER"]
    return Book("alternating heads", path, layout.sentences, forbidden=forbidden)


def chapter_heads(folder: Path) -> Book:
    """Each chapter's title runs at the top of its later pages (not its first): a
    chapter of two pages shows it once, of three pages twice."""
    rng = random.Random(2)
    titles = ["Harbours and Their Keepers", "Storms over the Cliffs", "Letters from the Island"]
    layout = Layout()
    starts: list[int] = []
    for number, title in enumerate(titles, start=1):
        if number > 1:
            layout.new_page()
        starts.append(len(layout.pages) - 1)
        layout.heading(f"{number} {title}", size=16)
        _body(layout, rng, 12 + 6 * (number % 2))
    chapter_of = {}
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(layout.pages)
        for p in range(start + 1, end):
            chapter_of[p + 1] = f"{i + 1} {titles[i].upper()}"
    layout.header = lambda n: chapter_of.get(n)
    outline = [(f"{i + 1} {t}", starts[i]) for i, t in enumerate(titles)]
    path = layout.build(folder / "chapters.pdf", outline=outline)
    return Book(
        "chapter-title heads", path, layout.sentences, forbidden=[t.upper() for t in titles]
    )


def footnotes(folder: Path) -> Book:
    rng = random.Random(3)
    layout = Layout(lambda n: None)
    for i in range(14):
        count = rng.randint(4, 7)
        notes = {rng.randrange(count): f"{sentence(rng)[:-1]} in note {i + 1}."}
        layout.paragraph([sentence(rng) for _ in range(count)], notes=notes)
    for page in layout.pages:
        page.footer = "{n}"
    path = layout.build(folder / "footnotes.pdf")
    return Book("footnotes", path, layout.sentences, notes=layout.notes)


def contents(folder: Path) -> Book:
    rng = random.Random(4)
    titles = ["Linear systems", "Sign constraints", "Limited expressions", "Encodings"]
    layout = Layout()
    layout.heading("Contents", size=18)
    layout.sentences.pop()
    for i, title in enumerate(titles, start=1):
        layout.lines([f"{i} {title} " + ". " * 30 + f"{2 * i}"])
        layout.lines([f"{i}.1 More about {title.lower()} " + ". " * 25 + f"{2 * i + 1}"])
    for i, title in enumerate(titles, start=1):
        layout.new_page()
        layout.heading(f"{i} {title}", size=15)
        _body(layout, rng, 3)
    path = layout.build(folder / "contents.pdf")
    return Book("contents", path, layout.sentences, forbidden=[". . .", "Contents"])


def plain_headings(folder: Path) -> Book:
    rng = random.Random(5)
    layout = Layout()
    for i in range(8):
        layout.heading(f"{i + 1}.{i % 3 + 1} limited expressions of kind {i + 1}", size=13)
        _body(layout, rng, 2)
    return Book(
        "headings without full stops", layout.build(folder / "headings.pdf"), layout.sentences
    )


def superscripts(folder: Path) -> Book:
    layout = Layout()
    printed_lines = [
        "The area grows as x^{2} when the side grows as x.",
        "A megabyte holds about 10^{6} bytes of text.",
        "The volume of the box is a^{3} for a cube.",
        "The sum x^{2} + y^{2} equals r^{2} on the circle.",
        "Light travels about 3 times 10^{8} metres each second.",
    ]
    spoken = {"x^{2}": "x squared", "10^{6}": "10 to the 6", "a^{3}": "a cubed"}
    spoken |= {"y^{2}": "y squared", "r^{2}": "r squared", "10^{8}": "10 to the 8"}
    for printed in printed_lines:
        heard = printed
        for raised, words in spoken.items():
            heard = heard.replace(raised, words)
        layout.lines([printed])
        layout.sentences.append((heard, "en"))
    return Book("superscripts", layout.build(folder / "superscripts.pdf"), layout.sentences)


def figure_labels(folder: Path) -> Book:
    rng = random.Random(6)
    layout = Layout()
    for _ in range(6):
        _body(layout, rng, 2)
        layout.lines(["0 10 20 30 40 50", "5", "y", "2.5 1.5 0.5"])
    forbidden = ["10 20 30", "2.5 1.5"]
    return Book(
        "figure labels", layout.build(folder / "figures.pdf"), layout.sentences, forbidden=forbidden
    )


def languages(folder: Path) -> Book:
    rng = random.Random(7)
    layout = Layout()
    for language, title in (("en", "1 The Harbour"), ("fr", "2 Le village"), ("de", "3 Der Hafen")):
        if layout.page.lines:
            layout.new_page()
        layout.heading(title, language, size=16)
        _body(layout, rng, 10, language)
    path = layout.build(folder / "languages.pdf", outline=[("1 The Harbour", 0)])
    return Book("French and German chapters", path, layout.sentences)


BOOKS: dict[str, Callable[[Path], Book]] = {
    "alternating heads": alternating_heads,
    "chapter-title heads": chapter_heads,
    "footnotes": footnotes,
    "contents": contents,
    "headings without full stops": plain_headings,
    "superscripts": superscripts,
    "figure labels": figure_labels,
    "French and German chapters": languages,
}
