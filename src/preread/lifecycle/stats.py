"""``store_stats``: how big the audio store is, against its limit (``preread stats``,
``GET /api/tts/preprocess/stats``)."""

from __future__ import annotations

from typing import Any

from preread.lifecycle.cleanup import peek_title
from preread.lifecycle.scan import DocumentScan, StoreScan, scan_store
from preread.store import Store


def _document(store: Store, doc: DocumentScan | None) -> dict[str, Any] | None:
    if doc is None:
        return None
    return {
        "documentId": doc.document_id,
        "title": peek_title(store.manifest_path(doc.document_id)),
        "lastUsed": int(doc.last_used),
        "size": doc.bytes,
    }


def stats_from_scan(store: Store, scan: StoreScan, *, max_bytes: int) -> dict[str, Any]:
    documents = [d for d in scan.documents.values() if d.has_manifest]
    by_use = sorted(documents, key=lambda d: (d.last_used, d.document_id))
    return {
        "totalSize": scan.total_bytes,
        "limit": max_bytes,
        "documentsCount": len(documents),
        "oldestDocument": _document(store, by_use[0] if by_use else None),
        "newestDocument": _document(store, by_use[-1] if by_use else None),
        "blobsCount": scan.blobs_count,
        "unreferencedBlobsCount": sum(
            1 for g in scan.blobs.values() if g.audio and not scan.is_referenced(g)
        ),
        "dedupSavedBytes": scan.dedup_saved_bytes,
    }


def store_stats(store: Store, *, max_bytes: int) -> dict[str, Any]:
    """``totalSize`` (bytes on disk, shared blobs once), ``limit``, ``documentsCount``,
    ``oldestDocument`` / ``newestDocument`` (least / most recently used: ``documentId``,
    ``title``, ``lastUsed`` in Unix seconds, ``size``; null when empty), ``blobsCount``,
    ``unreferencedBlobsCount``, ``dedupSavedBytes``."""
    return stats_from_scan(store, scan_store(store), max_bytes=max_bytes)
