"""When was a document last used: one empty file per document whose mtime is the answer.

``record_use`` is called for every chunk served, every pre-generation and every live
generation, so it must be cheap: it writes to disk at most once per document per
``DEBOUNCE_SECONDS`` in a process (an in-memory memo), and skips the write when another
process (another server worker, the CLI) already touched the file within that window
(the file's mtime is the shared memo). The write itself is a ``utime`` on an empty file,
so there is nothing that could be left half written.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time

from preread.ids import is_full_id
from preread.store import Store

DEBOUNCE_SECONDS = 60.0
_MEMO_LIMIT = 100_000

_memo: dict[tuple[str, str], float] = {}
_memo_lock = threading.Lock()


def _checked(document_id: str) -> str:
    if not is_full_id(document_id):
        raise ValueError(f"unchecked document id reached access tracking: {document_id[:80]!r}")
    return document_id


def _recent(t: float, stamp: float) -> bool:
    return 0.0 <= t - stamp < DEBOUNCE_SECONDS


def record_use(store: Store, document_id: str, *, now: float | None = None) -> bool:
    """Mark ``document_id`` as used at ``now`` (default: the current time).

    Returns True when this call wrote to disk, False when debounced. Thread-safe.
    """
    t = time.time() if now is None else now
    key = (str(store.access_dir), _checked(document_id))
    with _memo_lock:
        last = _memo.get(key)
        if last is not None and _recent(t, last):
            return False
        if len(_memo) >= _MEMO_LIMIT:
            _memo.clear()
        _memo[key] = t  # claim the write: other threads of this process now skip
    path = store.access_dir / document_id
    try:
        stamp = os.stat(path).st_mtime
    except FileNotFoundError:
        stamp = None
    if stamp is not None and _recent(t, stamp):
        with _memo_lock:
            _memo[key] = stamp  # another process wrote it: trust its stamp
        return False
    try:
        os.utime(path, (t, t))
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o644))
        os.utime(path, (t, t))
    return True


def last_used(store: Store, document_id: str) -> float:
    """When the document was last used: its access mark, or when its manifest was written.

    Pre-generating and live generation write the manifest, so a document nobody has
    listened to counts as used when it was made. 0.0 when the store knows nothing of it.
    """
    stamps = [0.0]
    for path in (store.access_dir / _checked(document_id), store.manifest_path(document_id)):
        with contextlib.suppress(FileNotFoundError):
            stamps.append(os.stat(path).st_mtime)
    if len(stamps) == 1:
        with contextlib.suppress(FileNotFoundError):
            stamps.append(os.stat(store.doc_dir(document_id)).st_mtime)
    return max(stamps)


def forget(store: Store, document_id: str) -> None:
    """Remove the access mark (after the document's audio was removed)."""
    key = (str(store.access_dir), document_id)
    with _memo_lock:
        _memo.pop(key, None)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(store.access_dir / _checked(document_id))
