"""The link between a library's store and its shared tier (an ``ObjectTier``).

``TierLink`` is the part of ``preread.shared.SharedTier`` that talks to the tier:

- the store's layout as the tier's names (relative to the store's home);
- **writes** are queued and put by one background thread, in order, so a request
  never waits for the bucket; a put that fails is retried with backoff (1 s, 2 s, …
  30 s) until the bucket answers. A blob is put once (content-addressed, never
  replaced); manifests and registrations are put as they are at the moment of the
  put (a manifest merged with the tier's copy: ``merged_manifest``), so a burst of
  changes costs one put;
- **reads** (``_get``) skip the tier for ``cooldown`` s after a failed call: a bucket
  that is down costs one timeout, not one per request;
- ``health()`` (what ``/healthz`` reports) and ``close()``.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from preread.manifest import Manifest
from preread.store import MANIFEST_NAME, Store
from preread.tiers import ObjectTier, TierUnavailable

MAX_BACKOFF = 30.0


def merged_manifest(local: bytes, remote: bytes | None) -> bytes:
    """What to put for a manifest the tier may already have: this instance's, plus the
    chunks only the tier's copy lists as done (same voice, same blocks). Otherwise
    (other settings, other blocks) this instance's, as the latest preprocess decided."""
    if remote is None:
        return local
    try:
        mine, theirs = Manifest.loads(local), Manifest.loads(remote)
    except (ValueError, KeyError, TypeError):
        return local
    same = (
        mine.settings_match(
            theirs.tts_provider, theirs.tts_model, theirs.voice, theirs.native_speed, theirs.format
        )
        and (mine.instructions or None) == (theirs.instructions or None)
        and [(c.index, c.file_name, c.text) for c in mine.chunks]
        == [(c.index, c.file_name, c.text) for c in theirs.chunks]
    )
    if not same:
        return local
    changed = False
    for position, (ours, other) in enumerate(zip(mine.chunks, theirs.chunks, strict=True)):
        if ours.status != "done" and other.status == "done":
            mine.chunks[position] = other
            changed = True
    return mine.dumps() if changed else local


class TierLink:
    def __init__(
        self,
        tier: ObjectTier,
        store: Store,
        *,
        cooldown: float = 5.0,
        claim_ttl: float = 120.0,
        poll: float = 0.2,
    ) -> None:
        self.tier = tier
        self.store = store
        self.cooldown = cooldown
        self.claim_ttl = claim_ttl  # a claim this old is taken over (its maker died)
        self.poll = poll
        self.puts = 0  # objects put (for tests and /healthz)
        self.fetched = 0  # objects fetched into the local store
        # name -> (replace, generation): a name queued again while being put is put again
        self._pending: OrderedDict[str, tuple[bool, int]] = OrderedDict()
        self._generation = 0
        self._cond = threading.Condition()
        self._busy = False
        self._closed = False
        self._down_until = 0.0
        self._backoff = 1.0
        self._last_error: str | None = None
        self._last_error_at: float | None = None
        self._thread: threading.Thread | None = None

    # -- names: the store's layout, relative to its home --------------------------------------
    def _name(self, path: Path) -> str:
        return path.relative_to(self.store.home).as_posix()

    def blob_names(self, key: str, fmt: str) -> tuple[str, str]:
        """(audio, sidecar): the audio first, so a sidecar always describes a whole blob."""
        return (
            self._name(self.store.blob_path(key, fmt)),
            self._name(self.store.blob_path(key, "json")),
        )

    def _enqueue(self, name: str, replace: bool) -> None:
        with self._cond:
            if self._closed:
                return
            self._generation += 1
            before = self._pending.get(name, (False, 0))[0]
            self._pending[name] = (replace or before, self._generation)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="preread-shared-tier", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                name, (replace, generation) = next(iter(self._pending.items()))
                self._busy = True
            try:
                ok = self._put(name, replace)
            finally:
                with self._cond:
                    self._busy = False
                    if ok and self._pending.get(name, (False, -1))[1] == generation:
                        del self._pending[name]
                    self._cond.notify_all()
            if not ok:
                with self._cond:
                    self._cond.wait(self._backoff)  # close() wakes it
                self._backoff = min(MAX_BACKOFF, self._backoff * 2)

    def _put(self, name: str, replace: bool) -> bool:
        """One put; False when the tier failed (the item stays queued)."""
        try:
            data = (self.store.home / name).read_bytes()
        except FileNotFoundError:
            return True  # removed locally meanwhile (evicted, deleted): nothing to share
        try:
            if name.endswith(MANIFEST_NAME):
                data = merged_manifest(data, self.tier.get(name))
            if self.tier.put(name, data, replace=replace):
                self.puts += 1
        except TierUnavailable as exc:
            self._failed(exc)
            return False
        self._backoff = 1.0
        self._down_until = 0.0
        return True

    def _failed(self, exc: Exception) -> None:
        self._last_error = str(exc)[:300]
        self._last_error_at = time.time()
        self._down_until = time.monotonic() + self.cooldown

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued write is put; False if some are still pending."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.1))
        return True

    def _get(self, name: str) -> bytes | None:
        if time.monotonic() < self._down_until:
            return None
        try:
            return self.tier.get(name)
        except TierUnavailable as exc:
            self._failed(exc)
            return None

    # -- state --------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        with self._cond:
            pending = len(self._pending)
        down = time.monotonic() < self._down_until
        return {
            "kind": self.tier.kind,
            "where": self.tier.describe(),
            "state": "unreachable" if down else "ok",
            "pendingWrites": pending,
            "puts": self.puts,
            "fetched": self.fetched,
            "lastError": self._last_error,
            "lastErrorAt": self._last_error_at,
        }

    def close(self, timeout: float = 2.0) -> None:
        """Put what is queued (for up to ``timeout``), then stop the writer."""
        if time.monotonic() >= self._down_until:
            self.flush(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
        self.tier.close()
