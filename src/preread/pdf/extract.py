"""Opening a PDF and extracting its text page by page, with a time bound per page.

pypdf's plain ``extract_text()`` keeps columns in reading order; its text visitor gives
each run's font and position (``layout``), so lines come out as ``Line`` objects. Each
page runs under a watchdog: if it takes longer than ``page_timeout`` seconds, an exception is raised
inside the extracting thread (pypdf is pure Python, so it stops at the next bytecode),
the page is skipped and a warning is recorded. Only one page of text is held here at a
time; callers decide what to keep.
"""

from __future__ import annotations

import ctypes
import io
import logging
import re
import threading
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError, PyPdfError

from preread.errors import BadDocument
from preread.pdf.layout import Line, RunCollector, styled_lines

PAGE_TIMEOUT = 20.0
"""Seconds one page may take before it is skipped."""

# pypdf reports recoverable oddities (missing fontTools, bad xref offsets) through
# logging; they are not the user's business and must not clutter the CLI.
logging.getLogger("pypdf").addHandler(logging.NullHandler())
logging.getLogger("pypdf").propagate = False

_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
# control and format characters (soft hyphen, zero-width, bidi marks, BOM), private use,
# surrogates and noncharacters; tab and newline are kept (tab becomes a space below)
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\ufeff\ufff9-\uffff\ue000-\uf8ff\ud800-\udfff"
    "\U000f0000-\U0010ffff]"
)


@dataclass(frozen=True)
class PageText:
    """The cleaned lines of one page (1-based ``number``); blank lines mark breaks.
    Non-blank lines are ``layout.Line`` objects when the page's layout was read."""

    number: int
    lines: tuple[str, ...]


class PageTimeout(BaseException):
    """Raised inside the extracting thread when a page overruns its time."""


def open_pdf(data: bytes, name: str, password: str | None = None) -> PdfReader:
    """A ``PdfReader`` over ``data``, decrypted if needed; ``BadDocument`` otherwise."""
    if b"%PDF-" not in data[:1024]:
        raise BadDocument(f"{name} is not a PDF (no %PDF- header)")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            _decrypt(reader, name, password)
        count = len(reader.pages)
    except BadDocument:
        raise
    except RecursionError as exc:
        raise BadDocument(f"{name} is not a readable PDF (its structure loops)") from exc
    except (PdfReadError, PyPdfError) as exc:
        raise BadDocument(f"{name} is not a readable PDF (corrupt or truncated): {exc}") from exc
    except Exception as exc:  # pypdf meets broken files with many exception types
        raise BadDocument(
            f"{name} is not a readable PDF (corrupt or truncated): {type(exc).__name__}: {exc}"
        ) from exc
    if count == 0:
        raise BadDocument(f"{name} has no pages")
    return reader


def _decrypt(reader: PdfReader, name: str, password: str | None) -> None:
    try:
        ok = reader.decrypt(password if password is not None else "")
    except DependencyError as exc:
        raise BadDocument(
            f"{name} is encrypted with a cipher this installation cannot open: {exc}"
        ) from exc
    except (FileNotDecryptedError, PdfReadError, NotImplementedError) as exc:
        raise BadDocument(f"{name} is encrypted and could not be decrypted: {exc}") from exc
    if not ok:
        if password is None:
            raise BadDocument(f"{name} is encrypted: pass its password with --password")
        raise BadDocument(f"{name} is encrypted and the password given is wrong")


def clean_line(raw: str) -> str:
    """One line: NFKC (ligatures), no soft hyphens or control characters, spaces
    collapsed, stripped."""
    text = unicodedata.normalize("NFKC", raw)
    return _SPACES.sub(" ", _INVISIBLE.sub("", text)).strip()


def clean_text(raw: str) -> list[str]:
    """Raw page text → lines (``clean_line``); runs of blank lines collapse to one."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    lines: list[str] = []
    for line in text.split("\n"):
        line = clean_line(line)
        if line or (lines and lines[-1]):
            lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    return lines


def clean_runs(collector: RunCollector) -> list[str]:
    """The collected runs → cleaned ``Line`` objects (blank lines collapse to one); each
    knows its main font size, baseline, boldness, the gap above it and its markers."""
    if collector.overflow:
        return clean_text(collector.text())
    lines: list[str] = []
    previous_y: float | None = None
    for raw, (size, y, x, bold), markers in styled_lines(collector.runs):
        text = clean_line(raw.replace("\r", ""))
        if not text:
            if lines and lines[-1]:
                lines.append("")
            continue
        gap = previous_y - y if previous_y is not None and size > 0 else 0.0
        lines.append(Line(text, size, y, x, bold, round(gap, 1), tuple(markers)))
        if size > 0:
            previous_y = y
    while lines and not lines[-1]:
        lines.pop()
    return lines


class _Watchdog:
    """Raises ``PageTimeout`` in one thread when an armed deadline passes."""

    def __init__(self, thread_id: int) -> None:
        self._thread_id = thread_id
        self._lock = threading.Lock()
        self._armed = 0  # generation of the armed page, 0 = disarmed
        self._fired = False
        self._wake = threading.Condition(self._lock)
        self._deadline_gen = 0
        self._timeout = 0.0
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="preread-page-watchdog", daemon=True)
        self._thread.start()

    def arm(self, generation: int, timeout: float) -> None:
        with self._wake:
            self._armed = generation
            self._timeout = timeout
            self._fired = False
            self._wake.notify()

    def disarm(self) -> None:
        with self._wake:
            self._armed = 0
            fired = self._fired
            self._fired = False
        if fired:  # the exception may still be pending: cancel it
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self._thread_id), None)

    def close(self) -> None:
        with self._wake:
            self._stop = True
            self._armed = 0
            self._wake.notify()
        self._thread.join(timeout=1.0)

    def _run(self) -> None:
        with self._wake:
            while not self._stop:
                if not self._armed:
                    self._wake.wait()
                    continue
                generation = self._armed
                if self._wake.wait(timeout=self._timeout):
                    continue  # re-armed, disarmed or stopped in time
                if self._armed == generation and not self._stop:
                    self._fired = True
                    ctypes.pythonapi.PyThreadState_SetAsyncExc(
                        ctypes.c_ulong(self._thread_id), ctypes.py_object(PageTimeout)
                    )
                    self._armed = 0


def iter_pages(
    reader: PdfReader,
    numbers: Iterable[int],
    warnings: list[str],
    page_timeout: float = PAGE_TIMEOUT,
) -> Iterator[PageText]:
    """Cleaned text of the given 1-based pages, in the order given.

    A page that fails or overruns ``page_timeout`` yields no lines and adds a warning.
    """
    watchdog = _Watchdog(threading.get_ident())
    try:
        for generation, number in enumerate(numbers, start=1):
            collector = RunCollector()
            lines: list[str] = []
            try:
                watchdog.arm(generation, page_timeout)
                try:
                    reader.pages[number - 1].extract_text(visitor_text=collector)
                    lines = clean_runs(collector)
                finally:
                    watchdog.disarm()
            except PageTimeout:
                warnings.append(f"page {number} skipped: extraction took over {page_timeout:g} s")
            except RecursionError:
                warnings.append(f"page {number} skipped: its content loops")
            except Exception as exc:  # pypdf raises many things on broken pages
                warnings.append(f"page {number} skipped: {type(exc).__name__}: {exc}"[:200])
            yield PageText(number, tuple(lines))
    finally:
        watchdog.close()
