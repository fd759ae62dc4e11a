"""Mutated EPUBs: the reader answers with blocks or one BadDocument line, nothing else.

Two kinds of mutation, bounded (hypothesis, a few dozen examples each): bytes of the
whole archive flipped, cut or inserted (mostly damaged zips), and the files inside a
well-formed zip mutated before zipping (damaged XML, OPF, navigation, XHTML).
"""

from __future__ import annotations

import io
import zipfile

import pytest
from epubmaker import zip_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_epub import epub2, epub3

from preread.errors import BadDocument, BadInput
from preread.model import DocumentText
from preread.readers import read_document

BOOKS = {"epub3": epub3(), "epub2": epub2()}


def _files(book: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(book)) as archive:
        return {n: archive.read(n) for n in archive.namelist() if n != "mimetype"}


FILES = {key: _files(book) for key, book in BOOKS.items()}


def check(data: bytes) -> None:
    try:
        document = read_document(data, name="fuzz.epub")
    except BadInput as exc:  # BadDocument, PayloadTooLarge: one clear line
        assert exc.message and "\n" not in exc.message
        return
    assert isinstance(document, DocumentText) and document.blocks
    for index, block in enumerate(document.blocks):
        assert block.index == index and 1 <= block.page <= document.pages
        assert 0 < len(block.text) <= 450 and block.text == " ".join(block.sentences)
    assert all(1 <= c.page <= document.pages for c in document.chapters)


EDIT = st.tuples(
    st.integers(min_value=0), st.sampled_from(["flip", "cut", "insert"]), st.binary(max_size=8)
)


def _mutate(data: bytes, edits: list[tuple[int, str, bytes]]) -> bytes:
    out = bytearray(data)
    for position, kind, chunk in edits:
        at = position % max(1, len(out))
        if kind == "flip" and out:
            out[at] ^= 0xFF
        elif kind == "cut":
            del out[at : at + 1 + len(chunk) * 8]
        else:
            out[at:at] = chunk
    return bytes(out)


def test_a_zip_needing_a_newer_version_is_a_damaged_archive() -> None:
    book = bytearray(BOOKS["epub3"])
    central = book.find(b"PK\x01\x02")
    book[central + 6 : central + 8] = (235).to_bytes(2, "little")  # "version 23.5 needed"
    with pytest.raises(BadDocument, match=r"fuzz.epub is a damaged zip archive"):
        read_document(bytes(book), name="fuzz.epub")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(BOOKS)), st.lists(EDIT, min_size=1, max_size=6))
def test_mutated_archives(key: str, edits: list[tuple[int, str, bytes]]) -> None:
    check(_mutate(BOOKS[key], edits))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(sorted(BOOKS)),
    st.data(),
    st.lists(EDIT, min_size=1, max_size=4),
)
def test_mutated_files_in_a_good_zip(key: str, data: st.DataObject, edits: list) -> None:
    files = dict(FILES[key])
    target = data.draw(st.sampled_from(sorted(files)))
    if data.draw(st.booleans()):
        files[target] = _mutate(files[target], edits)
    else:
        del files[target]
    check(zip_files(files))
