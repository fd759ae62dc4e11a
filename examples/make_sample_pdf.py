"""Write examples/sample.pdf: three short pages of English prose for ``make run``.

The page furniture is what a real document has and a listener must not hear: a
running header, a footer with "Page N of 3", a word hyphenated at a line end, two
headings, and a sentence that runs over a page break. The title is in the metadata
and the outline has one entry per section.

    .venv/bin/python examples/make_sample_pdf.py [OUT.pdf]

reportlab (the ``test`` extra) writes the file; the output is deterministic
(``invariant=1``), so re-running it does not change the committed file.
"""

from __future__ import annotations

import sys
from pathlib import Path

from reportlab.lib.pagesizes import A5
from reportlab.pdfgen.canvas import Canvas

TITLE = "A Short Walk to the Lighthouse"
HEADER = "A Short Walk to the Lighthouse"

# Each page: (heading or None, lines exactly as printed). A line ending in "-" is a
# word broken at the line end; the last line of page 2 runs on to page 3.
PAGES: list[list[tuple[str, str]]] = [
    [
        ("h", "1 The Path Along the Cliffs"),
        ("p", "The lighthouse stands at the end of a narrow path that follows"),
        ("p", "the cliffs for almost two miles. Most visitors start early, when"),
        ("p", "the fog still hangs over the water and the gulls are quiet. The"),
        ("p", "path is well-kept but steep in places, so good shoes are wise."),
        ("p", "Halfway along, a bench looks out over the bay. From there you can"),
        ("p", "see the tower for the first time, white against the grey sky, and"),
        ("p", "on a clear day the island beyond it. The keeper, Mr. Hale, notes"),
        ("p", "that the walk takes about an hour, e.g. longer in wind or rain."),
        ("p", "Remember to bring water, a coat, a map, etc. The café at the top"),
        ("p", "opens at ten."),
    ],
    [
        ("p", "The tower was built in 1852 and rebuilt after a storm in 1907. Its"),
        ("p", "lamp, once fed with whale oil, now runs on electricity and can be"),
        ("p", "seen 22.5 nautical miles out to sea. Inside, a spiral staircase"),
        ("p", "of 117 steps climbs to the gallery; the view from the top is the"),
        ("p", "reason most people come. Children are welcome, but they must be"),
        ("p", "accompanied by an adult at all times on the stairs."),
        ("h", "2 Inside the Tower"),
        ("p", "The small museum on the ground floor tells the story of the keep-"),
        ("p", "ers who lived here. Their logbooks record every ship that passed,"),
        ("p", "every storm and every repair. One entry, written on a winter night,"),
        ("p", "simply reads: \u201cWind from the north. All well.\u201d Visitors often"),
        ("p", "stop at that page for a long time, because it says so much with so"),
    ],
    [
        ("p", "few words. The logbooks are shown behind glass, and copies may be"),
        ("p", "read in the library next door."),
        ("p", "Before you leave, climb once more to the gallery and look back at"),
        ("p", "the path. It is easy to see why people have walked it for more than"),
        ("p", "a century. The sea, the light and the long view make the effort"),
        ("p", "worthwhile. Dr. Evans, who wrote the guide, puts it well: the walk is"),
        ("p", "half the visit. We hope you enjoy both."),
    ],
]
OUTLINE = [("1 The Path Along the Cliffs", 0), ("2 Inside the Tower", 1)]


def make(path: Path) -> None:
    width, height = A5
    canvas = Canvas(str(path), pagesize=A5, invariant=1)
    canvas.setTitle(TITLE)
    canvas.setAuthor("preread")
    canvas.setSubject("Sample document for preread")
    total = len(PAGES)
    for number, lines in enumerate(PAGES, start=1):
        canvas.setFont("Helvetica-Oblique", 8)
        canvas.drawCentredString(width / 2, height - 30, HEADER)
        y = height - 60
        for kind, text in lines:
            if kind == "h":
                y -= 6
                canvas.setFont("Helvetica-Bold", 11)
                canvas.drawString(36, y, text)
                for title, page in OUTLINE:
                    if title == text and page == number - 1:
                        key = f"s{page}"
                        canvas.bookmarkPage(key)
                        canvas.addOutlineEntry(title, key, level=0)
                y -= 18
            else:
                canvas.setFont("Times-Roman", 9.5)
                canvas.drawString(36, y, text)
                y -= 13
        canvas.setFont("Helvetica", 8)
        canvas.drawCentredString(width / 2, 24, f"Page {number} of {total}")
        canvas.showPage()
    canvas.save()


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("sample.pdf")
    make(out)
    print(f"wrote {out} ({out.stat().st_size} bytes)")
