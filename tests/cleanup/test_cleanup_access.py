"""Access tracking: cheap (debounced per process and across processes), and what LRU reads."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
from synthstore import T0, SynthStore, content, doc_id

from preread.lifecycle import last_used, record_use
from preread.lifecycle.access import DEBOUNCE_SECONDS
from preread.store import Store


def test_at_most_one_write_per_minute_however_many_uses(store: Store) -> None:
    d = doc_id("reading")
    writes = [record_use(store, d, now=T0 + i * 0.5) for i in range(100)]  # 50 s of chunks
    assert writes.count(True) == 1 and writes[0]
    mark = store.access_dir / d
    assert os.stat(mark).st_mtime == T0
    assert record_use(store, d, now=T0 + DEBOUNCE_SECONDS + 1)  # a minute later: written
    assert os.stat(mark).st_mtime == T0 + DEBOUNCE_SECONDS + 1


def test_many_threads_write_once(store: Store) -> None:
    d = doc_id("threads")
    results: list[bool] = []
    lock = threading.Lock()

    def serve() -> None:
        for _ in range(50):
            wrote = record_use(store, d, now=T0 + 5)
            with lock:
                results.append(wrote)

    threads = [threading.Thread(target=serve) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1


def test_another_process_write_is_honoured(store: Store) -> None:
    d = doc_id("shared across workers")
    code = (
        "import sys; from pathlib import Path; from preread.store import Store; "
        "from preread.lifecycle import record_use; "
        "print(record_use(Store(Path(sys.argv[1])), sys.argv[2], now=float(sys.argv[3])))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(store.home), d, str(T0 + 100)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "True"
    # this process never wrote, but the other worker did 10 s ago: no second write
    assert not record_use(store, d, now=T0 + 110)
    assert os.stat(store.access_dir / d).st_mtime == T0 + 100
    assert record_use(store, d, now=T0 + 100 + DEBOUNCE_SECONDS)


def test_last_used_is_the_later_of_use_and_generation(store: Store) -> None:
    synth = SynthStore(store)
    d = doc_id("x")
    assert last_used(store, d) == 0.0
    synth.add_document(d, [content(1)], at=T0)
    assert last_used(store, d) == T0  # generated, never listened to
    record_use(store, d, now=T0 + 500)
    assert last_used(store, d) == T0 + 500


def test_unchecked_ids_are_refused(store: Store) -> None:
    with pytest.raises(ValueError):
        record_use(store, "../../etc/passwd")
