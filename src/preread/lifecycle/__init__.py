"""The cache lifecycle: access tracking, store scans, LRU cleanup, stats, background cleaner.

Public API::

    record_use(store, document_id, *, now=None) -> bool     # on every chunk served/generated
    last_used(store, document_id) -> float
    scan_store(store) -> StoreScan
    run_cleanup(store, *, max_bytes, older_than=None, pin_minutes, dry_run=False,
                now=None, grace_seconds=600.0) -> CleanupReport
    store_stats(store, *, max_bytes) -> dict
    evict_document(store, document_id, *, pin_before, fresh_after, scan=None) -> Eviction
    delete_document(store, document_id) -> Eviction          # explicit delete: no pins
    BackgroundCleaner(store, settings, *, debounce=5.0, interval=600.0)
        .notify_written(nbytes) / .request() / .close()
"""

from preread.lifecycle.access import last_used, record_use
from preread.lifecycle.background import BackgroundCleaner
from preread.lifecycle.cleanup import (
    ANOTHER_RUNNING,
    GRACE_SECONDS,
    CleanupReport,
    KeptDocument,
    RemovedDocument,
    run_cleanup,
)
from preread.lifecycle.evict import Eviction, delete_document, evict_document
from preread.lifecycle.scan import StoreScan, scan_store
from preread.lifecycle.stats import store_stats

__all__ = [
    "ANOTHER_RUNNING",
    "GRACE_SECONDS",
    "BackgroundCleaner",
    "CleanupReport",
    "Eviction",
    "KeptDocument",
    "RemovedDocument",
    "StoreScan",
    "delete_document",
    "evict_document",
    "last_used",
    "record_use",
    "run_cleanup",
    "scan_store",
    "store_stats",
]
