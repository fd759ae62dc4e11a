"""Build PDFs with known text for the end-to-end tests (reportlab, deterministic).

A page is a ``Page``: optional running header and footer (``{n}`` is replaced by the
page number, ``{total}`` by the page count), and either ``lines`` (one column) or
``left``/``right`` (two columns). Lines are printed exactly as given, so a line ending
in ``-`` is a word hyphenated at the line end. ``^{…}`` in a line is set raised and
smaller (a superscript: a footnote marker, an exponent). ``sizes`` gives some lines
another font size (a heading set large); ``notes`` are footnotes, set small at the
foot of the page, each starting with its raised label (``^{1}See…``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas


@dataclass
class Page:
    lines: list[str] = field(default_factory=list)
    header: str | None = None
    footer: str | None = None
    left: list[str] = field(default_factory=list)
    right: list[str] = field(default_factory=list)
    headings: set[int] = field(default_factory=set)  # indexes of lines set in bold
    image: bool = False
    sizes: dict[int, float] = field(default_factory=dict)  # line index → font size
    notes: list[str] = field(default_factory=list)
    gaps: dict[int, float] = field(default_factory=dict)  # line index → extra space above


_RAISED = re.compile(r"\^\{([^}]*)\}")


def draw_line(canvas: Canvas, x: float, y: float, text: str, font: str, size: float) -> None:
    """``text`` at (x, y), its ``^{…}`` parts raised and smaller."""
    position = 0
    for match in [*_RAISED.finditer(text), None]:
        plain = text[position : match.start() if match else len(text)]
        if plain:
            canvas.setFont(font, size)
            canvas.drawString(x, y, plain)
            x += canvas.stringWidth(plain, font, size)
        if match is None:
            break
        small = size * 0.65
        canvas.setFont(font, small)
        canvas.drawString(x, y + size * 0.4, match.group(1))
        x += canvas.stringWidth(match.group(1), font, small)
        position = match.end()


def make_pdf(
    path: Path,
    pages: list[Page],
    *,
    title: str | None = None,
    outline: list[tuple[str, int]] | None = None,
    labels: list[tuple[int, str, int, str | None]] | None = None,
    password: str | None = None,
) -> Path:
    """Write ``pages`` to ``path``. ``outline``: (title, 0-based page); ``labels``:
    (0-based page, style, start, prefix) as reportlab's ``addPageLabel``."""
    width, height = A4
    canvas = Canvas(str(path), pagesize=A4, invariant=1)
    if title:
        canvas.setTitle(title)
    if password is not None:
        canvas.setEncrypt(password)
    total = len(pages)
    for number, page in enumerate(pages, start=1):
        if page.header:
            canvas.setFont("Helvetica", 9)
            canvas.drawString(72, height - 40, page.header.format(n=number, total=total))
        for key, page_index in outline or []:
            if page_index == number - 1:
                canvas.bookmarkPage(f"b{key}")
                canvas.addOutlineEntry(key, f"b{key}", level=0)
        if page.image:
            _draw_image(canvas)
        columns = [(72, page.lines)] if page.lines else [(72, page.left), (310, page.right)]
        for x, lines in columns:
            y = height - 80
            for i, line in enumerate(lines):
                bold = i in page.headings and x == 72
                size = page.sizes.get(i, 11 if bold else 10)
                y -= page.gaps.get(i, 0) + max(0, size - 10)
                font = "Helvetica-Bold" if bold else "Times-Roman"
                draw_line(canvas, x, y, line, font, size)
                y -= 14
        y = 60 + 10 * sum(note.count("\n") + 1 for note in page.notes)
        for note in page.notes:
            for part in note.split("\n"):
                draw_line(canvas, 72, y, part, "Times-Roman", 8)
                y -= 10
        if page.footer:
            canvas.setFont("Helvetica", 9)
            canvas.drawCentredString(width / 2, 30, page.footer.format(n=number, total=total))
        canvas.showPage()
    for page_index, style, start, prefix in labels or []:
        canvas.addPageLabel(page_index, style=style, start=start, prefix=prefix)
    canvas.save()
    return path


def _draw_image(canvas: Canvas) -> None:
    from reportlab.lib.utils import ImageReader

    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - pillow comes with reportlab
        raise
    image = Image.new("RGB", (8, 8), (200, 30, 30))
    canvas.drawImage(ImageReader(image), 100, 400, 200, 200)
