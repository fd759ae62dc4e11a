"""Build PDFs with known text for the end-to-end tests (reportlab, deterministic).

A page is a ``Page``: optional running header and footer (``{n}`` is replaced by the
page number, ``{total}`` by the page count), and either ``lines`` (one column) or
``left``/``right`` (two columns). Lines are printed exactly as given, so a line ending
in ``-`` is a word hyphenated at the line end.
"""

from __future__ import annotations

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
                canvas.setFont("Helvetica-Bold" if bold else "Times-Roman", 11 if bold else 10)
                canvas.drawString(x, y, line)
                y -= 14
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
