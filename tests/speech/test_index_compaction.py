"""The speech index drops the lines of evicted blobs, and never loses a concurrent append."""

from __future__ import annotations

import threading
from pathlib import Path

from preread.manifest import SentenceTime
from preread.speech.index import SpeechIndex, compact, entry_json, index_path, record
from preread.store import Store


def _store_blob(store: Store, n: int) -> str:
    key = f"{n:064x}"
    text = f"Sentence number {n} is stored."
    path = store.blob_path(key, "mp3")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"audio %d" % n)  # only whether it is there matters here
    record(store, entry_json(key, "mp3", "v", 1.0, [SentenceTime(text, 0.0, 1.0)]))
    return key


def _keys(path: Path) -> list[str]:
    index = SpeechIndex(path)
    index.refresh()
    return [b.key for b in index.blobs]


def test_compaction_drops_only_evicted_blobs(tmp_path: Path) -> None:
    store = Store(tmp_path)
    keys = [_store_blob(store, n) for n in range(6)]
    reader = SpeechIndex(index_path(store))
    reader.refresh()
    for key in keys[::2]:
        store.blob_path(key, "mp3").unlink()
    with index_path(store).open("ab") as f:
        f.write(b'{"key": "torn')  # a writer killed mid-line
    assert compact(store) == (3, 4)
    assert _keys(index_path(store)) == keys[1::2]
    reader.refresh()  # a rewritten index (new file) is read again whole
    assert [b.key for b in reader.blobs] == keys[1::2]
    assert compact(store) == (3, 0)  # nothing stale: left as it is


def test_appends_during_compaction_are_kept(tmp_path: Path) -> None:
    store = Store(tmp_path)
    old = [_store_blob(store, n) for n in range(40)]
    for key in old:
        store.blob_path(key, "mp3").unlink()
    added: list[str] = []

    def append() -> None:
        added.extend(_store_blob(store, 1000 + n) for n in range(60))

    writer = threading.Thread(target=append)
    writer.start()
    dropped = 0
    while writer.is_alive():
        dropped += compact(store)[1]
    writer.join()
    dropped += compact(store)[1]
    assert dropped == 40
    assert _keys(index_path(store)) == added
