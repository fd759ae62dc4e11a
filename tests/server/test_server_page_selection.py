"""A page selection chooses what is generated, never what the store knows of a document.

Through the CLI (``preprocess --pages``), then a real ``preread serve`` process asked
for a chunk of another page; and the repair of a registration an older version
shortened, by uploading the same PDF again.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from liveserver import running_server
from preread.cli import main
from preread.ids import document_id_of_file
from preread.pdf import read_document
from preread.preprocess import run_preprocess
from preread.settings import VoiceSettings
from preread.store import WHOLE_KEY, Store
from preread.tts.fake import FakeProvider

pytestmark = pytest.mark.slow

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample.pdf"
FAKE = VoiceSettings(provider="fake")


def cli_flags(home: Path) -> list[str]:
    return ["--home", str(home), "--provider", "fake", "--quiet"]


def chunk(base: str, document_id: str, page: int, block: int) -> httpx.Response:
    return httpx.get(
        f"{base}/api/tts/chunk",
        params={"documentId": document_id, "page": page, "blockIndex": block},
        timeout=30,
    )


def test_cli_pages_registers_the_whole_document(home: Path) -> None:
    code = main(["preprocess", str(SAMPLE), "--pages", "1", *cli_flags(home)])
    assert code == 0
    store = Store(home)
    document_id = document_id_of_file(SAMPLE)
    whole = read_document(SAMPLE)
    registered = store.read_registration(document_id)
    assert registered is not None and registered.blocks == whole.blocks
    assert {b.page for b in registered.blocks} == {1, 2, 3}
    manifest = store.require_manifest(document_id)
    assert {c.page for c in manifest.chunks if c.status == "done"} == {1}
    with running_server(home) as (base, _):
        other = chunk(base, document_id, 3, 0)
        assert other.status_code == 200, other.text
        assert other.headers["x-cache"] == "MISS" and len(other.content) > 1000
        made = chunk(base, document_id, 1, 0)
        assert made.status_code == 200 and made.headers["x-cache"] == "HIT"
        again = chunk(base, document_id, 3, 0)  # stored by the live fill
        assert again.status_code == 200 and again.headers["x-cache"] == "HIT"
    stored = Store(home).require_manifest(document_id).chunk_at(3, 0)
    assert stored is not None and stored.status == "done"


def test_reupload_repairs_a_registration_an_older_version_shortened(home: Path) -> None:
    store = Store(home)
    document_id = document_id_of_file(SAMPLE)
    # what `preprocess --pages 2` left before this fix: only page 2's blocks, renumbered
    # from 0, registered without the whole-document mark, and a manifest of those blocks
    short = read_document(SAMPLE, pages="2")
    assert [b.index for b in short.blocks] == list(range(len(short.blocks)))
    run_preprocess(store, FakeProvider(), short, FAKE, source=SAMPLE)
    path = store.registration_dir(document_id) / "document.json"
    path.write_text(json.dumps(short.to_json()), encoding="utf-8")
    assert not store.registration_is_whole(document_id)
    before = store.require_manifest(document_id)
    page_two = {c.block_index: c.sha256 for c in before.chunks if c.page == 2}
    assert before.count("done") == len(before.chunks) == len(page_two)

    with running_server(home) as (base, _):
        assert chunk(base, document_id, 3, 0).status_code == 404  # the shortened registration
        upload = httpx.post(f"{base}/api/documents", content=SAMPLE.read_bytes(), timeout=30)
        assert upload.status_code == 200, upload.text
        whole = read_document(SAMPLE)
        assert upload.json()["blocks"] == len(whole.blocks)
        assert store.registration_is_whole(document_id)
        registered = store.read_registration(document_id)
        assert registered is not None and registered.blocks == whole.blocks
        other = chunk(base, document_id, 3, 0)
        assert other.status_code == 200 and other.headers["x-cache"] == "MISS"
        kept = chunk(base, document_id, 2, 0)  # page 2's audio survived the renumbering
        assert kept.status_code == 200 and kept.headers["x-cache"] == "HIT"
        assert kept.headers["etag"] == f'"{page_two[0]}"'
        again = httpx.post(f"{base}/api/documents", content=SAMPLE.read_bytes(), timeout=30)
        assert again.status_code == 200

    after = store.require_manifest(document_id)
    assert [c.index for c in after.chunks] == [b.index for b in whole.blocks]
    assert {c.block_index: c.sha256 for c in after.chunks if c.page == 2} == page_two
    assert json.loads(path.read_bytes())[WHOLE_KEY] is True


def test_a_bad_page_selection_is_refused_before_any_work(home: Path) -> None:
    code = main(["preprocess", str(SAMPLE), "--pages", "9", *cli_flags(home)])
    assert code == 2
    assert not Store(home).known_ids()
