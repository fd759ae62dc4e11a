"""The EPUB walk compiled by mypyc reads like its sources, and is not used once they change.

``make test`` builds the compiled modules (``build_compiled.py``) and sets
``PREREAD_EXPECT_COMPILED=1``: this run then reads through them, and the first test
compares them with the ``.py`` files (``PREREAD_PURE=1``) on the same books.
"""

from __future__ import annotations

import importlib.machinery
import os
import shutil
import subprocess
import sys
from pathlib import Path

from preread.readers import COMPILED, compiled

HERE = Path(__file__).resolve().parent

READ_SAMPLES = f"""
import pickle
import sys
sys.path.insert(0, {str(HERE)!r})
from epubmaker import epub, xhtml
from preread.readers import COMPILED, ReadOptions, read_document
from preread.readers.epub import extract_epub
import preread.readers.walk

chapter = (
    "<h1>Chapter 1</h1><h2>Part 1</h2>"
    "<p>The keeper <em>climbed</em> the stair.<a epub:type='noteref' id='r1' "
    "href='notes.xhtml#n1'>1</a> It was late. Was it?</p>"
    "<img src='cover.jpg' alt='A lamp'/><pre><code>for x in range(3):\\n    print(x)</code></pre>"
    "<aside epub:type='footnote' id='f2'><p>An aside&#160;note.</p></aside>"
    "<ul><li>One &amp; two</li><li>Three</li></ul><blockquote><p>Quoted.</p></blockquote>"
)
notes = xhtml("<h1>Notes</h1><ol><li id='n1' epub:type='endnote'><p>A note.</p></li></ol>")
nav = xhtml("<nav epub:type='toc'><ol><li><a href='ch1.xhtml'>Chapter 1</a></li></ol></nav>")
book = epub({{"nav.xhtml": nav, "ch1.xhtml": xhtml(chapter), "notes.xhtml": notes}},
            ["nav.xhtml", "ch1.xhtml", "notes.xhtml"], nav="nav.xhtml")
html = ("<html><body><h1>Title</h1><p>Some <b>bold</b> text.<sup><a href='#fn1'>1</a></sup>"
        "</p><p id='fn1'>1. The note.</p></body></html>").encode()
print(COMPILED, preread.readers.walk.__file__.endswith(".py"))
for options in (ReadOptions(), ReadOptions(code=True, alt_text=True)):
    print(repr(extract_epub(book, "a.epub", options)))
    print(repr(read_document(book, name="a.epub", options=options)))
    print(repr(read_document(html, name="a.html", options=options)))
# what is handed to another process (pickled) comes back the same either way
handed = (ReadOptions(code=True), extract_epub(book, "b", ReadOptions()))
print(repr(pickle.loads(pickle.dumps(handed))))
print(repr(read_document(b"# Title\\n\\nA [link](#x) and *text*.[^1]\\n\\n[^1]: A note.\\n",
                         name="a.md")))
"""


def _read(pure: str) -> list[str]:
    environment = {**os.environ, "PREREAD_PURE": pure}
    done = subprocess.run(
        [sys.executable, "-c", READ_SAMPLES],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.splitlines()


def test_compiled_and_source_read_the_same_text() -> None:
    pure, default = _read("1"), _read("0")
    assert pure[0] == "pure True"
    if os.environ.get("PREREAD_EXPECT_COMPILED") == "1":
        assert default[0] == "compiled False"
    assert len(pure) == 9 and "A note." in pure[1] and "Quoted." in pure[1]
    assert pure[1:] == default[1:]


def test_this_run_uses_the_build_make_test_made() -> None:
    if os.environ.get("PREREAD_EXPECT_COMPILED") == "1":
        assert COMPILED == "compiled"
        assert compiled.state() == "compiled"


def test_a_build_is_stale_once_a_source_changes(tmp_path: Path) -> None:
    for name in compiled.MODULES:
        shutil.copyfile(compiled.HERE / f"{name}.py", tmp_path / f"{name}.py")
    assert compiled.state(tmp_path) == "pure"  # nothing built
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    (tmp_path / f"walk{suffix}").write_bytes(b"\x7fELF")
    assert compiled.state(tmp_path) == "stale"  # built, no digest recorded
    (tmp_path / compiled.DIGEST_FILE).write_text(compiled.source_digest(tmp_path) + "\n")
    assert compiled.state(tmp_path) == "compiled"
    with (tmp_path / "notes.py").open("a") as source:
        source.write("# edited\n")
    assert compiled.state(tmp_path) == "stale"
