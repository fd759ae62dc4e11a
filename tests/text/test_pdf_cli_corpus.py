"""``preread blocks`` through ``preread.cli.main``, and every corpus file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from preread.cli import main
from preread.errors import BadDocument
from preread.pdf import MAX_BLOCK, read_document

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "sample.pdf"


def test_blocks_json_shape(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["blocks", str(SAMPLE), "--json"]) == 0
    out = capsys.readouterr()
    data = json.loads(out.out)
    assert isinstance(data, list) and data
    for i, item in enumerate(data):
        assert set(item) == {"index", "page", "blockIndex", "text", "sentences", "language"}
        assert item["language"] == "en"
        assert item["index"] == i
        assert item["text"] == " ".join(item["sentences"])
        assert len(item["text"]) <= MAX_BLOCK
    assert {item["page"] for item in data} == {1, 2, 3}
    assert not any("Page 1 of 3" in item["text"] for item in data)
    assert not any("A Short Walk" in item["text"] for item in data)  # running header
    assert any("keepers who lived here" in item["text"] for item in data)  # hyphenation


def test_blocks_pages_selection(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["blocks", str(SAMPLE), "--pages", "2-3", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {item["page"] for item in data} == {2, 3}
    assert data[0]["index"] == 0 and data[0]["blockIndex"] == 0


def test_blocks_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["blocks", str(SAMPLE), "--pages", "1"]) == 0
    out = capsys.readouterr().out
    assert "A Short Walk to the Lighthouse" in out  # the title line
    assert "The lighthouse stands" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["blocks", "/nonexistent/file.pdf"], "no such file"),
        (["blocks", str(SAMPLE), "--pages", "9"], "beyond the document"),
        (["blocks", str(SAMPLE), "--pages", "x-y"], "bad --pages"),
        (["blocks", "{binary}"], "not a document preread reads (PDF, EPUB, Markdown, HTML"),
    ],
)
def test_blocks_errors_are_one_line_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    binary = tmp_path / "image.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert main([a.replace("{binary}", str(binary)) for a in args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("preread: error: ")
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_every_corpus_file_gives_blocks_or_a_clear_error(corpus: Path) -> None:
    rows = []
    for pdf in sorted(corpus.glob("*.pdf")):
        try:
            doc = read_document(pdf)
        except BadDocument as exc:
            assert str(exc) and "\n" not in str(exc)
            rows.append(f"{pdf.name}: error: {exc}")
            continue
        assert doc.blocks
        assert doc.warnings == ()  # no page skipped (pytest turns library warnings into errors)
        assert all(len(b.text) <= MAX_BLOCK for b in doc.blocks)
        rows.append(f"{pdf.name}: {doc.pages} pages, {len(doc.blocks)} blocks, {doc.title!r}")
    print("\n" + "\n".join(rows))
    assert len(rows) == len(list(corpus.glob("*.pdf")))


def test_corpus_password_file(corpus: Path) -> None:
    pdf = corpus / "libreoffice-writer-password.pdf"
    if not pdf.exists():
        pytest.skip("no password sample")
    with pytest.raises(BadDocument, match="--password"):
        read_document(pdf)
    assert read_document(pdf, password="openpassword").blocks


def test_blocks_by_stored_document_id(
    home: Path, store: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from preread.store import Store

    assert isinstance(store, Store)
    document = read_document(SAMPLE)
    store.register(document, SAMPLE)
    prefix = document.document_id[:10]
    assert main(["blocks", prefix, "--home", str(home), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [b["text"] for b in data] == [b.text for b in document.blocks]
    assert main(["blocks", "0123456789abcdef", "--home", str(home)]) == 2
    assert "no document" in capsys.readouterr().err


def test_repeated_body_text_is_not_taken_for_running_lines(corpus: Path) -> None:
    # pdflatex-4-pages.pdf is blind text repeated: the same body lines fall near the
    # edges of several pages. Every word must be spoken; only the page numbers go.
    from pypdf import PdfReader

    pdf = corpus / "pdflatex-4-pages.pdf"
    if not pdf.exists():
        pytest.skip("no pdflatex-4-pages.pdf")
    expected: list[str] = []
    for number, page in enumerate(PdfReader(pdf).pages, start=1):
        lines = page.extract_text().splitlines()
        assert lines[-1].strip() == str(number)  # the page number, alone on the last line
        expected.extend(" ".join(lines[:-1]).split())
    spoken = " ".join(b.text for b in read_document(pdf).blocks).split()
    assert spoken == expected


def test_blocks_of_a_stored_encrypted_document_need_no_password(
    corpus: Path, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 'preprocess DOC-ID' speaks the registration; 'blocks DOC-ID' shows the same blocks
    # (it used to read the stored, encrypted PDF again and ask for the password).
    from preread.store import Store

    pdf = corpus / "libreoffice-writer-password.pdf"
    if not pdf.exists():
        pytest.skip("no password sample")
    document = read_document(pdf, password="openpassword")
    Store(home).register(document, pdf)
    prefix = document.document_id[:8]
    assert main(["blocks", prefix, "--home", str(home), "--json", "--pages", "1"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [b["text"] for b in data] == [b.text for b in document.blocks]
    assert main(["blocks", prefix, "--home", str(home), "--pages", "2"]) == 2
    assert "beyond the document's 1 page\n" in capsys.readouterr().err
