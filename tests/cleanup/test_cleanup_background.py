"""The server's background cleaner: debounced, in a worker thread, after writes."""

from __future__ import annotations

import time

from synthstore import T0, SynthStore, content, disk_usage, doc_id

from preread.lifecycle import BackgroundCleaner, scan_store
from preread.settings import Settings
from preread.store import Store

DAY = 86400.0


def test_cleans_in_the_background_once_writes_cross_the_limit(store: Store) -> None:
    synth = SynthStore(store)
    for n in range(4):
        synth.add_document(doc_id(n), [content(f"{n}-{i}") for i in range(3)], at=T0 + n * DAY)
    total = scan_store(store).total_bytes
    limit = total + 4096
    settings = Settings(home=store.home, max_bytes=limit, pin_minutes=0)
    cleaner = BackgroundCleaner(store, settings, debounce=0.05, interval=None, grace_seconds=0)
    try:
        assert cleaner.wait_for_runs(1, 10)  # the check at start: under the limit
        assert cleaner.last_report is not None and not cleaner.last_report.did_something
        assert cleaner.estimated_size == total

        cleaner.notify_written(1000)  # still under: nothing scheduled
        time.sleep(0.3)
        assert cleaner.runs == 1

        synth.add_document(doc_id("new"), [content("new", pages=3)], at=T0 + 10 * DAY)
        for _ in range(5):  # a burst of writes: one cleanup
            cleaner.notify_written(3 * 4096)
        assert cleaner.wait_for_runs(2, 10)
        time.sleep(0.3)
        assert cleaner.runs == 2
        report = cleaner.last_report
        assert report is not None
        assert [r.document_id for r in report.removed] == [doc_id(0)]
        assert disk_usage(store.home) <= limit
        assert cleaner.estimated_size == disk_usage(store.home)
    finally:
        cleaner.close()
    assert not cleaner._thread.is_alive()


def test_periodic_check_catches_other_writers(store: Store) -> None:
    synth = SynthStore(store)
    settings = Settings(home=store.home, max_bytes=10_000, pin_minutes=0)
    cleaner = BackgroundCleaner(store, settings, debounce=0.0, interval=0.2, grace_seconds=0)
    try:
        assert cleaner.wait_for_runs(1, 10)
        synth.add_document(doc_id(1), [content(1, pages=4)], at=T0)  # another process wrote
        assert cleaner.wait_for_runs(3, 10)
        assert store.cached_ids() == set()
    finally:
        cleaner.close()
